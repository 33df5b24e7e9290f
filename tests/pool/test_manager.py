"""The parent side of the pool (pool/manager.py), below spawn()."""

from seamless_transformer.pool.manager import Pool


def test_a_pool_whose_start_never_ran_closes_without_error():
    # spawn() closes the pool when start() fails, possibly before the I/O thread was started;
    # that close must not replace the start-up error with one of its own
    pool = Pool(1)
    pool.close(wait=False)
    assert pool.closing
