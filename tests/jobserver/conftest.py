"""A real seamless-jobserver 0.3.0 (from upstream's own venv) with a real hashserver and
seamless-database, all on 127.0.0.1, started once per test module.

The jobserver learns which servers to use from its status file ("parameters": the
SEAMLESS_REMOTE_CLIENTS shape, read with `remote_url`), as upstream's launcher hands them over.
"""

import json
import os
import pathlib
import sys
from dataclasses import dataclass

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "interop"))

from upstream_servers import _Servers, executable, upstream_env, upstream_venv  # noqa: E402


@dataclass
class Cluster:
    hashserver: str
    database: str
    jobserver: str
    hs_dir: pathlib.Path
    jobserver_log: pathlib.Path

    def yaml(self, jobserver=None) -> str:
        """seamless.yaml selecting this cluster with `remote: jobserver`."""
        return ("- clusters:\n    shared:\n      frontends:\n"
                f"        - hashserver: {{url: \"{self.hashserver}\"}}\n"
                f"          database: {{url: \"{self.database}\"}}\n"
                f"          jobserver: {{url: \"{jobserver or self.jobserver}\"}}\n"
                "- cluster: shared\n- execution: remote\n- remote: jobserver\n")

    def received(self) -> str:
        """What the jobserver printed so far (it names every transformation it receives)."""
        return self.jobserver_log.read_text(errors="replace")


def remote_clients(hs: str, db: str) -> dict:
    return {"buffer": [{"url": hs, "remote_url": hs, "readonly": False}],
            "database": [{"url": db, "remote_url": db, "readonly": False}]}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    venv = upstream_venv()
    base = tmp_path_factory.mktemp("jobserver-cluster")
    (base / "hs").mkdir()
    (base / "home").mkdir()
    servers = _Servers(base)
    try:
        hs = servers.start([executable("hashserver"), str(base / "hs"), "--writable"])
        db = servers.start([executable("seamless-database"), str(base / "shared.db"), "--writable"])
        status = base / "jobserver-status.json"
        status.write_text(json.dumps({"parameters": remote_clients(hs, db)}))
        argv = [os.path.join(venv, "bin", "seamless-jobserver"), "--workers", "2", "--status-file", str(status)]
        js = servers.start(argv, env=upstream_env(base / "home"))
        log = next(base.glob("seamless-jobserver-*.log"))
        yield Cluster(hs, db, js, base / "hs", log)
    finally:
        servers.stop_all()


@pytest.fixture
def on_jobserver(cluster, isolated_env):
    """The test's workdir selects the cluster with `remote: jobserver` (config initialized)."""
    from seamless_transformer import config

    (isolated_env / "seamless.yaml").write_text(cluster.yaml())
    config.init(isolated_env)
    yield cluster
    from seamless_transformer import jobserver

    jobserver._reset()
