"""Real backends on small data: one pytest session trains a case on each of the four (issue 2).

One subprocess session holds every case (its startup and the backend probes are paid once). It
also trains TensorFlow on a small WikiText-2 archive of the published layout, so the text path
(prepare, cache, one-hot in the worker) runs end to end.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from helpers import MXNET_PYTHON

pytestmark = pytest.mark.slow


FRAMEWORK_VERSION_KEY = {
    "tensorflow": "tensorflow",
    "jax": "jax",
    "torch": "torch",
    "mxnet": "mxnet",
}


# The archive's checksum cannot be the published one; the session under test is told the small
# archive's checksum, as a stand-in for the real file in the data directory.
SMALL_WIKITEXT_CONFTEST = """
    import dataclasses
    from pytest_rnnbench.run import datasets

    datasets.SOURCES["wikitext2"] = dataclasses.replace(
        datasets.SOURCES["wikitext2"], sha256={sha!r}, size={size})
"""


def small_wikitext(directory: Path) -> Path:
    line = (
        " The game 's battle system , the BliTZ system , is carried over directly from "
        "Valkyira Chronicles . During missions , players select each unit using a top @-@ down "
        "perspective of the battlefield map : once a character is selected , the player moves"
    )
    path = directory / "wikitext-2-raw-v1.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("wikitext-2-raw/wiki.train.raw", "\n".join([" = Title = ", "", line] * 4))
    return path


def test_all_four_backends_train_and_report(
    bench: pytest.Pytester, tmp_path: Path, heavy_modules
) -> None:
    assert MXNET_PYTHON.exists(), f"{MXNET_PYTHON} is missing: run `make setup`"
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    archive = small_wikitext(data_dir)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    bench.makeconftest(
        (bench.path / "conftest.py").read_text()
        + textwrap.dedent(SMALL_WIKITEXT_CONFTEST.format(sha=digest, size=archive.stat().st_size))
    )
    result = bench.runpytest_subprocess(
        "-rfEs",
        "--rnnbench",
        "--rnnbench-samples=256",
        "--rnnbench-batch-sizes=128",
        # The generic loop: unrolled 40 steps take JAX ~45 s to compile on a small CPU.
        "--rnnbench-unroll=false",
        "--rnnbench-repeats=1",
        "--rnnbench-timeout=600",
        "--rnnbench-datasets=synthetic,wikitext2",
        "-k",
        "synthetic or (tensorflow and wikitext2)",
        f"--rnnbench-data-dir={data_dir}",
        f"--rnnbench-cache-dir={tmp_path / 'cache'}",
        f"--rnnbench-python=mxnet={MXNET_PYTHON}",
        "--rnnbench-json=results.json",
        timeout=900,
    )
    text = result.stdout.str()
    assert result.parseoutcomes().get("failed") is None, text
    assert heavy_modules() == [], "the pytest process imported a framework"

    document = json.loads((bench.path / "results.json").read_text())
    assert document["failures"] == {}
    results = document["results"]
    expected = {f"{backend}-gpu0-b128-nounroll-synthetic" for backend in FRAMEWORK_VERSION_KEY}
    expected.add("tensorflow-gpu0-b128-nounroll-wikitext2")
    assert set(results) == expected, text
    for case_id, entry in results.items():
        backend = case_id.split("-")[0]
        worker = entry["worker"]
        assert entry["epoch_seconds"] > 0, case_id
        assert entry["samples"] == 256 and worker["samples"] == 256, case_id
        assert worker["samples_cap"] == 256, case_id
        assert entry["samples_per_second"] == pytest.approx(256 / entry["epoch_seconds"])
        assert worker["steps_per_epoch"] == 2
        assert len(worker["epochs"][0]["step_seconds"]) == 2, case_id
        assert 0 < entry["step_ms_p10"] <= entry["step_ms_median"] <= entry["step_ms_p90"], case_id
        assert entry["warmup_seconds"] > 0, case_id
        assert math.isfinite(entry["final_loss"]) and entry["final_loss"] > 0, case_id
        assert entry["host_peak_rss_bytes"] > 50 * 2**20, case_id
        versions = entry["versions"]
        assert versions["keras"].startswith("2.2.4" if backend == "mxnet" else "3."), versions
        assert versions[FRAMEWORK_VERSION_KEY[backend]], versions
        assert worker["case"]["backend"] == backend
        assert worker["gpus_seen"] == 0
        # torch's own lstm runs its fallback loop on a CPU; the others decline to Keras's loop.
        expected = "backend loop" if backend == "torch" else "generic loop"
        assert worker["run"]["lstm_path"] == expected, case_id
    assert results["mxnet-gpu0-b128-nounroll-synthetic"]["worker"]["python"]["executable"] == str(
        MXNET_PYTHON
    )
    assert (
        results["jax-gpu0-b128-nounroll-synthetic"]["worker"]["python"]["executable"]
        == sys.executable
    )
    wiki = results["tensorflow-gpu0-b128-nounroll-wikitext2"]["worker"]
    assert wiki["vocab"] < 60 and wiki["timesteps"] == 40
    assert len(list((tmp_path / "cache" / "prepared").glob("wikitext2-*.npz"))) == 1
