"""Activating Dask from the environment and the config, without a cluster: what is refused, and
what never needs the scheduler."""

import subprocess
import sys
import sysconfig
import os


def _seamless_run(*args, env=None):
    exe = os.path.join(sysconfig.get_path("scripts"), "seamless-run")
    return subprocess.run([exe, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_execution_remote_without_a_scheduler_address_is_a_config_error(isolated_env):
    (isolated_env / "seamless.yaml").write_text("- execution: remote\n")
    ran = _seamless_run("echo hi")
    assert ran.returncode == 2
    assert ran.stderr == ("seamless-run: error: execution: remote (Dask) needs "
                          "SEAMLESS_DASK_SCHEDULER=tcp://host:port or set_dask_client()\n")


def test_a_cache_hit_with_a_scheduler_configured_neither_connects_nor_imports_distributed():
    assert _seamless_run("echo hello").stdout == "hello\n"
    dead = {"SEAMLESS_DASK_SCHEDULER": "tcp://127.0.0.1:9"}  # nothing listens there
    code = ("import sys\nfrom seamless_transformer.cli._common import run_main\n"
            "from seamless_transformer.cli.run import body\n"
            "code = run_main('seamless-run', body, ['echo hello'])\n"
            "print(code, 'distributed' in sys.modules, file=sys.stderr)\n")
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, **dead}, timeout=120)
    assert (ran.stdout, ran.stderr) == ("hello\n", "0 False\n")


def test_node_without_dask_is_a_usage_error():
    ran = _seamless_run("--node", "n1", "echo hi")
    assert ran.returncode == 2
    assert "choosing a node needs Dask execution" in ran.stderr


def test_nothing_configured_leaves_the_transformations_in_this_process(isolated_env):
    from seamless_transformer import engine
    from seamless_transformer.backends import activate_backend

    assert activate_backend(pool=True) == "local"
    assert engine.get_backend() is None


def test_the_entry_points_choose_their_backend_only_through_activate_backend():
    import pathlib

    package = pathlib.Path(__file__).resolve().parents[2] / "seamless_transformer"
    choosers = sorted(str(p.relative_to(package)) for p in package.rglob("*.py")
                      if p.name != "backends.py" and p.parent.name not in ("dask", "jobserver", "pool")
                      and any(f"{name}(" in p.read_text() for name in
                              ("activate_if_configured", "install_if_configured", "ensure_spawned")))
    assert choosers == []


def test_a_worker_serving_a_storage_spec_uses_that_cache_directory(tmp_path):
    from seamless_transformer.dask.task import _settings_of

    settings = _settings_of({"directory": str(tmp_path)}, own_cache=None)
    assert settings.persistent and settings.buffer_dirs[0].startswith(str(tmp_path) + os.sep)
    assert settings.database_paths == (os.path.join(settings.buffer_dirs[0], "seamless.db"),)
