"""SEAMLESS_REMOTE_CLIENTS (upstream's JSON shape) and cluster URLs become the storage settings."""

import json
import subprocess
import sys

import pytest

from seamless_transformer import config
from seamless_transformer.errors import ConfigError


def _settings(monkeypatch, spec):
    monkeypatch.setenv("SEAMLESS_REMOTE_CLIENTS", spec if isinstance(spec, str) else json.dumps(spec))
    return config.get_settings()


def test_remote_clients_are_read_only_unless_they_say_otherwise(monkeypatch):
    s = _settings(monkeypatch, {"buffer": [{"url": "http://h:1"}, {"url": "http://h:2", "readonly": False}],
                                "database": [{"url": "http://d:1", "readonly": False}]})
    assert (s.hashserver_urls, s.readonly_hashserver_urls) == (("http://h:2",), ("http://h:1",))
    assert (s.database_urls, s.readonly_database_urls) == (("http://d:1",), ())


def test_remote_url_wins_over_url_and_a_bare_host_gets_http(monkeypatch):
    s = _settings(monkeypatch, {"buffer": [{"url": "http://ignored:1", "remote_url": "h:5", "readonly": False}]})
    assert s.hashserver_urls == ("http://h:5",)


def test_a_buffer_directory_entry_is_a_read_only_buffer_folder(monkeypatch, tmp_path):
    s = _settings(monkeypatch, {"buffer": [{"directory": str(tmp_path / "x"), "remote_directory": str(tmp_path)}]})
    assert s.readonly_buffer_dirs == (str(tmp_path),)


def test_remote_clients_alone_mean_no_local_cache(monkeypatch):
    s = _settings(monkeypatch, {"database": [{"url": "http://d:1"}]})
    assert (s.buffer_dirs, s.database_paths) == ((), ())


def test_seamless_cache_puts_the_local_cache_in_front_of_the_remote_clients(monkeypatch, tmp_path):
    monkeypatch.setenv("SEAMLESS_CACHE", str(tmp_path))
    s = _settings(monkeypatch, {"database": [{"url": "http://d:1"}]})
    assert s.buffer_dirs == (str(tmp_path / "__TOPLEVEL__"),)
    assert s.database_paths == (str(tmp_path / "__TOPLEVEL__" / "seamless.db"),)


@pytest.mark.parametrize("spec, message", [
    ("{not json", "invalid JSON"),
    ('["a list"]', "expected an object"),
    ('{"buffer": {"url": "h"}}', "'buffer' must be a list"),
    ('{"database": [{"readonly": false}]}', "a 'database' entry needs a url"),
    ('{"database": [{"url": "h", "readonly": "no"}]}', "'readonly' must be true or false"),
])
def test_a_malformed_remote_clients_value_is_a_config_error(monkeypatch, spec, message):
    with pytest.raises(ConfigError, match=f"^SEAMLESS_REMOTE_CLIENTS: .*{message}"):
        _settings(monkeypatch, spec)


def test_a_malformed_remote_clients_value_exits_2_with_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("SEAMLESS_REMOTE_CLIENTS", "{not json")
    result = subprocess.run([sys.executable, "-m", "seamless_transformer.cli.run", "echo", "hi"],
                            capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    assert result.stderr.startswith("seamless-run: error: SEAMLESS_REMOTE_CLIENTS: invalid JSON (")
    assert result.stderr.count("\n") == 1


def test_a_cluster_url_is_a_writable_server(tmp_path, monkeypatch):
    (tmp_path / "seamless.yaml").write_text(
        "- cluster: c\n- clusters:\n    c:\n      frontends:\n"
        "        - hashserver: {url: 'h:1'}\n          database: {url: 'http://d:2'}\n")
    monkeypatch.chdir(tmp_path)
    s = config.get_settings()
    assert (s.hashserver_urls, s.database_urls) == (("http://h:1",), ("http://d:2",))
