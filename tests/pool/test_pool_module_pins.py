"""Module pins in spawned workers: a package from files, and two versions of one package side by side."""

import importlib
import sys

from seamless_transformer import delayed, parallel

PACKAGE = {
    "__init__.py": "from .helper import double\nfrom . import sub\n",
    "helper.py": "def double(x):\n    return 2 * x\n",
    "sub/__init__.py": "from ..helper import double\n\ndef quad(x):\n    return double(double(x))\n",
}


def test_package_with_relative_imports_runs_in_a_spawned_worker(workers, tmp_path, monkeypatch):
    for rel, text in PACKAGE.items():
        (tmp_path / "wpkg" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "wpkg" / rel).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    wpkg = importlib.import_module("wpkg")
    try:
        @delayed
        def f(x):
            import os

            return [wpkg.double(x), wpkg.sub.quad(x), os.getpid()]  # noqa: F821 - a module pin

        f.modules.wpkg = wpkg
        workers(2)
        value = f(3).run()
        assert value[:2] == [6, 12] and value[2] != __import__("os").getpid()
    finally:
        for key in [k for k in sys.modules if k == "wpkg" or k.startswith("wpkg.")]:
            del sys.modules[key]


def _version_tf(version):
    @delayed
    def f(tag):
        import time

        import vpkg

        first = vpkg.VERSION
        time.sleep(0.3)  # both executions are in flight at once
        return [tag, first, vpkg.VERSION]

    f.modules.vpkg = {"language": "python", "type": "interpreted",
                      "code": {"__init__.py": f"VERSION = {version!r}\n"}}
    return f


def test_two_versions_of_one_package_run_side_by_side_in_one_worker(workers):
    workers(1, throttle=2)
    tfs = [_version_tf(v)(tag=v) for v in ("one", "two")]
    values = [tf.run() for tf in parallel(tfs, nparallel=2)]
    assert values == [["one", "one", "one"], ["two", "two", "two"]]
