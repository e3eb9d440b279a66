"""GPU sets under pytest-xdist and matrix shards, on plain values."""

import pytest

from pytest_rnnbench.matrix import BACKENDS, build_matrix
from pytest_rnnbench.matrix import parse_shard, shard
from pytest_rnnbench.run.devices import slot_for, xdist_worker


def test_without_xdist_the_process_owns_every_gpu():
    slot = slot_for({}, 8)
    assert slot.gpu_indices == tuple(range(8)) and slot.worker is None


@pytest.mark.parametrize("workers", [1, 2, 3, 4, 8])
def test_xdist_workers_get_disjoint_gpu_blocks(workers):
    blocks = [slot_for({"PYTEST_XDIST_WORKER": f"gw{i}",
                        "PYTEST_XDIST_WORKER_COUNT": str(workers)}, 8).gpu_indices
              for i in range(workers)]
    owned = [gpu for block in blocks for gpu in block]
    assert len(owned) == len(set(owned)), "two workers share a GPU"
    assert all(len(block) == 8 // workers for block in blocks)
    assert all(list(block) == list(range(block[0], block[0] + len(block))) for block in blocks if block)


def test_more_workers_than_gpus_leaves_some_without():
    env = {"PYTEST_XDIST_WORKER": "gw3", "PYTEST_XDIST_WORKER_COUNT": "4"}
    assert slot_for(env, 2).gpu_indices == ()
    assert "gw3 of 4" in slot_for(env, 2).describe()


def test_xdist_worker_parsing():
    assert xdist_worker({"PYTEST_XDIST_WORKER": "gw12", "PYTEST_XDIST_WORKER_COUNT": "16"}) == ("gw12", 12, 16)
    assert xdist_worker({}) == (None, 0, 1)


@pytest.mark.parametrize("text, expected", [("1/1", (1, 1)), ("2/4", (2, 4)), (" 3 / 3 ", (3, 3))])
def test_parse_shard(text, expected):
    assert parse_shard(text) == expected


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "two/4", "1", "", "-1/2"])
def test_parse_shard_rejects(text):
    with pytest.raises(ValueError, match="K/N"):
        parse_shard(text)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7])
def test_shards_partition_the_seed_matrix(n):
    cases = build_matrix(BACKENDS, (0, 1, 4, 8), (32, 128), (True, False),
                         ("synthetic", "nietzsche", "wikitext2"))
    parts = [shard(cases, k, n) for k in range(1, n + 1)]
    assert sorted(c.id for part in parts for c in part) == sorted(c.id for c in cases)
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    # Deterministic: the same split every time.
    assert [c.id for c in shard(cases, 1, n)] == [c.id for c in parts[0]]
