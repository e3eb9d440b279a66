"""The seed's three datasets: locate or download the source, verify it, and cache prepared arrays.

Preparation follows the seed scripts exactly (keras-apache-mxnet benchmark/scripts/models):
Nietzsche is lowercased; WikiText-2 keeps the `[a-zA-Z0-9]+` tokens of each line of
wiki.train.raw joined by single spaces, lowercased, lines concatenated with no separator. Both
are cut into windows of 40 characters every 3, with the next character as target. The cache holds
the windows as small integer arrays (x: samples x 40 indices, y: samples); workers expand them to
the one-hot float32 arrays the model trains on. Synthetic data is drawn by the worker from a fixed
seed, as fast as loading it would be. No Keras import here.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..atomic import write_with

MAXLEN = 40
STEP = 3
SYNTHETIC_SAMPLES = 50_000
SYNTHETIC_FEATURES = 60
SYNTHETIC_SEED = 1234
PREPARED_FORMAT = 1  # bump when preparation changes, so stale caches are not reused


class DataUnavailable(Exception):
    """The data cannot be had here (in neither the data dir nor the cache, and the download
    failed): the case is skipped."""


class DataCorrupt(Exception):
    """A file exists but is wrong (checksum, truncation, unreadable): the case fails."""


class DataUnreadable(DataCorrupt):
    """A file exists but cannot be opened (permissions, a directory): left where it is, since
    it may well be good; the case fails saying so."""


@dataclass(frozen=True)
class Source:
    name: str
    filename: str
    url: str
    sha256: str
    size: int


SOURCES = {
    "nietzsche": Source(
        "nietzsche",
        "nietzsche.txt",
        "https://s3.amazonaws.com/text-datasets/nietzsche.txt",
        "23cf69874ab69d3d256099ab530ea4be24d47d9675b673bcc67cbcd6298ec647",
        600_901,
    ),
    "wikitext2": Source(
        "wikitext2",
        "wikitext-2-raw-v1.zip",
        "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-raw-v1.zip",
        "ef7edb566e3e2b2d31b29c1fdb0c89a4cc683597484c3dc2517919c615435a11",
        4_721_645,
    ),
}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(path: Path, source: Source) -> None:
    try:
        actual = sha256_of(path)
    except OSError as exc:
        raise DataUnreadable(
            f"cannot read {path}: {exc.strerror or exc}; it was not used and was "
            "left in place: fix its permissions or remove it"
        ) from None
    if actual != source.sha256:
        size = path.stat().st_size
        truncated = (
            f" ({size:,} of {source.size:,} bytes: truncated?)" if size < source.size else ""
        )
        raise DataCorrupt(
            f"{path} has sha256 {actual}, expected {source.sha256}{truncated}; the file was not "
            f"used. Replace it with a fresh copy of {source.url}"
        )


def locate(source: Source, data_dir: Optional[Path], cache_dir: Path) -> Path:
    """A verified local copy of `source`: from the data dir, the download cache, or downloaded.

    A data dir that lacks the file (or does not exist) is no error: the file comes from the cache
    or a download, like without one; only when that fails too is the file unavailable, and the
    message says to put it in the data dir. A file that is in the data dir but wrong is an error
    (DataCorrupt): the user named that copy, so a broken one must be seen and fixed, not quietly
    replaced by another copy that they may not know this run used.
    """
    if data_dir is not None:
        candidate = data_dir / source.filename
        if candidate.exists():  # False, too, when the data dir does not exist
            _verify(candidate, source)
            return candidate
    downloads = cache_dir / "downloads"
    cached = downloads / source.filename
    if cached.exists():
        try:
            _verify(cached, source)
            return cached
        except DataUnreadable:
            raise  # perhaps a good copy: never moved or replaced for being unreadable
        except DataCorrupt:
            # Our own cache holds a bad copy (an interrupted download): keep it aside for
            # inspection and fetch again.
            _set_aside(cached)
    return _download(source, downloads, data_dir)


def _set_aside(damaged: Path) -> None:
    """Rename a damaged cache file of ours to *.corrupt. Another run (an xdist worker) that found
    the same damage may have moved it first: then there is nothing left to move."""
    try:
        damaged.replace(damaged.with_name(damaged.name + ".corrupt"))
    except FileNotFoundError:
        pass


def _not_here(source: Source, downloads: Path, data_dir: Optional[Path]) -> str:
    """Where the file was looked for, and where to put it: the data dir when one was given
    (where this user keeps offline copies), else the download cache."""
    if data_dir is None:
        return f"{source.filename} is not in {downloads}"
    missing = "" if data_dir.is_dir() else ", which does not exist,"
    return (
        f"{source.filename} is neither in the data directory {data_dir}{missing} nor in {downloads}"
    )


def _download(source: Source, downloads: Path, data_dir: Optional[Path]) -> Path:
    where = data_dir or downloads
    wanted = f"put {source.filename} from {source.url} at {where / source.filename}"
    not_here = _not_here(source, downloads, data_dir)
    try:
        import pooch  # imported here: only a download needs it
        import requests  # pooch's own HTTP client: its errors are the network's
    except ImportError:
        raise DataUnavailable(
            f"{not_here} and pooch (needed to download it) is not installed; {wanted}"
        ) from None
    downloads.mkdir(parents=True, exist_ok=True)
    try:
        # pooch downloads to a temporary file beside the target and moves it into place only
        # once its sha256 matches, so a failed or interrupted download leaves nothing behind.
        path = pooch.retrieve(
            source.url,
            known_hash=f"sha256:{source.sha256}",
            fname=source.filename,
            path=downloads,
            progressbar=False,
            downloader=pooch.HTTPDownloader(timeout=30),
        )
    except (requests.RequestException, OSError) as exc:
        # First: requests' InvalidURL, InvalidProxyURL, InvalidSchema... are ValueErrors too, but
        # a bad proxy setting is no damaged file. Offline is a skip, not a failure.
        raise DataUnavailable(_failed(exc, not_here, wanted)) from None
    except ValueError as exc:  # left is pooch's checksum mismatch
        raise DataCorrupt(f"download of {source.url} failed verification: {exc}") from None
    except Exception as exc:  # any other way a download fails (urllib3's own errors...)
        raise DataUnavailable(_failed(exc, not_here, wanted)) from None
    return Path(path)


def _failed(exc: Exception, not_here: str, wanted: str) -> str:
    return f"{not_here} and the download failed ({type(exc).__name__}: {str(exc)[:200]}); {wanted}"


# ------------------------------------------------------------------------------------------------
# Text preparation, as the seed did it


def read_nietzsche(path: Path) -> str:
    return path.read_text(encoding="utf-8").lower()


def read_wikitext2(path: Path) -> str:
    token = re.compile("[a-zA-Z0-9]+")
    try:
        with zipfile.ZipFile(path) as archive:
            with archive.open("wikitext-2-raw/wiki.train.raw") as raw:
                lines = raw.read().decode("utf-8").splitlines()
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise DataCorrupt(
            f"{path} is not a readable WikiText-2 archive (wikitext-2-raw/wiki.train.raw): {exc}"
        ) from None
    return "".join(" ".join(token.findall(line)).lower() for line in lines)


READERS = {"nietzsche": read_nietzsche, "wikitext2": read_wikitext2}


def windows(text: str) -> tuple[np.ndarray, np.ndarray, int]:
    """The seed's semi-redundant windows as indices into the sorted character set."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    # np.unique sorts by code point, the same order as the seed's sorted(set(text)).
    chars, indices = np.unique(codes, return_inverse=True)
    dtype = np.uint8 if len(chars) <= 256 else np.uint16
    indices = indices.astype(dtype)
    starts = np.arange(0, len(codes) - MAXLEN, STEP)
    x = indices[starts[:, None] + np.arange(MAXLEN)[None, :]]
    y = indices[starts + MAXLEN]
    return x, y, len(chars)


def _save_atomic(path: Path, **arrays: np.ndarray) -> None:
    named: dict[str, Any] = dict(arrays)  # numpy's stub types **kwds too narrowly
    write_with(path, lambda handle: np.savez(handle, **named))


def prepare_text(
    name: str, source_path: Path, cache_dir: Path, source_sha: str
) -> tuple[Path, int, int]:
    """Cached windows for a text dataset: (path of the .npz, vocabulary size, sample count)."""
    prepared = cache_dir / "prepared" / f"{name}-{source_sha[:16]}-f{PREPARED_FORMAT}.npz"
    if prepared.exists():
        try:
            handle = open(prepared, "rb")
        except OSError as exc:
            # Perhaps a good cache that this user may not read: never replaced or moved for that.
            raise DataUnreadable(
                f"cannot read the prepared cache {prepared}: {exc.strerror or exc}; it was not "
                "used and was left in place: fix its permissions or remove it (it is rebuilt "
                "from the source)"
            ) from None
        with handle:
            try:
                # allow_pickle stays False: a cache holding pickled objects is damage, not data.
                with np.load(handle, allow_pickle=False) as arrays:
                    return prepared, int(arrays["vocab"]), int(arrays["x"].shape[0])
            except Exception:
                pass  # damaged: set aside below, once the file is closed
        # A damaged cache entry of our own making: set it aside and rebuild it.
        _set_aside(prepared)
    x, y, vocab = windows(READERS[name](source_path))
    _save_atomic(prepared, x=x, y=y, vocab=np.array(vocab))
    return prepared, vocab, int(x.shape[0])


def worker_spec(
    name: str,
    data_dir: Optional[Path],
    cache_dir: Path,
    cap: Optional[int] = None,
    source_path: Optional[Path] = None,
) -> dict[str, Any]:
    """What a worker needs to materialize `name`'s arrays, preparing and caching them if needed.

    `source_path` bypasses locating the published file (tests pass small archives of the same
    layout, which cannot match the published checksum).
    """
    if name == "synthetic":
        samples = min(cap, SYNTHETIC_SAMPLES) if cap else SYNTHETIC_SAMPLES
        return {
            "kind": "synthetic",
            "samples": samples,
            "full_samples": SYNTHETIC_SAMPLES,
            "cap": cap,
            "timesteps": MAXLEN,
            "features": SYNTHETIC_FEATURES,
            "seed": SYNTHETIC_SEED,
        }
    if name not in SOURCES:
        raise ValueError(f"unknown dataset {name!r}")
    if source_path is None:
        source_path = locate(SOURCES[name], data_dir, cache_dir)
        digest = SOURCES[name].sha256
    else:
        digest = sha256_of(source_path)
    path, vocab, full = prepare_text(name, source_path, cache_dir, digest)
    samples = min(cap, full) if cap else full
    return {
        "kind": "text",
        "path": str(path),
        "vocab": vocab,
        "samples": samples,
        "full_samples": full,
        "cap": cap,
        "timesteps": MAXLEN,
    }
