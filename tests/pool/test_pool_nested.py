"""Nested transformations inside workers are delegated to the parent (SPEC §8.5, bug 25)."""

import os

from seamless_transformer import delayed


@delayed
def outer(n):
    from seamless_transformer import delayed

    inner = delayed("n * 10")
    return inner(n=n).run() + 1


def test_nested_transformation_gives_the_right_value(workers):
    workers(2)
    assert outer(4).run() == 41


def _depth_code():
    return '''def depth(level):
    import os
    from seamless_transformer import delayed
    if level == 0:
        return [os.getpid()]
    here = delayed(depth_code)
    here.globals.depth_code = depth_code
    return here(level=level - 1).run() + [os.getpid()]
'''


def test_nested_depth_three_completes_on_one_worker_with_throttle_one(workers):
    workers(1, throttle=1)
    tf = delayed(_depth_code())
    tf.globals.depth_code = _depth_code()
    pids = tf(level=3).run()
    assert len(pids) == 4 and len(set(pids)) == 1 and pids[0] != os.getpid()


def test_nested_transformation_runs_on_the_idle_worker(workers):
    workers(2, throttle=1)

    @delayed
    def parent_and_child(x):
        import os

        from seamless_transformer import delayed

        child = delayed("__import__('os').getpid()")
        return [os.getpid(), child(x=x).run()]

    mine, nested = parent_and_child(1).run()
    assert mine != nested
    assert os.getpid() not in (mine, nested)
