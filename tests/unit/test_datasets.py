"""Datasets (run/datasets.py): the seed's preparation, checksums, offline behaviour and the
prepared-array cache."""

from __future__ import annotations

import re
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from helpers import DATA_DIR_GIVEN, NIETZSCHE, NIETZSCHE_DIR, NIETZSCHE_MISSING
from pytest_rnnbench.run import datasets
from pytest_rnnbench.run.datasets import DataCorrupt, DataUnavailable, worker_spec


@pytest.fixture
def nietzsche_copy() -> None:
    """A given offline copy that is missing is a broken setup; without one (a fresh clone), the
    product's download stands in, and without network the test skips, saying why."""
    if DATA_DIR_GIVEN:
        assert NIETZSCHE.is_file(), f"the offline Nietzsche copy is missing: {NIETZSCHE}"
    elif not NIETZSCHE.is_file():
        pytest.skip(NIETZSCHE_MISSING)


needs_nietzsche = pytest.mark.usefixtures("nietzsche_copy")


WIKI_LINES = [
    " = Valkyria Chronicles III = ",
    "",
    " Senjō no Valkyria 3 : Unrecorded Chronicles ( Japanese : 戦場のヴァルキュリア3 ) , "
    "commonly referred to as Valkyria Chronicles III outside Japan , is a tactical role @-@ "
    "playing video game developed by Sega and Media.Vision for the PlayStation Portable .",
    " Released in January 2011 in Japan , it is the third game in the Valkyria series . ",
    " The game 's battle system , the BliTZ system , is carried over directly from "
    "Valkyira Chronicles . During missions , players select each unit using a top @-@ down "
    "perspective of the battlefield map : once a character is selected , the player moves "
    "the character around the battlefield in third @-@ person . A character can only act once "
    "per @-@ turn , but characters can be granted multiple turns at the expense of other "
    "characters ' turns . Each character has a field and distance of movement limited by "
    "their Action Gauge . Up to nine characters can be assigned to a single mission .",
]


def seed_wikitext_text(lines: list[str]) -> str:
    """The seed's preparation, written out independently of the product code."""
    out = ""
    for line in lines:
        out += " ".join(re.findall("[a-zA-Z0-9]+", line)).lower()
    return out


def seed_windows(text: str) -> tuple[list[str], list[str], list[str]]:
    chars = sorted(set(text))
    sentences, next_chars = [], []
    for i in range(0, len(text) - 40, 3):
        sentences.append(text[i : i + 40])
        next_chars.append(text[i + 40])
    return chars, sentences, next_chars


def make_wikitext_zip(
    path: Path, lines: list[str] = WIKI_LINES, member: str = "wikitext-2-raw/wiki.train.raw"
) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, "\n".join(lines) + "\n")
        archive.writestr("wikitext-2-raw/wiki.valid.raw", "not used\n")
    return path


# -- Nietzsche -------------------------------------------------------------------------------------


@needs_nietzsche
def test_nietzsche_from_the_data_dir_has_the_seed_counts(tmp_path: Path) -> None:
    spec = worker_spec("nietzsche", NIETZSCHE_DIR, tmp_path / "cache")
    assert spec["kind"] == "text"
    assert spec["full_samples"] == 200_285
    assert spec["samples"] == 200_285
    assert spec["vocab"] == 57
    assert spec["timesteps"] == 40
    assert spec["cap"] is None
    with np.load(spec["path"]) as arrays:
        x, y = arrays["x"], arrays["y"]
    assert x.shape == (200_285, 40) and y.shape == (200_285,)
    # The windows are the seed's: sorted characters, every third start, next char as target.
    text = NIETZSCHE.read_text(encoding="utf-8").lower()
    chars = sorted(set(text))
    for i in (0, 1, 12_345, 200_284):
        assert "".join(chars[k] for k in x[i]) == text[3 * i : 3 * i + 40]
        assert chars[y[i]] == text[3 * i + 40]


@needs_nietzsche
def test_sample_cap_is_applied_and_recorded(tmp_path: Path) -> None:
    spec = worker_spec("nietzsche", NIETZSCHE_DIR, tmp_path / "cache", cap=1000)
    assert (spec["samples"], spec["full_samples"], spec["cap"]) == (1000, 200_285, 1000)
    big = worker_spec("nietzsche", NIETZSCHE_DIR, tmp_path / "cache", cap=10**9)
    assert big["samples"] == 200_285


def test_synthetic_spec_is_the_seed_shape() -> None:
    spec = worker_spec("synthetic", None, Path("/nonexistent"))
    assert (spec["samples"], spec["timesteps"], spec["features"]) == (50_000, 40, 60)
    assert worker_spec("synthetic", None, Path("/nonexistent"), cap=256)["samples"] == 256


def test_unknown_dataset_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="imdb"):
        worker_spec("imdb", None, tmp_path)


# -- checksums and offline -------------------------------------------------------------------------


def test_wrong_checksum_in_the_data_dir_is_an_error_and_the_file_is_not_used(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    bad = data_dir / "nietzsche.txt"
    bad.write_text("preface\n\nsupposing that truth is a woman--what then?\n" * 1000)
    cache = tmp_path / "cache"
    with pytest.raises(DataCorrupt) as excinfo:
        worker_spec("nietzsche", data_dir, cache)
    message = str(excinfo.value)
    assert str(bad) in message
    assert datasets.SOURCES["nietzsche"].sha256 in message
    assert "was not used" in message
    assert not (cache / "prepared").exists()
    assert bad.exists()  # the user's file is left alone


@needs_nietzsche
def test_truncated_file_is_reported_as_such(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "nietzsche.txt").write_bytes(NIETZSCHE.read_bytes()[:100_000])
    with pytest.raises(DataCorrupt, match=r"100,000 of 600,901 bytes: truncated"):
        worker_spec("nietzsche", data_dir, tmp_path / "cache")


@pytest.mark.parametrize("name", ["nietzsche", "wikitext2"])
def test_missing_file_offline_names_the_file_and_url(tmp_path: Path, name: str) -> None:
    """No network here: the download fails quickly and the case can say what to fetch."""
    source = datasets.SOURCES[name]
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    started = time.monotonic()
    with pytest.raises(DataUnavailable) as excinfo:
        worker_spec(name, data_dir, tmp_path / "cache")
    elapsed = time.monotonic() - started
    message = str(excinfo.value)
    assert source.filename in message
    assert source.url in message
    assert str(data_dir / source.filename) in message
    assert elapsed < 60, f"the failed download took {elapsed:.0f} s"


def test_missing_data_dir_names_the_file_and_url(tmp_path: Path) -> None:
    source = datasets.SOURCES["nietzsche"]
    with pytest.raises(DataUnavailable) as excinfo:
        worker_spec("nietzsche", tmp_path / "nope", tmp_path / "cache")
    message = str(excinfo.value)
    assert str(tmp_path / "nope") in message
    assert source.filename in message and source.url in message


@needs_nietzsche
def test_a_verified_download_cache_is_used_without_a_data_dir(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (cache / "downloads").mkdir(parents=True)
    shutil.copy(NIETZSCHE, cache / "downloads" / "nietzsche.txt")
    assert worker_spec("nietzsche", None, cache)["full_samples"] == 200_285


def test_a_corrupt_download_cache_is_set_aside_and_fetched_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    downloads = cache / "downloads"
    downloads.mkdir(parents=True)
    (downloads / "nietzsche.txt").write_text("half a download")
    with pytest.raises(DataUnavailable, match="download failed"):  # offline: the refetch fails
        worker_spec("nietzsche", None, cache)
    assert (downloads / "nietzsche.txt.corrupt").read_text() == "half a download"
    assert not (cache / "prepared").exists()


# -- the prepared-array cache ----------------------------------------------------------------------


@needs_nietzsche
def test_second_prepare_reuses_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    first = worker_spec("nietzsche", NIETZSCHE_DIR, cache)
    prepared = Path(first["path"])
    mtime = prepared.stat().st_mtime_ns

    def must_not_read(path: Path) -> str:
        raise AssertionError(f"the source {path} was read again")

    monkeypatch.setitem(datasets.READERS, "nietzsche", must_not_read)
    second = worker_spec("nietzsche", NIETZSCHE_DIR, cache, cap=512)
    assert second["path"] == first["path"]
    assert (second["vocab"], second["full_samples"], second["samples"]) == (57, 200_285, 512)
    assert prepared.stat().st_mtime_ns == mtime


def test_a_damaged_prepared_cache_is_rebuilt(tmp_path: Path) -> None:
    archive = make_wikitext_zip(tmp_path / "small.zip")
    cache = tmp_path / "cache"
    first = worker_spec("wikitext2", None, cache, source_path=archive)
    Path(first["path"]).write_bytes(b"not an npz")
    second = worker_spec("wikitext2", None, cache, source_path=archive)
    assert second["full_samples"] == first["full_samples"]
    assert Path(first["path"] + ".corrupt").exists()
    with np.load(second["path"]) as arrays:
        assert arrays["x"].shape == (first["full_samples"], 40)


# -- WikiText-2 on a small archive of the published layout -----------------------------------------


def test_wikitext2_preparation_is_the_seeds(tmp_path: Path) -> None:
    archive = make_wikitext_zip(tmp_path / "wikitext-2-raw-v1.zip")
    text = datasets.read_wikitext2(archive)
    expected = seed_wikitext_text(WIKI_LINES)
    assert text == expected
    # Tokens joined by one space, lowercased, lines glued with no separator.
    assert text.startswith(
        "valkyria chronicles iiisenj no valkyria 3 unrecorded chronicles japanese 3 commonly"
    )
    assert "media vision" in text and "role playing" in text
    assert "2011 in japan it is the third game in the valkyria seriesthe game s battle" in text
    assert text == text.lower() and "  " not in text


def test_wikitext2_windows_are_the_seeds(tmp_path: Path) -> None:
    archive = make_wikitext_zip(tmp_path / "wikitext-2-raw-v1.zip")
    spec = worker_spec("wikitext2", None, tmp_path / "cache", source_path=archive)
    chars, sentences, next_chars = seed_windows(seed_wikitext_text(WIKI_LINES))
    assert spec["vocab"] == len(chars)
    assert spec["full_samples"] == len(sentences)
    with np.load(spec["path"]) as arrays:
        x, y = arrays["x"], arrays["y"]
    assert ["".join(chars[k] for k in row) for row in x] == sentences
    assert [chars[k] for k in y] == next_chars


def test_windows_of_a_tiny_text() -> None:
    text = "abcdefghijklmnopqrstuvwxyz0123456789 .,;!?xyz"  # 45 characters
    x, y, vocab = datasets.windows(text)
    assert vocab == len(set(text))
    assert x.shape == (2, 40)  # starts 0 and 3; 6 + 40 > 45 - 1
    chars = sorted(set(text))
    assert "".join(chars[k] for k in x[1]) == text[3:43]
    assert chars[y[1]] == text[43]


def test_an_archive_without_the_training_file_is_corrupt(tmp_path: Path) -> None:
    archive = make_wikitext_zip(tmp_path / "wikitext-2-raw-v1.zip", member="wiki.train.raw")
    with pytest.raises(DataCorrupt, match="wikitext-2-raw/wiki.train.raw"):
        worker_spec("wikitext2", None, tmp_path / "cache", source_path=archive)
    not_a_zip = tmp_path / "broken.zip"
    not_a_zip.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DataCorrupt, match="broken.zip"):
        worker_spec("wikitext2", None, tmp_path / "cache", source_path=not_a_zip)


def test_datasets_module_imports_no_framework() -> None:
    import subprocess
    import sys

    code = (
        "import sys, pytest_rnnbench.run.datasets; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('keras', 'tensorflow', 'jax', 'torch', 'mxnet', 'pooch')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
