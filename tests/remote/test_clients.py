"""The hashserver and database clients against real servers: batches, lengths, records, marks."""

import hashlib
import json

from garbage_server import GarbageServer

from seamless_transformer.store import remote

def _cs(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _record(tf, res, **extra) -> dict:
    return {"schema_version": 1, "tf_checksum": tf, "result_checksum": res, **extra}


def test_has_asks_in_batches_of_at_most_1000(tmp_path):
    checksums = [_cs(str(i).encode()) for i in range(2500)]
    with GarbageServer("wrong-bytes") as server:
        answers = remote.BufferServer(server.url).has(checksums)
        assert server.requests == 3
    assert answers == [True] * 2500


def test_has_and_buffer_lengths_answer_per_checksum(tmp_path, start_hashserver):
    hs_dir = tmp_path / "hs"
    hs_dir.mkdir()
    server = remote.BufferServer(start_hashserver(hs_dir))
    server.put(_cs(b"abc"), b"abc")
    assert server.has([_cs(b"abc"), _cs(b"nope")]) == [True, False]
    assert server.has([_cs(b"abc")], now=True) == [True]
    assert server.buffer_lengths([_cs(b"abc"), _cs(b"nope")]) == [3, 0]


def test_a_buffer_stored_compressed_on_the_server_is_served_decompressed_and_verified(tmp_path, start_hashserver):
    import gzip

    hs_dir = tmp_path / "hs"
    hs_dir.mkdir()
    url = start_hashserver(hs_dir)
    data = b"compress me\n" * 1000
    (hs_dir / ".HASHSERVER_PREFIX").write_text("1\n")
    (hs_dir / _cs(data)[:2]).mkdir(exist_ok=True)
    (hs_dir / _cs(data)[:2] / (_cs(data) + ".gz")).write_bytes(gzip.compress(data))
    assert remote.BufferServer(url).get(_cs(data)) == data


def test_the_database_client_round_trips_results_reverse_lookups_and_records(tmp_path, start_database):
    db = remote.DatabaseServer(start_database(tmp_path / "db.sqlite"))
    tf, res = _cs(b"tf"), _cs(b"res")
    assert db.get_transformation(tf) is None
    db.put_transformation(tf, res)
    assert db.put_metadata(tf, res, _record(tf, res)) is True
    assert db.get_transformation(tf) == res
    assert db.get_rev_transformations(res) == [tf]
    assert db.get_metadata(tf) == _record(tf, res)


def test_a_conflicting_execution_record_409_is_not_an_error(tmp_path, start_database):
    db = remote.DatabaseServer(start_database(tmp_path / "db.sqlite"))
    tf, res = _cs(b"tf"), _cs(b"res")
    db.put_metadata(tf, res, _record(tf, res))
    assert db.put_metadata(tf, res, _record(tf, res, wall_time_seconds=2.0)) is False
    assert db.get_metadata(tf) == _record(tf, res)


def test_an_irreproducible_mark_forgets_the_result_on_the_server(tmp_path, start_database):
    db = remote.DatabaseServer(start_database(tmp_path / "db.sqlite"))
    tf, res = _cs(b"tf"), _cs(b"res")
    db.put_transformation(tf, res)
    assert db.declare_irreproducible(tf, res) is True
    assert db.get_transformation(tf) is None
    assert db.declare_irreproducible(tf, res) is False


def test_the_database_speaks_protocol_2_2(tmp_path, start_database):
    url = start_database(tmp_path / "db.sqlite")
    response = remote.request("GET", url, json_body={"type": "protocol"})
    assert json.loads(response.data) == ["seamless", "database", "2.2"]


def test_a_buffer_the_server_reported_is_not_asked_about_again():
    checksums = [_cs(str(i).encode()) for i in range(10)]
    with GarbageServer("wrong-bytes") as server:
        client = remote.BufferServer(server.url)
        assert client.has(checksums) == [True] * 10
        assert client.has(checksums[:5]) == [True] * 5
        assert server.requests == 1
