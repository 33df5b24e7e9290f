"""Upstream's seamless-core beside this package: one clear error instead of a silent mix."""

import os
import subprocess
import sys
import textwrap

import pytest

CORE_METADATA = "Metadata-Version: 2.1\nName: seamless-core\nVersion: 0.1.4\n"

# The shape of upstream's seamless-core files that matters here: its seamless.transformer imports
# seamless_transformer and swallows an ImportError.
UPSTREAM_SEAMLESS = "class Checksum:\n    pass\n"
UPSTREAM_TRANSFORMER = textwrap.dedent(
    """
    try:
        from seamless_transformer import *
        __all__ = ["delayed", "direct"]
    except ImportError:
        __all__ = []
    """
)


def _python(code, site):
    env = dict(os.environ, PYTHONPATH=str(site))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)


def _last_line(stderr):
    return stderr.strip().splitlines()[-1]


@pytest.fixture
def core_installed(tmp_path):
    dist = tmp_path / "site" / "seamless_core-0.1.4.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(CORE_METADATA)
    return tmp_path / "site"


@pytest.fixture
def core_files_installed(tmp_path):
    package = tmp_path / "site" / "seamless"
    (package / "transformer").mkdir(parents=True)
    (package / "__init__.py").write_text(UPSTREAM_SEAMLESS)
    (package / "transformer" / "__init__.py").write_text(UPSTREAM_TRANSFORMER)
    return tmp_path / "site"


def test_import_seamless_with_seamless_core_installed_fails_with_one_clear_import_error(core_installed):
    proc = _python("import seamless", core_installed)
    assert proc.returncode == 1
    assert _last_line(proc.stderr) == (
        "ImportError: seamless-core 0.1.4 is installed beside seamless-transformer, whose 'seamless' "
        "package takes its place: run 'pip uninstall seamless-core', then "
        "'pip install --force-reinstall seamless-transformer'"
    )


def test_seamless_transformer_alone_still_imports_with_seamless_core_installed(core_installed):
    proc = _python("from seamless_transformer import delayed; print(delayed)", core_installed)
    assert proc.returncode == 0, proc.stderr


def test_upstream_seamless_transformer_importing_us_fails_with_one_clear_error(core_files_installed):
    proc = _python("from seamless.transformer import delayed", core_files_installed)
    assert proc.returncode == 1
    assert _last_line(proc.stderr) == (
        f"RuntimeError: the 'seamless' package at {core_files_installed}/seamless/__init__.py is not "
        "seamless-transformer's (upstream's seamless-core?) and cannot be used beside it; run "
        "'pip uninstall seamless-core', then 'pip install --force-reinstall seamless-transformer'"
    )


def test_our_own_seamless_package_does_not_trip_the_check():
    proc = subprocess.run([sys.executable, "-c", "import seamless, seamless_transformer.api.handles"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
