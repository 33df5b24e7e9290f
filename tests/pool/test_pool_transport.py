"""Big buffers between the parent and a worker: one copy each way through shared memory (pool/shm.py)."""

import os

from seamless_transformer import delayed
from seamless_transformer.pool import get_pool


def test_a_big_buffer_comes_back_from_a_worker_as_a_view_of_shared_memory_not_a_copy(workers, shm_listing):
    listing, new_segments = shm_listing
    before = listing()
    workers(1)
    data = os.urandom(1 << 20)
    back = get_pool().echo(data)
    assert isinstance(back, memoryview) and back.readonly
    assert back == data
    assert get_pool().segments.names() == []  # both segments unlinked, though `back` still maps one
    assert new_segments(before) == set()


def test_a_big_input_and_result_of_a_nested_transformation_round_trip_without_persistent_storage(workers):
    with open("seamless.yaml", "w") as f:
        f.write("- persistent: false\n")  # buffers travel with the messages, both ways
    workers(2)

    @delayed
    def outer(data):
        from seamless_transformer import delayed

        inner = delayed("data[::-1]")
        return inner(data=data).run()[::-1] == data

    assert outer(os.urandom(300_000).hex()).run() is True
