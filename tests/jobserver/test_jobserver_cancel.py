"""Cancel on a real seamless-jobserver, in a module of its own: the jobserver (0.3.0) marks a
canceled job canceled but lets its bash command run on, and when that command ends it changes the
whole server process's directory back and removes its workspace, under whatever job runs then.
Here that happens only next to other canceled jobs, and the module's servers stop with it."""

import signal
import subprocess

import pytest
from test_jobserver import _dry_tf, _seamless_run, _status, _wait_for_status  # tests/jobserver/test_jobserver.py
from upstream_servers import executable

from seamless_transformer import delayed
from seamless_transformer.errors import CanceledError


def test_cancel_reaches_the_jobserver(on_jobserver):
    tf = delayed("sleep 30; echo late > RESULT", "bash")(a=2)
    tf.start()
    tf_hex = tf.transformation_checksum.hex()
    assert _wait_for_status(on_jobserver, tf_hex, "running") == "running"
    tf.cancel()
    assert _status(on_jobserver, tf_hex) == "canceled"
    with pytest.raises(CanceledError):
        tf.run()


def test_seamless_cancel_reaches_the_jobserver(on_jobserver, isolated_env):
    proc = _seamless_run(isolated_env, "-v", "sleep 30; echo never")
    try:
        tf = _dry_tf(isolated_env, "sleep 30; echo never")
        assert _wait_for_status(on_jobserver, tf, "running") == "running"
        cancel = subprocess.run([executable("seamless-cancel"), tf], cwd=isolated_env, capture_output=True,
                                text=True, timeout=60)
        assert cancel.returncode == 0, cancel.stderr
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1
    assert "was canceled" in err
    assert _status(on_jobserver, tf) == "canceled"


def test_ctrl_c_on_seamless_run_cancels_the_job_on_the_jobserver(on_jobserver, isolated_env):
    command = "sleep 30; echo interrupted"
    proc = _seamless_run(isolated_env, command)
    try:
        tf = _dry_tf(isolated_env, command)
        assert _wait_for_status(on_jobserver, tf, "running") == "running"
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert _status(on_jobserver, tf) == "canceled"
