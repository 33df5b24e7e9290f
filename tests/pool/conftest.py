"""Pool tests: every test that spawns workers shuts them down and leaves /dev/shm as it found it."""

import os
import time

import pytest


def shm_segments() -> set:
    """Shared-memory segments as multiprocessing names them (psm_*)."""
    try:
        return {n for n in os.listdir("/dev/shm") if n.startswith("psm_")}
    except FileNotFoundError:
        return set()


def new_segments(before: set, settle=3.0) -> set:
    """Segments that appeared since `before` and stay (other processes' come and go)."""
    deadline = time.monotonic() + settle
    while True:
        extra = shm_segments() - before
        if not extra or time.monotonic() > deadline:
            return extra
        time.sleep(0.1)


@pytest.fixture
def workers(monkeypatch):
    """workers(n, throttle=None, max_retries=None) spawns a pool; teardown shuts it down and
    checks that /dev/shm holds no new segment."""
    from seamless_transformer import shutdown_workers, spawn

    before = shm_segments()

    def start(n, throttle=None, max_retries=None):
        if throttle is not None:
            monkeypatch.setenv("SEAMLESS_WORKER_TRANSFORMATION_THROTTLE", str(throttle))
        if max_retries is not None:
            monkeypatch.setenv("SEAMLESS_WORKER_MAX_RETRIES", str(max_retries))
        spawn(n)

    yield start
    shutdown_workers(wait=False)
    assert new_segments(before) == set()


@pytest.fixture(name="shm_listing")
def shm_listing_fixture():
    """(shm_segments, new_segments)."""
    return shm_segments, new_segments
