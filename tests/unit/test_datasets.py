"""Datasets (run/datasets.py): the seed's preparation, checksums, where a file comes from (the data
dir, the download cache, a download from a local HTTP server), and the prepared-array cache.

No test here reaches the internet: every source's URL points at a local port that refuses
connections unless a test serves the file itself. The Nietzsche tests use the published text when
this checkout has it (helpers.py says where it is looked for) and otherwise a small file of the
same format, with datasets.SOURCES patched to that file's checksum and size; only the test of the
seed's real counts needs the published text.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import socket
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

import numpy as np
import pytest

from helpers import DATA_DIR_GIVEN, NIETZSCHE_MISSING, NIETZSCHE_REAL, make_nietzsche
from pytest_rnnbench.run import datasets
from pytest_rnnbench.run.datasets import DataCorrupt, DataUnavailable, Source, worker_spec


@pytest.fixture(autouse=True)
def no_internet(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every source's URL points at a local port that is bound but not listening, so a download
    is refused at once, the same with or without network."""
    refuser = socket.socket()
    refuser.bind(("127.0.0.1", 0))  # held, never listening: nobody else can take the port
    base = f"http://127.0.0.1:{refuser.getsockname()[1]}"
    # A developer's proxy must not stand between the tests and their local ports.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    for name, source in list(datasets.SOURCES.items()):
        monkeypatch.setitem(
            datasets.SOURCES, name, replace(source, url=f"{base}/{source.filename}")
        )
    yield
    refuser.close()


@dataclass(frozen=True)
class Text:
    path: Path  # the Nietzsche file, in a directory of its own (a data dir)
    source: Source  # its identity, as datasets.SOURCES["nietzsche"] now holds it

    @property
    def directory(self) -> Path:
        return self.path.parent

    def samples(self) -> int:
        """The seed's window count, from the text itself."""
        return len(range(0, len(self.path.read_text(encoding="utf-8")) - 40, 3))


@pytest.fixture
def nietzsche(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Text:
    """The published text when this checkout has it, else a small file of the same format with
    datasets.SOURCES patched to its identity. A given offline copy that is missing or wrong is a
    broken setup, not a reason to test less."""
    if NIETZSCHE_REAL is not None:
        directory = tmp_path / "published"
        directory.mkdir()
        path = Path(shutil.copy(NIETZSCHE_REAL, directory / NIETZSCHE_REAL.name))
        return Text(path, datasets.SOURCES["nietzsche"])
    if DATA_DIR_GIVEN:
        pytest.fail(NIETZSCHE_MISSING)
    path, source = make_nietzsche(tmp_path / "made")
    monkeypatch.setitem(
        datasets.SOURCES, "nietzsche", replace(source, url=datasets.SOURCES["nietzsche"].url)
    )
    return Text(path, datasets.SOURCES["nietzsche"])


@pytest.fixture
def published_nietzsche() -> Path:
    """The published text itself, for the seed's real counts."""
    if NIETZSCHE_REAL is None:
        if DATA_DIR_GIVEN:
            pytest.fail(NIETZSCHE_MISSING)
        pytest.skip(NIETZSCHE_MISSING)
    return NIETZSCHE_REAL


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass  # the requests are the test's business, not its output's


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server in a thread: (its base URL, the directory it serves)."""
    root = tmp_path / "served"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root))
    )
    # A short poll interval: shutdown() waits for the loop to look up.
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def data_dir_of(tmp_path: Path, kind: Optional[str]) -> Optional[Path]:
    """The data dir a test's parameter asks for: None, "empty" or "does not exist"."""
    if kind is None:
        return None
    given = tmp_path / "data"
    if kind == "empty":
        given.mkdir()
    return given


def untouched(given: Optional[Path], kind: Optional[str]) -> bool:
    """The data dir was only read: an empty one is still empty, a missing one still missing."""
    if given is None:
        return True
    if kind == "empty":
        return given.is_dir() and not any(given.iterdir())
    return not given.exists()


def serve(
    monkeypatch: pytest.MonkeyPatch, server: tuple[str, Path], text: Text, content: bytes
) -> Source:
    """Serve `content` as the Nietzsche file and point its source at it (same checksum)."""
    base, root = server
    (root / text.source.filename).write_bytes(content)
    source = replace(text.source, url=f"{base}/{text.source.filename}")
    monkeypatch.setitem(datasets.SOURCES, "nietzsche", source)
    return source


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


def test_the_published_nietzsche_has_the_seed_counts(
    published_nietzsche: Path, tmp_path: Path
) -> None:
    spec = worker_spec("nietzsche", published_nietzsche.parent, tmp_path / "cache")
    assert spec["kind"] == "text"
    assert (spec["full_samples"], spec["samples"], spec["vocab"]) == (200_285, 200_285, 57)
    assert (spec["timesteps"], spec["cap"]) == (40, None)
    with np.load(spec["path"]) as arrays:
        assert arrays["x"].shape == (200_285, 40) and arrays["y"].shape == (200_285,)


def test_nietzsche_windows_are_the_seeds(nietzsche: Text, tmp_path: Path) -> None:
    spec = worker_spec("nietzsche", nietzsche.directory, tmp_path / "cache")
    text = nietzsche.path.read_text(encoding="utf-8").lower()
    chars, sentences, next_chars = seed_windows(text)
    assert (spec["vocab"], spec["full_samples"], spec["samples"]) == (
        len(chars),
        len(sentences),
        len(sentences),
    )
    assert spec["full_samples"] == nietzsche.samples() > 1000
    with np.load(spec["path"]) as arrays:
        x, y = arrays["x"], arrays["y"]
    # The windows are the seed's: sorted characters, every third start, next char as target.
    last = len(sentences) - 1
    for i in (0, 1, last // 2, last):
        assert "".join(chars[k] for k in x[i]) == sentences[i]
        assert chars[y[i]] == next_chars[i]


def test_sample_cap_is_applied_and_recorded(nietzsche: Text, tmp_path: Path) -> None:
    full = nietzsche.samples()
    spec = worker_spec("nietzsche", nietzsche.directory, tmp_path / "cache", cap=1000)
    assert (spec["samples"], spec["full_samples"], spec["cap"]) == (1000, full, 1000)
    big = worker_spec("nietzsche", nietzsche.directory, tmp_path / "cache", cap=10**9)
    assert big["samples"] == full


def test_synthetic_spec_is_the_seed_shape() -> None:
    spec = worker_spec("synthetic", None, Path("/nonexistent"))
    assert (spec["samples"], spec["timesteps"], spec["features"]) == (50_000, 40, 60)
    assert worker_spec("synthetic", None, Path("/nonexistent"), cap=256)["samples"] == 256


def test_unknown_dataset_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="imdb"):
        worker_spec("imdb", None, tmp_path)


# -- a file in the data dir ------------------------------------------------------------------------


def test_wrong_checksum_in_the_data_dir_is_an_error_even_with_a_good_copy_in_the_cache(
    nietzsche: Text, tmp_path: Path
) -> None:
    """The user named that copy: a wrong one fails, and is not quietly replaced by another."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    bad = data_dir / "nietzsche.txt"
    bad.write_text("preface\n\nsupposing that truth is a woman--what then?\n" * 1000)
    cache = tmp_path / "cache"
    (cache / "downloads").mkdir(parents=True)
    shutil.copy(nietzsche.path, cache / "downloads" / "nietzsche.txt")
    with pytest.raises(DataCorrupt) as excinfo:
        worker_spec("nietzsche", data_dir, cache)
    message = str(excinfo.value)
    assert str(bad) in message
    assert nietzsche.source.sha256 in message
    assert "was not used" in message
    assert not (cache / "prepared").exists()
    assert bad.exists()  # the user's file is left alone


def test_truncated_file_is_reported_as_such(nietzsche: Text, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    half = nietzsche.source.size // 2
    (data_dir / "nietzsche.txt").write_bytes(nietzsche.path.read_bytes()[:half])
    expected = f"{half:,} of {nietzsche.source.size:,} bytes: truncated"
    with pytest.raises(DataCorrupt, match=re.escape(expected)):
        worker_spec("nietzsche", data_dir, tmp_path / "cache")


@pytest.mark.parametrize("data_dir", ["empty", "does not exist"])
def test_a_data_dir_without_the_file_falls_back_to_the_cache(
    nietzsche: Text, tmp_path: Path, data_dir: str
) -> None:
    given = data_dir_of(tmp_path, data_dir)
    cache = tmp_path / "cache"
    (cache / "downloads").mkdir(parents=True)
    shutil.copy(nietzsche.path, cache / "downloads" / "nietzsche.txt")
    assert worker_spec("nietzsche", given, cache)["full_samples"] == nietzsche.samples()
    assert untouched(given, data_dir)


def test_a_verified_download_cache_is_used_without_a_data_dir(
    nietzsche: Text, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    (cache / "downloads").mkdir(parents=True)
    shutil.copy(nietzsche.path, cache / "downloads" / "nietzsche.txt")
    assert worker_spec("nietzsche", None, cache)["full_samples"] == nietzsche.samples()


# -- downloads, from a local HTTP server -----------------------------------------------------------


@pytest.mark.parametrize("data_dir", [None, "empty", "does not exist"])
def test_a_download_is_verified_and_kept_in_the_cache(
    nietzsche: Text,
    server: tuple[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    data_dir: Optional[str],
) -> None:
    """With no data dir, or one without the file, the file is downloaded into the cache (never
    into the user's data dir), and later runs use the cached copy without the network."""
    given = data_dir_of(tmp_path, data_dir)
    serve(monkeypatch, server, nietzsche, nietzsche.path.read_bytes())
    cache = tmp_path / "cache"
    assert worker_spec("nietzsche", given, cache)["full_samples"] == nietzsche.samples()
    downloaded = cache / "downloads" / "nietzsche.txt"
    assert downloaded.read_bytes() == nietzsche.path.read_bytes()
    assert [p.name for p in (cache / "downloads").iterdir()] == ["nietzsche.txt"]
    assert untouched(given, data_dir)
    (server[1] / "nietzsche.txt").unlink()  # the server has it no more: the cache must do
    assert worker_spec("nietzsche", given, cache, cap=100)["samples"] == 100


def test_a_download_that_fails_verification_is_corrupt_and_leaves_nothing(
    nietzsche: Text, server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    source = serve(monkeypatch, server, nietzsche, nietzsche.path.read_bytes()[:5000])
    cache = tmp_path / "cache"
    with pytest.raises(DataCorrupt) as excinfo:
        worker_spec("nietzsche", None, cache)
    message = str(excinfo.value)
    assert f"download of {source.url} failed verification" in message
    assert source.sha256 in message
    assert list((cache / "downloads").iterdir()) == []  # no half download, no temporary file
    assert not (cache / "prepared").exists()


@pytest.mark.parametrize("data_dir", [None, "empty", "does not exist"])
@pytest.mark.parametrize("name", ["nietzsche", "wikitext2"])
def test_a_failed_download_names_the_file_the_url_and_where_to_put_it(
    tmp_path: Path, name: str, data_dir: Optional[str]
) -> None:
    """The server is down (no_internet): the case can say what to fetch and where to put it,
    in the data dir when one was given, else in the download cache."""
    source = datasets.SOURCES[name]
    given = data_dir_of(tmp_path, data_dir)
    cache = tmp_path / "cache"
    with pytest.raises(DataUnavailable) as excinfo:
        worker_spec(name, given, cache)
    message = str(excinfo.value)
    where = (given or cache / "downloads") / source.filename
    assert f"put {source.filename} from {source.url} at {where}" in message
    assert "the download failed (ConnectionError" in message
    if given is not None:
        assert f"neither in the data directory {given}" in message
        assert ("which does not exist" in message) == (data_dir == "does not exist")
    assert list((cache / "downloads").iterdir()) == []
    assert not (cache / "prepared").exists()


@pytest.mark.parametrize("proxy", ["http://", "http://:abc"])
def test_a_malformed_proxy_setting_is_no_corrupt_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, proxy: str
) -> None:
    """requests refuses the proxy URL before any connection (InvalidProxyURL, InvalidURL: both
    ValueErrors, like pooch's checksum mismatch): the data cannot be had, which skips the case."""
    source = replace(datasets.SOURCES["nietzsche"], url="http://rnnbench.invalid/nietzsche.txt")
    monkeypatch.setitem(datasets.SOURCES, "nietzsche", source)
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, proxy)
    with pytest.raises(DataUnavailable) as excinfo:
        worker_spec("nietzsche", None, tmp_path / "cache")
    assert "the download failed (Invalid" in str(excinfo.value)
    assert list((tmp_path / "cache" / "downloads").iterdir()) == []


def test_a_corrupt_download_cache_is_set_aside_and_fetched_again(
    nietzsche: Text, server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    downloads = cache / "downloads"
    downloads.mkdir(parents=True)
    (downloads / "nietzsche.txt").write_text("half a download")
    serve(monkeypatch, server, nietzsche, nietzsche.path.read_bytes())
    assert worker_spec("nietzsche", None, cache)["full_samples"] == nietzsche.samples()
    assert (downloads / "nietzsche.txt.corrupt").read_text() == "half a download"
    assert (downloads / "nietzsche.txt").read_bytes() == nietzsche.path.read_bytes()


# -- the prepared-array cache ----------------------------------------------------------------------


def test_second_prepare_reuses_the_cache(
    nietzsche: Text, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    first = worker_spec("nietzsche", nietzsche.directory, cache)
    prepared = Path(first["path"])
    mtime = prepared.stat().st_mtime_ns

    def must_not_read(path: Path) -> str:
        raise AssertionError(f"the source {path} was read again")

    monkeypatch.setitem(datasets.READERS, "nietzsche", must_not_read)
    second = worker_spec("nietzsche", nietzsche.directory, cache, cap=512)
    assert second["path"] == first["path"]
    assert (second["vocab"], second["full_samples"], second["samples"]) == (
        first["vocab"],
        first["full_samples"],
        512,
    )
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


def test_a_damaged_cache_another_run_set_aside_first_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two xdist workers that find the same damaged cache both set it aside: the second finds
    nothing left to move, and rebuilds as the first does (it used to fail the dataset for its
    whole session)."""
    archive = make_wikitext_zip(tmp_path / "small.zip")
    cache = tmp_path / "cache"
    first = worker_spec("wikitext2", None, cache, source_path=archive)
    damaged = Path(first["path"])
    damaged.write_bytes(b"not an npz")
    real_load = np.load

    def other_run_moves_it_first(handle, **kwargs):
        damaged.replace(damaged.with_name(damaged.name + ".corrupt"))  # the other worker
        return real_load(handle, **kwargs)  # this one still reads the damage it opened

    monkeypatch.setattr(np, "load", other_run_moves_it_first)
    second = worker_spec("wikitext2", None, cache, source_path=archive)
    monkeypatch.undo()
    assert second["full_samples"] == first["full_samples"]
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
