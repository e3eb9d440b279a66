"""The matrix (matrix.py): case ids, build_matrix, presets and shards, on plain values (issue 2).

What pytest collects and skips for a matrix runs end to end in tests/acceptance/test_matrix_e2e.py.
"""

from __future__ import annotations

import pytest

from helpers import SEED_IDS
from pytest_rnnbench.backends import BACKENDS
from pytest_rnnbench.matrix import (
    CASE_ID_FORM,
    DATASETS,
    PRESETS,
    Case,
    build_matrix,
    is_plain_name,
    parse_shard,
    shard,
)
from pytest_rnnbench.settings import GPU_COUNTS_FOR_ALL


def test_case_id_is_the_documented_spelling() -> None:
    assert (
        Case("tensorflow", 0, 128, True, "synthetic").id == "tensorflow-gpu0-b128-unroll-synthetic"
    )
    assert Case("mxnet", 4, 32, False, "wikitext2").id == "mxnet-gpu4-b32-nounroll-wikitext2"


def test_case_to_dict_round_trips() -> None:
    case = Case("jax", 2, 64, False, "nietzsche")
    data = case.to_dict()
    assert data == {
        "id": "jax-gpu2-b64-nounroll-nietzsche",
        "backend": "jax",
        "gpus": 2,
        "batch_size": 64,
        "unroll": False,
        "dataset": "nietzsche",
    }
    assert Case(**{k: v for k, v in data.items() if k != "id"}) == case


def test_cases_are_frozen_and_hashable() -> None:
    case = Case("torch", 0, 128, True, "synthetic")
    with pytest.raises(AttributeError):
        case.batch_size = 32  # type: ignore[misc]
    assert {case, Case("torch", 0, 128, True, "synthetic")} == {case}


# -- case ids parsed back (Case.from_id): the inverse of Case.id -----------------------------------


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_case_of_every_preset_parses_back_to_itself(preset: str) -> None:
    axes = PRESETS[preset]
    cases = build_matrix(
        BACKENDS, (0, *GPU_COUNTS_FOR_ALL), axes["batch_sizes"], axes["unrolls"], axes["datasets"]
    )
    assert cases  # the preset has cases, so the loop below checks something
    for case in cases:
        assert Case.from_id(case.id) == case
        assert Case.from_id(case.id).id == case.id


def test_names_with_underscores_and_large_counts_parse_back() -> None:
    case = Case("my_backend", 16, 4096, False, "wiki_text_103")
    assert Case.from_id("my_backend-gpu16-b4096-nounroll-wiki_text_103") == case


@pytest.mark.parametrize(
    "text",
    [
        "",
        "tensorflow",
        "tensorflow-gpu0-b128-unroll",  # no dataset
        "tensorflow-gpu0-b128-unroll-synthetic-extra",
        "tensorflow-cpu0-b128-unroll-synthetic",
        "tensorflow-gpu-b128-unroll-synthetic",
        "tensorflow-gpu0-128-unroll-synthetic",
        "tensorflow-gpu0-b128-unrolled-synthetic",
        "tensorflow-gpu01-b128-unroll-synthetic",  # not how Case.id spells 1 GPU
        "tensorflow-gpu0-b+128-unroll-synthetic",
        "tensorflow-gpu\u00b2-b128-unroll-synthetic",  # a digit to isdigit(), not to int()
        "TensorFlow-gpu0-b128-unroll-synthetic",
        "tensorflow-gpu0-b128-unroll-../etc",
        "tensorflow-gpu0-b128-unroll-",
    ],
)
def test_text_that_case_id_cannot_have_made_is_refused_with_the_form(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        Case.from_id(text)
    assert str(caught.value) == f"case id {text!r} is not of the form {CASE_ID_FORM}"


@pytest.mark.parametrize(
    "name, plain", [("tensorflow", True), ("wiki_2", True), ("", False), ("a-b", False), (3, False)]
)
def test_plain_names(name: object, plain: bool) -> None:
    assert is_plain_name(name) is plain


def test_seed_matrix_is_the_published_benchmark() -> None:
    seed = PRESETS["seed"]
    cases = build_matrix(BACKENDS, (0,), seed["batch_sizes"], seed["unrolls"], seed["datasets"])
    assert len(cases) == 48
    assert {case.id for case in cases} == SEED_IDS
    assert len({case.id for case in cases}) == 48


def test_build_matrix_order_is_dataset_batch_unroll_gpus_backend() -> None:
    cases = build_matrix(("jax", "torch"), (0, 4), (32, 128), (True, False), DATASETS[:2])
    assert len(cases) == 2 * 2 * 2 * 2 * 2
    assert [c.id for c in cases[:5]] == [
        "jax-gpu0-b32-unroll-synthetic",
        "torch-gpu0-b32-unroll-synthetic",
        "jax-gpu4-b32-unroll-synthetic",
        "torch-gpu4-b32-unroll-synthetic",
        "jax-gpu0-b32-nounroll-synthetic",
    ]
    assert cases[-1].id == "torch-gpu4-b128-nounroll-nietzsche"
    # The same inputs give the same list: ids key baselines.
    assert cases == build_matrix(("jax", "torch"), (0, 4), (32, 128), (True, False), DATASETS[:2])


def test_build_matrix_with_an_empty_axis_is_empty() -> None:
    assert build_matrix(BACKENDS, (), (128,), (True,), DATASETS) == []


def test_matrix_module_does_not_import_pytest() -> None:
    import pytest_rnnbench.matrix as matrix

    assert "pytest" not in matrix.__dict__


# -- shards ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [("1/1", (1, 1)), ("2/4", (2, 4)), (" 3 / 3 ", (3, 3))])
def test_parse_shard(text, expected):
    assert parse_shard(text) == expected


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "two/4", "1", "", "-1/2"])
def test_parse_shard_rejects(text):
    with pytest.raises(ValueError, match="K/N"):
        parse_shard(text)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7])
def test_shards_partition_the_seed_matrix(n):
    cases = build_matrix(
        BACKENDS, (0, 1, 4, 8), (32, 128), (True, False), ("synthetic", "nietzsche", "wikitext2")
    )
    parts = [shard(cases, k, n) for k in range(1, n + 1)]
    assert sorted(c.id for part in parts for c in part) == sorted(c.id for c in cases)
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    # Deterministic: the same split every time.
    assert [c.id for c in shard(cases, 1, n)] == [c.id for c in parts[0]]
