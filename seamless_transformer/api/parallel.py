"""Run many transformations with a bound on how many are in flight.

Transformations are started as slots free up and yielded in input order. Finished
transformations that wait for an earlier one to be yielded do not hold a slot, but at most
`4 × nparallel` of them are held back, so memory stays bounded on long inputs.
"""

import asyncio
import sys
import threading
from collections import deque


def _bound(nparallel):
    if nparallel is None:
        from ..config import get_nparallel

        nparallel = get_nparallel()
    nparallel = int(nparallel)
    if nparallel < 1:
        raise ValueError("nparallel must be at least 1")
    return nparallel


def _progress(show_progress, total):
    if show_progress is None:
        show_progress = sys.stderr.isatty()
    if not show_progress:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, file=sys.stderr, unit="tf")


def parallel(tfs, nparallel=None, show_progress=None):
    """Yield the transformations of `tfs`, computed, in input order."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("parallel() cannot be called from within a running event loop; use parallel_async()")
    return _parallel(iter(tfs), _bound(nparallel), show_progress, tfs)


def _parallel(source, nparallel, show_progress, original):
    total = len(original) if hasattr(original, "__len__") else None
    bar = _progress(show_progress, total)
    changed = threading.Condition()
    window = deque()  # started, not yet yielded, in input order
    running = [0]

    def on_done(_fut):
        with changed:
            running[0] -= 1
            changed.notify_all()

    exhausted = False
    try:
        while True:
            while not exhausted and len(window) < 4 * nparallel:  # started outside the lock:
                with changed:  # a finishing transformation must not wait for the next start
                    if running[0] >= nparallel:
                        break
                    running[0] += 1
                tf = next(source, None)
                if tf is None:
                    exhausted = True
                    on_done(None)
                    break
                window.append(tf)
                tf.start()._future.add_done_callback(on_done)
            with changed:
                if not window:
                    return
                head = window[0]
                if not head._future.done():
                    changed.wait(0.5)
                    continue
            window.popleft()
            if bar is not None:
                bar.update(1)
            yield head
    finally:
        if bar is not None:
            bar.close()


async def parallel_async(tfs, nparallel=None, show_progress=None):
    """Async iterator version of `parallel`."""
    nparallel = _bound(nparallel)
    bar = _progress(show_progress, len(tfs) if hasattr(tfs, "__len__") else None)
    semaphore = asyncio.Semaphore(nparallel)
    pending = deque()

    async def one(tf):
        async with semaphore:
            try:
                await tf._computation()  # no flush per transformation
            except Exception:  # noqa: BLE001 - the caller inspects tf.exception
                pass
        return tf

    async def oldest():
        done = await pending.popleft()
        if bar is not None:
            bar.update(1)
        return done

    try:
        for tf in tfs:
            pending.append(asyncio.ensure_future(one(tf)))
            while len(pending) >= 4 * nparallel:
                yield await oldest()
        while pending:
            yield await oldest()
    finally:
        if bar is not None:
            bar.close()
