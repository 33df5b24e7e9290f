"""Settings resolution: storage locations (SPEC §3.1), config files (§3.5), config API (§8)."""

import os
import subprocess
import sys

import pytest

from seamless_transformer import config
from seamless_transformer.errors import ConfigError


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def home():
    return os.environ["HOME"]


# ---------------------------------------------------------------- storage locations


def test_zero_config_uses_home_cache_toplevel():
    s = config.get_settings()
    root = os.path.join(home(), ".cache", "seamless", "__TOPLEVEL__")
    assert s.buffer_dirs == (root,)
    assert s.database_paths == (os.path.join(root, "seamless.db"),)
    assert s.project == "__TOPLEVEL__" and s.persistent and not s.record and s.execution == "process"


def test_resolving_settings_creates_nothing(tmp_path):
    config.get_settings()
    assert not os.path.exists(os.path.join(home(), ".cache"))


def test_xdg_cache_home_moves_the_store(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert config.get_settings().buffer_dirs == (str(tmp_path / "x" / "seamless" / "__TOPLEVEL__"),)


def test_seamless_cache_moves_the_store(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    monkeypatch.setenv("SEAMLESS_CACHE", str(tmp_path / "y"))
    s = config.get_settings()
    assert s.buffer_dirs == (str(tmp_path / "y" / "__TOPLEVEL__"),)
    assert s.database_paths == (str(tmp_path / "y" / "__TOPLEVEL__" / "seamless.db"),)


def test_changing_seamless_cache_is_noticed_and_bumps_generation(tmp_path, monkeypatch):
    monkeypatch.setenv("SEAMLESS_CACHE", str(tmp_path / "a"))
    before = config.settings_generation()
    monkeypatch.setenv("SEAMLESS_CACHE", str(tmp_path / "b"))
    assert config.get_settings().buffer_dirs == (str(tmp_path / "b" / "__TOPLEVEL__"),)
    assert config.settings_generation() != before


def test_project_subproject_and_stage_make_the_storage_path(isolated_env):
    write(isolated_env / "seamless.yaml", "- project: proj\n- subproject: sub/part\n")
    config.set_stage("build")
    s = config.get_settings()
    expected = os.path.join(home(), ".cache", "seamless", "proj", "sub", "part", "STAGE-build")
    assert s.buffer_dirs == (expected,)
    assert (s.project, s.subproject, s.stage) == ("proj", "sub/part", "build")


def test_substage_does_not_split_storage():
    config.set_stage("build", "one")
    s = config.get_settings()
    assert s.substage == "one"
    assert s.buffer_dirs[0].endswith(os.path.join("__TOPLEVEL__", "STAGE-build"))


def test_init_project_overrides_the_config_file(isolated_env):
    write(isolated_env / "seamless.yaml", "- project: fromfile\n")
    s = config.init(project="fromcli")
    assert s.project == "fromcli"


@pytest.mark.parametrize("name", ["a--b", "STAGE-x", "a/b", ""])
def test_invalid_project_names_are_config_errors(isolated_env, name):
    write(isolated_env / "seamless.yaml", f"- project: '{name}'\n")
    with pytest.raises(ConfigError, match="invalid project name"):
        config.get_settings()


# ---------------------------------------------------------------- config files


def test_seamless_cache_does_not_disable_config_files(isolated_env, tmp_path, monkeypatch):
    """Upstream bug 28: SEAMLESS_CACHE only chooses the embedded directory."""
    monkeypatch.setenv("SEAMLESS_CACHE", str(tmp_path / "y"))
    write(isolated_env / "seamless.yaml", "- record: true\n")
    s = config.get_settings()
    assert s.record is True
    assert s.buffer_dirs == (str(tmp_path / "y" / "__TOPLEVEL__"),)


def test_unknown_command_is_a_config_error_naming_the_file(isolated_env):
    path = write(isolated_env / "seamless.yaml", "- frobnicate: 3\n")
    with pytest.raises(ConfigError) as info:
        config.get_settings()
    assert str(info.value) == f"{path}: unknown command 'frobnicate'"
    assert info.value.exit_code == 2


def test_unknown_bare_string_command_is_a_config_error(isolated_env):
    path = write(isolated_env / "seamless.yaml", "- bogus\n")
    with pytest.raises(ConfigError, match=f"^{path}: unknown command 'bogus'$"):
        config.get_settings()


def test_a_config_file_that_is_not_a_list_is_an_unknown_command_error(isolated_env):
    path = write(isolated_env / "seamless.yaml", "project: p\n")
    with pytest.raises(ConfigError, match=f"^{path}: unknown command "):
        config.get_settings()


def test_profile_is_applied_after_project_file(isolated_env):
    write(isolated_env / "seamless.yaml", "- nparallel: 3\n- queue: q1\n")
    write(isolated_env / "seamless.profile.yaml", "- nparallel: 5\n")
    s = config.get_settings()
    assert (s.nparallel, s.queue) == (5, "q1")


def test_inherit_from_parent_reads_parent_first_recursively(tmp_path):
    top = tmp_path / "top"
    write(top / "seamless.yaml", "- project: p\n- queue: top\n- node: n1\n")
    write(top / "mid" / "seamless.yaml", "- inherit_from_parent\n- queue: mid\n")
    write(top / "mid" / "low" / "seamless.yaml", "- inherit_from_parent\n- subproject: s\n")
    s = config.init(str(top / "mid" / "low"))
    assert (s.project, s.subproject, s.queue, s.node) == ("p", "s", "mid", "n1")


def test_without_inherit_parent_files_are_ignored(tmp_path):
    write(tmp_path / "seamless.yaml", "- project: parent\n")
    write(tmp_path / "child" / "seamless.yaml", "- queue: q\n")
    assert config.init(str(tmp_path / "child")).project == "__TOPLEVEL__"


def test_stage_block_applies_only_in_that_stage(isolated_env):
    write(isolated_env / "seamless.yaml", "- stage prod:\n  - record: true\n  - nparallel: 7\n")
    assert config.get_settings().record is False
    config.set_stage("prod")
    s = config.get_settings()
    assert (s.record, s.nparallel) == (True, 7)


def test_persistent_false_and_execution_spawn_are_read(isolated_env):
    write(isolated_env / "seamless.yaml", "- persistent: false\n- execution: spawn\n")
    s = config.get_settings()
    assert (s.persistent, s.execution) == (False, "spawn")


def test_remote_jobserver_without_a_cluster_jobserver_url_is_refused(isolated_env):
    path = write(isolated_env / "seamless.yaml", "- remote: jobserver\n")
    with pytest.raises(ConfigError, match=f"^{path}: remote: jobserver needs a cluster with a jobserver.url$"):
        config.get_settings()


def test_remote_daskserver_selects_remote_execution(isolated_env):
    write(isolated_env / "seamless.yaml", "- remote: daskserver\n")
    assert config.get_settings().execution == "remote"


# ---------------------------------------------------------------- clusters

LOCAL_CLUSTER = """\
- cluster: mylocal
- clusters:
    mylocal:
      type: local
      workers: 3
      frontends:
        - hashserver:
            bufferdir: {bufdir}
          database:
            database_dir: {dbdir}
"""


def test_local_cluster_dirs_are_used_directly_as_embedded_stores(isolated_env, tmp_path):
    write(isolated_env / "seamless.yaml", LOCAL_CLUSTER.format(bufdir=tmp_path / "b", dbdir=tmp_path / "d"))
    s = config.get_settings()
    assert s.buffer_dirs == (str(tmp_path / "b" / "__TOPLEVEL__"),)
    assert s.database_paths == (str(tmp_path / "d" / "__TOPLEVEL__" / "seamless.db"),)
    assert s.workers == 3 and s.cluster == "mylocal"
    assert s.hashserver_urls == () and s.database_urls == ()


def test_seamless_cache_is_placed_in_front_of_a_cluster(isolated_env, tmp_path, monkeypatch):
    monkeypatch.setenv("SEAMLESS_CACHE", str(tmp_path / "y"))
    write(isolated_env / "seamless.yaml", LOCAL_CLUSTER.format(bufdir=tmp_path / "b", dbdir=tmp_path / "d"))
    s = config.get_settings()
    assert s.buffer_dirs == (str(tmp_path / "y" / "__TOPLEVEL__"), str(tmp_path / "b" / "__TOPLEVEL__"))


def test_clusters_are_read_from_home_clusters_dir(isolated_env, tmp_path):
    cluster = "type: local\nfrontends:\n  - hashserver: {bufferdir: %s}\n    database: {database_dir: %s}\n"
    write(tmp_path / "home" / ".seamless" / "clusters" / "lab.yaml", cluster % (tmp_path / "b", tmp_path / "d"))
    write(isolated_env / "seamless.yaml", "- cluster: lab\n")
    assert config.get_settings().buffer_dirs == (str(tmp_path / "b" / "__TOPLEVEL__"),)


def test_cluster_urls_without_scheme_get_http(isolated_env, tmp_path):
    write(tmp_path / "home" / ".seamless" / "clusters.yaml",
          "far:\n  type: remote\n  frontends:\n    - hashserver: {url: 'h:1'}\n      database: {url: 'h:2'}\n")
    write(isolated_env / "seamless.yaml", "- cluster: far\n")
    s = config.get_settings()
    assert (s.hashserver_urls, s.database_urls) == (("http://h:1",), ("http://h:2",))
    assert s.buffer_dirs == ()


def test_unknown_cluster_is_a_config_error(isolated_env):
    write(isolated_env / "seamless.yaml", "- cluster: nowhere\n")
    with pytest.raises(ConfigError, match="unknown cluster 'nowhere'"):
        config.get_settings()


def test_cluster_without_storage_is_a_config_error(isolated_env):
    write(isolated_env / "seamless.yaml", "- cluster: c\n- clusters: {c: {type: local, frontends: []}}\n")
    with pytest.raises(ConfigError, match="no usable buffer and database storage"):
        config.get_settings()


# ---------------------------------------------------------------- API


def test_select_record_overrides_config_and_none_returns_to_it(isolated_env):
    write(isolated_env / "seamless.yaml", "- record: true\n")
    config.select_record(False)
    assert config.get_settings().record is False
    config.select_record(None)
    assert config.get_settings().record is True


def test_select_record_bumps_the_generation():
    before = config.settings_generation()
    config.select_record(True)
    assert config.settings_generation() != before
    assert config.get_settings().record is True


def test_nparallel_defaults_to_cpu_count_then_config_then_override(isolated_env):
    assert config.get_nparallel() == os.cpu_count()
    write(isolated_env / "seamless.yaml", "- nparallel: 4\n")
    config._reset()
    assert config.get_nparallel() == 4
    config.set_nparallel(2)
    assert config.get_nparallel() == 2


def test_nparallel_defaults_to_cluster_workers(isolated_env, tmp_path):
    write(isolated_env / "seamless.yaml", LOCAL_CLUSTER.format(bufdir=tmp_path / "b", dbdir=tmp_path / "d"))
    assert config.get_nparallel() == 3


def test_set_nparallel_rejects_non_positive():
    with pytest.raises(ValueError):
        config.set_nparallel(0)


def test_init_uses_the_given_workdir_for_config_files(tmp_path):
    write(tmp_path / "w" / "seamless.yaml", "- project: there\n")
    s = config.init(str(tmp_path / "w"))
    assert (s.project, s.workdir) == ("there", str(tmp_path / "w"))


def test_importing_reads_no_config_file(isolated_env):
    write(isolated_env / "seamless.yaml", "- frobnicate\n")
    code = "import seamless_transformer.config, seamless_transformer.store.storage"
    assert subprocess.run([sys.executable, "-c", code], cwd=isolated_env).returncode == 0
    with pytest.raises(ConfigError):
        config.get_settings()


# ---------------------------------------------------------------- config owns the environment

ENVIRON_READS_ALLOWED = {  # (module, what the line does): process plumbing, not a setting
    ("pool/worker.py", "os.environ.get(k) for k in config.SETTINGS_ENV"),  # parent → worker
    ("pool/worker.py", "os.environ.pop(key, None)"),  # the worker installs the parent's environment
    ("pool/worker.py", "os.environ[key] = value"),
    ("dask/task.py", "os.environ.pop(name, None)"),  # a Dask worker installs the client's storage
    ("dask/task.py", "os.environ[name] = value"),
    ("dask/task.py", 'os.environ.get("SEAMLESS_CACHE")'),  # ... and keeps its own cache to go back to
    ("execution/bash.py", "{**os.environ, **pin_env}"),  # a bash job inherits our environment
    ("cli/mode_rewrite.py", 'os.environ.get("SEAMLESS_MODE_SKIP"'),  # the Enter-key fast path
}


def _environ_reads():
    """(module, line) of every line of the package outside config.py that names os.environ or getenv."""
    import pathlib

    package = pathlib.Path(config.__file__).parent
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).as_posix()
        if rel == "config.py":
            continue
        for line in path.read_text().splitlines():
            if "os.environ" in line or "getenv" in line:
                yield rel, line.split("#")[0].strip()


def _allowed(read) -> bool:
    module, line = read
    return any(module == allowed_module and what in line for allowed_module, what in ENVIRON_READS_ALLOWED)


def test_only_config_reads_environment_variables_for_settings():
    assert [read for read in _environ_reads() if not _allowed(read)] == []


def test_every_allowed_environment_read_still_exists():
    reads = list(_environ_reads())
    stale = [(m, what) for m, what in ENVIRON_READS_ALLOWED if not any(r == m and what in line for r, line in reads)]
    assert stale == []


def test_the_stat_memo_the_parse_memo_and_the_default_storage_share_one_cache_dir(isolated_env, monkeypatch, tmp_path):
    from seamless_transformer.bashrun.bashparse import memo_dir
    from seamless_transformer.store.statcache import statcache_path

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    root = str(tmp_path / "xdg" / "seamless")
    assert statcache_path() == os.path.join(root, "statcache.sqlite")
    assert memo_dir() == os.path.join(root, "cmdparse")
    assert config.get_settings().buffer_dirs == (os.path.join(root, config.TOPLEVEL),)


def test_seamless_cache_moves_the_storage_but_not_the_memos(isolated_env, monkeypatch, tmp_path):
    from seamless_transformer.store.statcache import statcache_path

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("SEAMLESS_CACHE", str(tmp_path / "cache"))
    assert statcache_path() == str(tmp_path / "xdg" / "seamless" / "statcache.sqlite")
    assert config.get_settings().buffer_dirs == (str(tmp_path / "cache" / config.TOPLEVEL),)


@pytest.mark.parametrize("value, expected", [(None, 3), ("", 3), ("x", 3), ("0", 1), ("5", 5)])
def test_the_worker_throttle_is_a_positive_integer_with_a_default(monkeypatch, value, expected):
    if value is not None:
        monkeypatch.setenv("SEAMLESS_WORKER_TRANSFORMATION_THROTTLE", value)
    assert config.worker_throttle() == expected


def test_zero_worker_retries_is_allowed(monkeypatch):
    monkeypatch.setenv("SEAMLESS_WORKER_MAX_RETRIES", "0")
    assert config.worker_max_retries() == 0


def test_a_blank_transfer_limit_is_unset(monkeypatch):
    monkeypatch.setenv("SEAMLESS_MAX_DOWNLOAD_FILES", "  ")
    assert config.transfer_limit("SEAMLESS_MAX_DOWNLOAD_FILES") is None


def test_an_unknown_transfer_limit_name_is_refused():
    with pytest.raises(KeyError):
        config.transfer_limit("SEAMLESS_MAX_NOTHING")
