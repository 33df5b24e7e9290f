"""Real Dask for the Dask backend's tests: one LocalCluster per module, a scheduler plugin that
counts the seamless tasks the scheduler receives, and the client installed per test."""

import pytest


def _plugin_base():
    try:
        from distributed.diagnostics.plugin import SchedulerPlugin
    except ImportError:
        pytest.fail("distributed is not installed: pip install -e '.[test]'")
    return SchedulerPlugin


class TaskCounter(_plugin_base()):
    """A scheduler plugin: how many seamless-tf-* tasks the scheduler was given."""

    name = "seamless-task-counter"

    def __init__(self):
        self.keys = []
        self.updates = 0  # graph updates that brought seamless tasks

    def update_graph(self, scheduler, *, keys=(), **kwargs):
        ours = [k for k in keys if isinstance(k, str) and k.startswith("seamless-tf-")]
        self.keys += ours
        self.updates += bool(ours)


def start_cluster(**kwargs):
    from distributed import Client, LocalCluster

    cluster = LocalCluster(processes=True, dashboard_address=":0", **kwargs)
    client = Client(cluster, set_as_default=False)
    counter = TaskCounter()
    cluster.scheduler.add_plugin(counter)
    return cluster, client, counter


def _running(**kwargs):
    cluster, client, counter = start_cluster(**kwargs)
    try:
        yield cluster, client, counter
    finally:
        client.close()
        cluster.close()


@pytest.fixture(scope="module")
def cluster2():
    """LocalCluster(n_workers=2, processes=True): (cluster, client, counter)."""
    yield from _running(n_workers=2, threads_per_worker=2)


@pytest.fixture(scope="module")
def cluster1():
    """LocalCluster(n_workers=1, threads_per_worker=1): (cluster, client, counter)."""
    yield from _running(n_workers=1, threads_per_worker=1)


@pytest.fixture
def on_dask(cluster2, tmp_path, monkeypatch):
    """Transformations of this test run on cluster2, with a cache directory the workers share."""
    from seamless_transformer import set_dask_client

    monkeypatch.setenv("SEAMLESS_CACHE", str(tmp_path / "shared-cache"))
    set_dask_client(cluster2[1])
    yield cluster2
    set_dask_client(None)
