"""Our embedded cache is a valid upstream cache (SPEC §3.2, §3.3, §3.6, §9.1, §9.2).

The real `hashserver` (1.1.0) serves <root>/__TOPLEVEL__ and the real `seamless-database`
(2.1.0) serves <root>/__TOPLEVEL__/seamless.db, in both directions: what we write, they serve;
what they write, we read.
"""

import hashlib
import json
import sqlite3
import subprocess

from upstream_http import http
from seamless_transformer import Checksum, delayed
from seamless_transformer.celltypes import serialize
from seamless_transformer.store.db import ResultDB
from seamless_transformer.store.files import BufferDir
from seamless_transformer.store.storage import get_storage
from seamless_transformer import engine

HELLO = b"hello\n"
HELLO_CS = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
ADD_TF = "b305d13f07b5d60227ab9085d44f9abc346793f684d20fd246b199907311a006"
RESULT_42 = "084c799cd551dd1d8d5c5f9a5d593b2e931f5e36122ee5c793c1d08a19839cc0"


@delayed
def add(a, b):
    return a + b


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _db_get(url, type_, checksum):
    return http("GET", url, json_body={"type": type_, "checksum": checksum})


def _schema(db_file) -> list:
    con = sqlite3.connect(db_file)
    try:
        return con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name").fetchall()
    finally:
        con.close()


# ---------------------------------------------------------------- hashserver


def test_hashserver_serves_a_buffer_we_stored(cache_root, start_hashserver):
    assert get_storage().put_buffer(HELLO) == HELLO_CS
    url = start_hashserver(cache_root)
    assert http("GET", f"{url}/{HELLO_CS}") == (200, HELLO)


def test_hashserver_serves_the_result_of_a_bash_transformation_we_computed(cache_root, start_hashserver):
    tf = delayed("echo hello > RESULT", "bash")()
    result = tf.compute()
    url = start_hashserver(cache_root)
    status, body = http("GET", f"{url}/{result.hex()}")
    assert status == 200
    assert _sha(body) == result.hex()


def test_hashserver_reports_buffers_we_stored_as_present(cache_root, start_hashserver):
    get_storage().put_buffer(HELLO)
    url = start_hashserver(cache_root)
    absent = _sha(b"never stored\n")
    status, body = http("GET", f"{url}/has", json_body=[HELLO_CS, absent])
    assert status == 200
    assert json.loads(body) == [True, False]


def test_buffer_put_to_hashserver_is_read_by_our_buffer_dir(cache_root, start_hashserver):
    data = b"written by hashserver\n"
    url = start_hashserver(cache_root)
    status, _ = http("PUT", f"{url}/{_sha(data)}", data=data)
    assert status == 200
    assert BufferDir(cache_root).get(_sha(data)) == data


def test_buffer_put_to_hashserver_is_read_by_our_storage(cache_root, start_hashserver):
    data = b"also written by hashserver\n"
    url = start_hashserver(cache_root)
    assert http("PUT", f"{url}/{_sha(data)}", data=data)[0] == 200
    assert get_storage().get_buffer(_sha(data)) == data


def test_zstd_buffer_put_to_hashserver_is_read_decompressed_by_our_storage(cache_root, start_hashserver):
    import zstandard

    data = b"compressed on the wire\n" * 100
    cs = _sha(data)
    url = start_hashserver(cache_root)
    body = zstandard.ZstdCompressor().compress(data)
    status, _ = http("PUT", f"{url}/{cs}", data=body, headers={"Content-Encoding": "zstd"})
    assert status == 200
    assert (cache_root / cs[:2] / (cs + ".zst")).exists()
    assert get_storage().get_buffer(cs) == data


# ---------------------------------------------------------------- seamless-database


def test_database_server_answers_the_result_we_computed(cache_root, start_database):
    assert add(19, 23).compute() == RESULT_42
    url = start_database(cache_root / "seamless.db")
    assert _db_get(url, "transformation", ADD_TF) == (200, RESULT_42.encode())


def test_database_server_sees_results_we_write_while_it_runs(cache_root, start_database):
    get_storage().put_result(_sha(b"tf\n"), HELLO_CS)
    url = start_database(cache_root / "seamless.db")
    assert add(19, 23).compute() == RESULT_42
    assert _db_get(url, "transformation", ADD_TF) == (200, RESULT_42.encode())


def test_database_server_answers_our_reverse_transformations(cache_root, start_database):
    add(19, 23).compute()
    url = start_database(cache_root / "seamless.db")
    status, body = _db_get(url, "rev_transformations", RESULT_42)
    assert status == 200
    assert json.loads(body) == [ADD_TF]


def test_database_server_serves_our_execution_record(cache_root, start_database):
    add(19, 23).compute()
    ours = get_storage().get_record(ADD_TF)
    url = start_database(cache_root / "seamless.db")
    status, body = _db_get(url, "metadata", ADD_TF)
    assert status == 200
    served = json.loads(body)
    assert served == ours
    assert (served["tf_checksum"], served["result_checksum"]) == (ADD_TF, RESULT_42)


def test_database_server_treats_our_record_as_already_recorded(cache_root, start_database):
    add(19, 23).compute()
    record = get_storage().get_record(ADD_TF)
    url = start_database(cache_root / "seamless.db")
    same = {"type": "metadata", "checksum": ADD_TF, "result": RESULT_42, "value": record}
    assert http("PUT", url, json_body=same)[0] == 200
    changed = dict(same, value=dict(record, wall_time_seconds=record["wall_time_seconds"] + 1))
    assert http("PUT", url, json_body=changed)[0] == 409


def test_result_put_through_database_server_is_a_hit_for_our_engine(cache_root, start_database):
    get_storage().put_result(_sha(b"tf\n"), HELLO_CS)  # our seamless.db exists before the server
    url = start_database(cache_root / "seamless.db")
    put = {"type": "transformation", "checksum": ADD_TF, "value": RESULT_42}
    assert http("PUT", url, json_body=put)[0] == 200
    assert engine.lookup(ADD_TF, need_value=False) == RESULT_42
    assert add(19, 23).is_cached()


def test_result_and_buffer_written_by_the_servers_are_used_without_executing(
    cache_root, start_database, start_hashserver
):
    # A deliberately "wrong" cached result (43) proves the value comes from the servers' writes.
    buffer = serialize(43, "mixed")
    fake = _sha(buffer)
    db_url = start_database(cache_root / "seamless.db")
    hs_url = start_hashserver(cache_root)
    assert http("PUT", f"{hs_url}/{fake}", data=buffer)[0] == 200
    put = {"type": "transformation", "checksum": ADD_TF, "value": fake}
    assert http("PUT", db_url, json_body=put)[0] == 200
    assert add(19, 23).run() == 43


def test_record_put_through_database_server_is_read_by_our_storage(cache_root, start_database):
    get_storage().put_result(_sha(b"tf\n"), HELLO_CS)
    url = start_database(cache_root / "seamless.db")
    record = {"schema_version": 1, "tf_checksum": ADD_TF, "result_checksum": RESULT_42, "note": "server"}
    put = {"type": "metadata", "checksum": ADD_TF, "result": RESULT_42, "value": record}
    assert http("PUT", url, json_body=put)[0] == 200
    assert get_storage().get_record(ADD_TF) == record
    assert get_storage().get_result(ADD_TF) == RESULT_42


def test_irreproducible_declared_through_database_server_is_no_hit_for_us(cache_root, start_database):
    add(19, 23).compute()
    url = start_database(cache_root / "seamless.db")
    put = {"type": "irreproducible", "checksum": ADD_TF, "result": RESULT_42}
    assert http("PUT", url, json_body=put)[0] == 200
    engine._reset()  # forget the in-process map; only the database is asked
    assert engine.lookup(ADD_TF, need_value=False) is None


def test_our_irreproducible_declaration_is_a_miss_for_the_database_server(cache_root, start_database):
    add(19, 23).compute()
    url = start_database(cache_root / "seamless.db")
    assert get_storage().declare_irreproducible(ADD_TF, RESULT_42)
    assert _db_get(url, "transformation", ADD_TF)[0] == 404


# ---------------------------------------------------------------- the database file itself


def test_database_server_opens_our_file_without_changing_its_schema(cache_root, start_database):
    db_file = cache_root / "seamless.db"
    get_storage().put_result(ADD_TF, RESULT_42)
    before = _schema(db_file)
    url = start_database(db_file)
    assert _db_get(url, "transformation", ADD_TF) == (200, RESULT_42.encode())
    assert _schema(db_file) == before


def test_our_schema_is_identical_to_the_one_the_server_creates(tmp_path, start_database):
    theirs, ours = tmp_path / "theirs.db", tmp_path / "ours.db"
    url = start_database(theirs)
    assert _db_get(url, "transformation", ADD_TF)[0] == 404
    ResultDB(ours).put_transformation(ADD_TF, RESULT_42)
    assert _schema(ours) == _schema(theirs)


def test_a_database_file_created_by_the_server_works_as_our_seamless_db(cache_root, start_database):
    url = start_database(cache_root / "seamless.db")
    assert http("PUT", url, json_body={"type": "transformation", "checksum": ADD_TF, "value": RESULT_42})[0] == 200
    assert get_storage().get_result(ADD_TF) == RESULT_42
    other = _sha(b"other tf\n")
    get_storage().put_result(other, HELLO_CS)
    assert _db_get(url, "transformation", other) == (200, HELLO_CS.encode())


# ---------------------------------------------------------------- seamless-run

ECHO_HELLO_TF = "706b247db5f69ec5dc5b452a1a9164089faed42eaab3d461b8dfdf3217a36550"


def test_hashserver_serves_the_stdout_buffer_of_seamless_run(cache_root, start_hashserver, seamless_run):
    done = seamless_run("echo hello")
    assert (done.returncode, done.stdout) == (0, HELLO), done.stderr
    url = start_hashserver(cache_root)
    assert http("GET", f"{url}/{HELLO_CS}") == (200, HELLO)


def test_database_server_answers_the_result_of_seamless_run(cache_root, start_database, seamless_run):
    done = seamless_run("echo hello")
    assert done.returncode == 0, done.stderr
    url = start_database(cache_root / "seamless.db")
    assert _db_get(url, "transformation", ECHO_HELLO_TF) == (200, HELLO_CS.encode())


def test_seamless_run_prints_a_result_written_by_the_servers_without_executing(
    cache_root, start_database, start_hashserver, seamless_run
):
    # The servers claim that `echo hello` printed "from the servers": we must print that.
    buffer = b"from the servers\n"
    db_url = start_database(cache_root / "seamless.db")
    hs_url = start_hashserver(cache_root)
    assert http("PUT", f"{hs_url}/{_sha(buffer)}", data=buffer)[0] == 200
    put = {"type": "transformation", "checksum": ECHO_HELLO_TF, "value": _sha(buffer)}
    assert http("PUT", db_url, json_body=put)[0] == 200
    done = seamless_run("echo hello")
    assert (done.returncode, done.stdout) == (0, buffer), done.stderr
