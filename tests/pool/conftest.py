"""Pool tests: every test that spawns workers shuts them down and leaves /dev/shm as it found it."""

import os

import pytest


def shm_segments() -> set:
    """Our shared-memory segments (multiprocessing names them psm_*)."""
    try:
        return {n for n in os.listdir("/dev/shm") if n.startswith("psm_")}
    except FileNotFoundError:
        return set()


@pytest.fixture
def workers(monkeypatch):
    """workers(n, throttle=None) spawns a pool; teardown shuts it down and checks /dev/shm."""
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
    assert shm_segments() - before == set()


@pytest.fixture(name="shm_listing")
def shm_listing_fixture():
    """The function listing our /dev/shm segments."""
    return shm_segments
