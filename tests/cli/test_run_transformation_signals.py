"""seamless-run-transformation interrupted by SIGTERM / SIGINT: exit 143 / 130, the job is gone (SPEC 6.3, 12)."""

import os
import signal
import subprocess
import time

import psutil
import pytest

from seamless_transformer.api.transformer import delayed
from seamless_transformer.store.storage import get_storage


def job_processes(marker):
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if marker in " ".join(proc.info["cmdline"] or []):
                found.append(proc)
        except psutil.Error:
            pass
    return found


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_an_interrupted_run_exits_with_the_signal_code_and_leaves_no_job(signum, code):
    marker = f"sleep 61.{code}"
    tf = delayed(f"{marker}; echo x > RESULT", "bash")(a=code).construct()
    proc = subprocess.Popen(["seamless-run-transformation", tf.hex()], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=os.environ.copy())
    deadline = time.monotonic() + 60
    while not job_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job_processes(marker), "the job did not start"
    proc.send_signal(signum)
    assert proc.wait(timeout=60) == code
    assert proc.stdout.read() == b""
    deadline = time.monotonic() + 60
    while job_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job_processes(marker) == []
    assert get_storage().get_result(tf) is None
