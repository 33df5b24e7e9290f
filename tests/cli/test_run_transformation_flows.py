"""seamless-run-transformation across processes: fingertip recomputation and replayed job dirs (SPEC 6.3, bug 8)."""

import hashlib
import json
import os
import subprocess
import sys
import textwrap

from seamless_transformer.celltypes import Buffer
from seamless_transformer.store.storage import get_storage
from seamless_transformer.bashrun.prepare import RunOptions, prepare, write_job_dir

PRODUCER = textwrap.dedent(
    """
    from seamless_transformer import Checksum, delayed

    @delayed
    def f(x):
        return x + 1

    @delayed
    def g(y):
        return y * 10

    f.scratch = True
    intermediate = f(1).compute()
    print(intermediate)
    print(g(Checksum(intermediate)).construct())
    """
)


def run_cli(*args):
    return subprocess.run(["seamless-run-transformation", *args], capture_output=True, text=True,
                          env=os.environ.copy())


def produce_scratch_chain():
    with open("producer.py", "w") as f:
        f.write(PRODUCER)
    proc = subprocess.run([sys.executable, "producer.py"], capture_output=True, text=True,
                          env=os.environ.copy(), check=True)
    intermediate, tf = proc.stdout.split()
    return intermediate, tf


def test_an_input_that_only_a_scratch_run_produced_is_unavailable_without_fingertip():
    intermediate, tf = produce_scratch_chain()
    proc = run_cli(tf)
    assert proc.returncode == 3
    assert proc.stdout == ""
    assert proc.stderr == f"seamless-run-transformation: error: buffer {intermediate} not available\n"


def test_fingertip_recomputes_the_missing_input_from_its_producer():
    intermediate, tf = produce_scratch_chain()
    assert intermediate == Buffer(2, "mixed").checksum.hex()
    proc = run_cli("--fingertip", tf)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == Buffer(20, "mixed").checksum.hex() + "\n"
    assert get_storage().has_buffer(intermediate)


def uploaded_job(words, options, directory="J"):
    prepared = prepare(words, options, os.getcwd())
    storage = get_storage()
    for checksum, buffer in prepared.buffers.items():
        if isinstance(buffer, str):
            storage.put_file(buffer, checksum)
        else:
            storage.put_buffer(buffer, checksum)
    write_job_dir(prepared, directory, upload=True)
    return prepared


def result_dict(result_hex):
    return json.loads(get_storage().get_buffer(result_hex.strip()))


def test_a_replayed_job_dir_keeps_its_metavars_bug_8():
    prepared = uploaded_job(["echo $T > t.txt"], RunOptions(metavars=["T=4"]))
    assert os.path.exists("J/dunder.json")
    proc = run_cli("J/transformation.json.CHECKSUM")
    assert proc.returncode == 0, proc.stderr
    assert result_dict(proc.stdout) == {"t.txt": hashlib.sha256(b"4\n").hexdigest()}
    assert hashlib.sha256(b"4\n").hexdigest().startswith("7de1555d")
    assert prepared.tf_checksum.hex() + "\n" == open("J/transformation.json.CHECKSUM").read()


def test_a_replayed_job_dir_keeps_its_metafiles_bug_8():
    with open("settings", "w") as f:
        f.write("from a metafile\n")
    uploaded_job(['cat "$F" > t.txt'], RunOptions(metavars=["F=settings"], metafiles=["settings"]))
    proc = run_cli("J/transformation.json.CHECKSUM")
    assert proc.returncode == 0, proc.stderr
    assert result_dict(proc.stdout) == {"t.txt": hashlib.sha256(b"from a metafile\n").hexdigest()}


def test_without_its_dunder_file_a_job_runs_without_its_metavars():
    uploaded_job(["echo ${T:-none} > t.txt"], RunOptions(metavars=["T=4"]))
    os.rename("J/dunder.json", "elsewhere.json")
    proc = run_cli("J/transformation.json.CHECKSUM")
    assert proc.returncode == 1
    assert proc.stderr.endswith("seamless-run-transformation: error: command failed with exit status 1\n")


def test_strict_runs_a_transformation_that_no_other_run_shares():
    uploaded_job(["echo hi > t.txt"], RunOptions())
    proc = run_cli("--strict", "J/transformation.json.CHECKSUM")
    assert proc.returncode == 0, proc.stderr
    assert result_dict(proc.stdout) == {"t.txt": hashlib.sha256(b"hi\n").hexdigest()}


def test_an_uploaded_stdout_job_dir_prints_the_hello_result():
    uploaded_job(["echo hello"], RunOptions())
    proc = run_cli("J/transformation.json.CHECKSUM")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\n"
