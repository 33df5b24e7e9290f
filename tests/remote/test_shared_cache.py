"""SEAMLESS_REMOTE_CLIENTS and clusters point at a real hashserver and seamless-database (SPEC §9.3):
what one machine computes or uploads, another machine that shares only the servers gets."""

import hashlib
import json
import os

from upstream_http import http

from machines import HELLO_CS, Machine, clients, run_script_on, servers_pair, two_machines


def test_seamless_run_puts_the_result_buffer_on_the_hashserver(tmp_path, start_hashserver, start_database):
    hs, db, _ = servers_pair(tmp_path, start_hashserver, start_database)
    a = Machine(tmp_path, "a", clients(hs, db))
    assert a.run("seamless-run", "echo hello").stdout == "hello\n"
    status, body = http("GET", f"{hs}/has", json_body=[HELLO_CS])
    assert (status, json.loads(body)) == (200, [True])


def test_seamless_run_puts_the_result_in_the_database_server(tmp_path, start_hashserver, start_database):
    hs, db, _ = servers_pair(tmp_path, start_hashserver, start_database)
    a = Machine(tmp_path, "a", clients(hs, db))
    tf = a.run("seamless-run", "--dry", "echo hello").stdout.strip()
    a.run("seamless-run", "echo hello")
    status, body = http("GET", db, json_body={"type": "transformation", "checksum": tf})
    assert tf.startswith("706b247d")
    assert (status, body.decode().strip().strip('"')) == (200, HELLO_CS)


def test_a_second_machine_with_a_fresh_cache_gets_a_hit_without_executing(tmp_path, start_hashserver, start_database):
    hs, db, _ = servers_pair(tmp_path, start_hashserver, start_database)
    log = tmp_path / "side-effects.log"
    command = 'echo x >> "$LOG"; echo hello'
    a, b = two_machines(tmp_path, clients(hs, db))
    assert a.run("seamless-run", command, env={"LOG": str(log)}).stdout == "hello\n"
    second = b.run("seamless-run", "-v", command, env={"LOG": str(log)})
    assert second.stdout == "hello\n"
    assert "cache hit" in second.stderr
    assert log.read_text() == "x\n"


def test_a_tampered_buffer_on_the_hashserver_exits_3_naming_the_url(tmp_path, start_hashserver, start_database):
    hs, db, hs_dir = servers_pair(tmp_path, start_hashserver, start_database)
    a = Machine(tmp_path, "a", clients(hs, db))
    a.run("seamless-run", "echo hello")
    stored = hs_dir / HELLO_CS[:2] / HELLO_CS
    os.chmod(stored, 0o644)
    stored.write_bytes(b"tampered\n")
    b = Machine(tmp_path, "b", clients(hs, db))
    result = b.run("seamless-run", "echo hello")
    assert result.returncode == 3
    assert result.stderr == f"seamless-run: error: checksum mismatch from {hs}/{HELLO_CS}\n"
    assert result.stdout == ""


def test_a_file_uploaded_on_one_machine_downloads_on_another(tmp_path, start_hashserver, start_database):
    hs, db, _ = servers_pair(tmp_path, start_hashserver, start_database)
    a, b = two_machines(tmp_path, clients(hs, db))
    (a.work / "data").mkdir()
    (a.work / "data" / "x.txt").write_text("ex\n")
    (a.work / "data" / "y.txt").write_text("why\n")
    assert a.run("seamless-upload", "-y", "data").returncode == 0
    for name in ("data.INDEX", "data.CHECKSUM"):
        (b.work / name).write_bytes((a.work / name).read_bytes())
    result = b.run("seamless-download", "data")
    assert result.returncode == 0, result.stderr
    assert (b.work / "data" / "x.txt").read_text() == "ex\n"
    assert (b.work / "data" / "y.txt").read_text() == "why\n"


def test_a_result_file_computed_on_one_machine_feeds_a_job_on_another(tmp_path, start_hashserver, start_database):
    hs, db, _ = servers_pair(tmp_path, start_hashserver, start_database)
    a, b = two_machines(tmp_path, clients(hs, db))
    (a.work / "fruit.txt").write_text("pear\napple\n")
    assert a.run("seamless-run", "-nd", "sort fruit.txt > sorted.txt").returncode == 0
    (b.work / "sorted.txt.CHECKSUM").write_bytes((a.work / "sorted.txt.CHECKSUM").read_bytes())
    result = b.run("seamless-run", "head -n 1 sorted.txt")
    assert (result.returncode, result.stdout) == (0, "apple\n")


def test_a_python_transformation_computed_on_one_machine_is_a_hit_on_another(tmp_path, start_hashserver,
                                                                              start_database):
    hs, db, _ = servers_pair(tmp_path, start_hashserver, start_database)
    script = (
        "from seamless_transformer import delayed\n"
        "@delayed\n"
        "def add(a, b):\n"
        "    print('computing')\n"
        "    return a + b\n"
        "tf = add(19, 23)\n"
        "print(tf.run(), 'hit' if tf.logs is None else 'computed')\n"
    )
    first, second = run_script_on(two_machines(tmp_path, clients(hs, db)), "add.py", script)
    assert first.splitlines()[-1] == "42 computed"
    assert second == "42 hit\n"


def test_a_job_prepared_on_one_machine_runs_by_checksum_on_another(tmp_path, start_hashserver, start_database):
    hs, db, _ = servers_pair(tmp_path, start_hashserver, start_database)
    a, b = two_machines(tmp_path, clients(hs, db))
    (a.work / "fruit.txt").write_text("pear\napple\n")
    assert a.run("seamless-run", "--dry", "--upload", "-j", "job", "tr a-z A-Z < fruit.txt").returncode == 0
    tf = (a.work / "job" / "transformation.json.CHECKSUM").read_text().strip()
    result = b.run("seamless-run-transformation", tf)
    assert result.returncode == 0, result.stderr
    assert b.run("seamless-download", "--stdout", result.stdout.strip()).stdout == "PEAR\nAPPLE\n"


def test_a_cluster_in_seamless_yaml_shares_results_between_machines(tmp_path, start_hashserver, start_database):
    hs, db, _ = servers_pair(tmp_path, start_hashserver, start_database)
    yaml_text = (f"- cluster: shared\n- clusters:\n    shared:\n      frontends:\n"
                 f"        - hashserver: {{url: '{hs}'}}\n          database: {{url: '{db}'}}\n")
    log = tmp_path / "side-effects.log"
    machines = [Machine(tmp_path, name, None) for name in ("a", "b")]
    for machine in machines:
        (machine.work / "seamless.yaml").write_text(yaml_text)
    outputs = [m.run("seamless-run", 'echo x >> "$LOG"; echo hello', env={"LOG": str(log)}) for m in machines]
    assert [o.stdout for o in outputs] == ["hello\n", "hello\n"]
    assert log.read_text() == "x\n"


def test_clusters_yaml_in_home_names_the_servers(tmp_path, start_hashserver, start_database):
    hs, db, _ = servers_pair(tmp_path, start_hashserver, start_database)
    a = Machine(tmp_path, "a", None)
    (a.root / "home" / ".seamless").mkdir()
    (a.root / "home" / ".seamless" / "clusters.yaml").write_text(
        f"shared:\n  frontends:\n    - hashserver: {{url: '{hs}'}}\n      database: {{url: '{db}'}}\n")
    (a.work / "seamless.yaml").write_text("- cluster: shared\n")
    assert a.run("seamless-run", "echo hello").stdout == "hello\n"
    status, body = http("GET", f"{hs}/has", json_body=[HELLO_CS])
    assert json.loads(body) == [True]


def test_seamless_upload_sends_a_file_that_only_the_local_cache_held(tmp_path, start_hashserver, start_database):
    hs, db, _ = servers_pair(tmp_path, start_hashserver, start_database)
    local_only = Machine(tmp_path, "a", None)
    (local_only.work / "x.txt").write_text("made before the servers existed\n")
    assert local_only.run("seamless-upload", "x.txt").returncode == 0
    cs = (local_only.work / "x.txt.CHECKSUM").read_text().strip()
    local_only.env["SEAMLESS_REMOTE_CLIENTS"] = clients(hs, db)
    assert local_only.run("seamless-upload", "x.txt").returncode == 0
    assert json.loads(http("GET", f"{hs}/has", json_body=[cs])[1]) == [True]


def test_a_job_input_that_only_the_local_cache_held_reaches_the_server(tmp_path, start_hashserver, start_database):
    hs, db, _ = servers_pair(tmp_path, start_hashserver, start_database)
    a = Machine(tmp_path, "a", None)
    (a.work / "fruit.txt").write_text("fig\n")
    a.run("seamless-run", "cat fruit.txt")
    a.env["SEAMLESS_REMOTE_CLIENTS"] = clients(hs, db)
    assert a.run("seamless-run", "wc -l fruit.txt").returncode == 0
    fig = hashlib.sha256(b"fig\n").hexdigest()
    assert json.loads(http("GET", f"{hs}/has", json_body=[fig])[1]) == [True]


def test_remote_clients_without_a_local_cache_work_from_the_servers_alone(tmp_path, start_hashserver,
                                                                          start_database):
    hs, db, _ = servers_pair(tmp_path, start_hashserver, start_database)
    a = Machine(tmp_path, "a", clients(hs, db), local_cache=False)
    b = Machine(tmp_path, "b", clients(hs, db), local_cache=False)
    assert a.run("seamless-run", "echo hello").stdout == "hello\n"
    second = b.run("seamless-run", "-v", "echo hello")
    assert (second.stdout, second.stderr.count("cache hit")) == ("hello\n", 1)
    assert not (a.root / "home" / ".cache" / "seamless" / "__TOPLEVEL__").exists()


def test_results_of_the_worker_pool_reach_the_servers(tmp_path, start_hashserver, start_database):
    hs, db, _ = servers_pair(tmp_path, start_hashserver, start_database)
    script = (
        "from seamless_transformer import delayed, spawn, shutdown_workers\n"
        "@delayed\n"
        "def square(x):\n"
        "    return x * x\n"
        "if __name__ == '__main__':\n"
        "    spawn(1)\n"
        "    try:\n"
        "        tfs = [square(i) for i in range(3)]\n"
        "        print([tf.run() for tf in tfs], [tf.logs is None for tf in tfs])\n"
        "    finally:\n"
        "        shutdown_workers()\n"
    )
    first, second = run_script_on(two_machines(tmp_path, clients(hs, db)), "squares.py", script)
    assert first == "[0, 1, 4] [False, False, False]\n"
    assert second == "[0, 1, 4] [True, True, True]\n"


def test_jobs_run_by_the_queue_are_hits_on_another_machine(tmp_path, start_hashserver, start_database):
    hs, db, _ = servers_pair(tmp_path, start_hashserver, start_database)
    a, b = two_machines(tmp_path, clients(hs, db))
    log = tmp_path / "side-effects.log"
    command = 'echo x >> "$LOG"; echo queued > out.txt'
    assert a.run("seamless-run", "--qsubmit", command, env={"LOG": str(log)}).returncode == 0
    assert a.run("seamless-queue-finish", "--no-wait").returncode == 0
    served = a.run("seamless-queue", "--workers", "1", "-q", env={"LOG": str(log)})
    assert served.returncode == 0, served.stderr
    assert (a.work / "out.txt").read_text() == "queued\n"
    assert b.run("seamless-run", command, env={"LOG": str(log)}).returncode == 0
    assert (b.work / "out.txt").read_text() == "queued\n"
    assert log.read_text() == "x\n"
