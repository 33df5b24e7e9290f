"""Which settings select the jobserver backend (no server needed)."""

import pytest

from seamless_transformer import config, engine, jobserver
from seamless_transformer.errors import ConfigError

CLUSTER = """\
- clusters:
    shared:
      frontends:
        - hashserver: {url: "127.0.0.1:8801"}
          database: {url: "127.0.0.1:8802"}
          jobserver: {url: "127.0.0.1:8803"}
- cluster: shared
"""


@pytest.fixture(autouse=True)
def _uninstall():
    yield
    jobserver._reset()


def test_remote_jobserver_takes_the_url_of_the_cluster_jobserver(isolated_env):
    (isolated_env / "seamless.yaml").write_text(CLUSTER + "- execution: remote\n- remote: jobserver\n")
    settings = config.get_settings()
    assert (settings.execution, settings.jobserver_url) == ("remote", "http://127.0.0.1:8803")


def test_a_cluster_with_a_jobserver_runs_locally_unless_remote_jobserver_is_chosen(isolated_env):
    (isolated_env / "seamless.yaml").write_text(CLUSTER)
    assert config.get_settings().jobserver_url is None
    assert jobserver.install_if_configured() is False
    assert engine.get_backend() is None


def test_remote_null_in_the_profile_turns_the_jobserver_off(isolated_env):
    (isolated_env / "seamless.yaml").write_text(CLUSTER + "- remote: jobserver\n")
    (isolated_env / "seamless.profile.yaml").write_text("- remote: null\n- execution: process\n")
    assert config.get_settings().jobserver_url is None


def test_the_jobserver_backend_is_installed_once_for_the_configured_url(isolated_env):
    (isolated_env / "seamless.yaml").write_text(CLUSTER + "- remote: jobserver\n")
    assert jobserver.install_if_configured() is True
    backend = engine.get_backend()
    assert backend.url == "http://127.0.0.1:8803"
    assert jobserver.install_if_configured() is True
    assert engine.get_backend() is backend


def test_a_jobserver_without_a_shared_hashserver_is_a_config_error(isolated_env):
    (isolated_env / "seamless.yaml").write_text(
        "- clusters:\n    c:\n      type: local\n      frontends:\n"
        "        - hashserver: {bufferdir: buffers}\n          database: {database_dir: db, url: \"127.0.0.1:8802\"}\n"
        "          jobserver: {url: \"127.0.0.1:8803\"}\n- cluster: c\n- remote: jobserver\n")
    with pytest.raises(ConfigError, match="needs a writable hashserver and database server shared with the jobserver"):
        jobserver.install_if_configured()
