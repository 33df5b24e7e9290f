"""The parent's table of shared-memory segments (pool/shm.py)."""

import pytest

from seamless_transformer.pool.shm import SegmentTable


def test_a_segment_that_cannot_be_filled_is_unlinked_at_once(shm_listing):
    shm_segments, new_segments = shm_listing
    before = shm_segments()
    table = SegmentTable()
    with pytest.raises(TypeError):
        table.create(16, "seamless-worker-1", data=object())  # not bytes-like: the write fails
    assert table.names() == []
    assert new_segments(before, settle=0) == set()
