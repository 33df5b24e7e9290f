"""Remote execution on a real seamless-jobserver: `execution: remote` + `remote: jobserver`."""

import json
import os
import subprocess
import time

import pytest
from upstream_http import http
from upstream_servers import executable

from seamless_transformer import delayed
from seamless_transformer.errors import RemoteError, TransformationError

DEADLINE = 30.0


def _db_result(db_url, tf) -> str | None:
    status, body = http("GET", db_url, json_body={"type": "transformation", "checksum": tf})
    return body.decode().strip().strip('"') if status == 200 else None


def _status(cluster, tf) -> str:
    status, body = http("GET", f"{cluster.jobserver}/transformation-status/{tf}")
    assert status == 200
    return json.loads(body)["status"]


def _wait_for_status(cluster, tf, wanted) -> str:
    deadline = time.monotonic() + DEADLINE
    status = None
    while time.monotonic() < deadline:
        status = _status(cluster, tf)
        if status == wanted:
            return status
        time.sleep(0.1)
    return status


@delayed
def add(a, b):
    return a + b


@delayed
def explode(a):
    raise ValueError(f"remote boom {a}")


def test_ten_bash_and_python_transformations_run_on_the_jobserver_into_the_shared_database(on_jobserver):
    tfs = [add(i, 1000) for i in range(5)] + [delayed("echo $((a * 3)) > RESULT", "bash")(a=i) for i in range(5)]
    values = [tf.run() for tf in tfs]
    assert values[:5] == [1000, 1001, 1002, 1003, 1004]
    assert [int(v) for v in values[5:]] == [0, 3, 6, 9, 12]
    log = on_jobserver.received()
    for tf in tfs:
        tf_hex = tf.transformation_checksum.hex()
        assert f"Received transformation {tf_hex}" in log
        assert _db_result(on_jobserver.database, tf_hex) == tf.compute().hex()


def test_the_execution_record_says_remote_on_the_jobserver(on_jobserver):
    from seamless_transformer.store.storage import get_storage

    tf = add(7, 2007)
    assert tf.run() == 2014
    record = get_storage().get_record(tf.transformation_checksum)
    assert (record["execution_mode"], record["remote_target"]) == ("remote", f"jobserver:{on_jobserver.jobserver}")


def test_a_failing_python_transformation_reports_the_remote_error_text(on_jobserver):
    tf = explode(31)
    with pytest.raises(TransformationError, match="ValueError: remote boom 31"):
        tf.run()
    assert f"Received transformation {tf.transformation_checksum.hex()}" in on_jobserver.received()


def test_a_failing_bash_transformation_reports_the_remote_error_text(on_jobserver):
    tf = delayed("echo 'bash went wrong' >&2; exit 7", "bash")(a=1)
    with pytest.raises(TransformationError, match="bash went wrong"):
        tf.run()


def test_an_unreachable_jobserver_is_a_remote_error_naming_its_url(on_jobserver, isolated_env):
    from seamless_transformer import config

    closed = "http://127.0.0.1:9"
    (isolated_env / "seamless.yaml").write_text(on_jobserver.yaml(jobserver=closed))
    config.init(isolated_env)
    with pytest.raises(TransformationError) as info:
        add(1, 9009).run()
    assert isinstance(info.value.__cause__, RemoteError)
    assert str(info.value.__cause__).startswith(f"{closed}: unreachable")


# ---------------------------------------------------------------- the command line


def _seamless_run(cwd, *args, **popen):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLESS_")}
    return subprocess.Popen([executable("seamless-run"), *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def test_seamless_run_executes_on_the_jobserver_with_a_local_input(on_jobserver, isolated_env):
    (isolated_env / "fruit.txt").write_text("pear\napple\nfig\n")
    proc = _seamless_run(isolated_env, "-v", "sort fruit.txt")
    out, err = proc.communicate(timeout=120)
    assert (proc.returncode, out) == (0, "apple\nfig\npear\n"), err
    tf = err.split("cache miss ")[1].split()[0]
    assert f"Received transformation {tf}" in on_jobserver.received()


def test_seamless_run_ships_the_files_of_a_directory_input_to_the_jobserver(on_jobserver, isolated_env):
    (isolated_env / "d").mkdir()
    (isolated_env / "d" / "a.txt").write_text("first leaf\n")
    (isolated_env / "d" / "b.txt").write_text("second leaf\n")
    proc = _seamless_run(isolated_env, "-g1", "find d -name '*.txt' | sort | xargs cat")
    out, err = proc.communicate(timeout=120)
    assert (proc.returncode, out) == (0, "first leaf\nsecond leaf\n"), err


def test_seamless_run_against_an_unreachable_jobserver_exits_3_naming_its_url(on_jobserver, isolated_env):
    closed = "http://127.0.0.1:9"
    (isolated_env / "seamless.yaml").write_text(on_jobserver.yaml(jobserver=closed))
    proc = _seamless_run(isolated_env, "echo unreachable-jobserver")
    out, err = proc.communicate(timeout=120)
    assert (proc.returncode, out) == (3, "")
    assert err.startswith(f"seamless-run: error: {closed}: unreachable")
    assert err.count("\n") == 1


def _dry_tf(cwd, command) -> str:
    dry = subprocess.run([executable("seamless-run"), "--dry", command], cwd=cwd, capture_output=True,
                         text=True, timeout=60)
    return dry.stdout.strip()


def test_seamless_run_transformation_executes_on_the_jobserver(on_jobserver, isolated_env):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLESS_")}
    prepare = subprocess.run([executable("seamless-run"), "--dry", "--upload", "-j", "job", "echo run-transformation"],
                             cwd=isolated_env, env=env, capture_output=True, text=True, timeout=120)
    assert prepare.returncode == 0, prepare.stderr
    tf = prepare.stdout.strip()
    run = subprocess.run([executable("seamless-run-transformation"), "job/transformation.json.CHECKSUM"],
                         cwd=isolated_env, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert f"Received transformation {tf}" in on_jobserver.received()


def test_record_mode_the_jobserver_was_not_started_with_is_refused_with_its_message(on_jobserver):
    from seamless_transformer import config
    from seamless_transformer.errors import ConfigError

    config.select_record(True)
    with pytest.raises(ConfigError, match="Jobserver record mode mismatch"):
        add(3, 3003).run()
