"""What the controller sends a worker: the request and the worker's environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_rnnbench.run.protocol import (
    PROTOCOL_VERSION,
    SEED,
    WORKER_SCRIPT,
    build_request,
    shared_compilations,
    with_keras_tree,
    worker_env,
)


def test_the_worker_is_a_standalone_directory_whose_modules_shadow_nothing() -> None:
    """The worker runs as `python run/worker` (its __main__.py) under other interpreters: no
    __init__.py (it is no subpackage), nothing imported from the package, and its modules, which
    import as top-level names, all carry the rnnbench_worker_ prefix."""
    assert WORKER_SCRIPT.name == "worker" and (WORKER_SCRIPT / "__main__.py").is_file()
    assert not (WORKER_SCRIPT / "__init__.py").exists()
    modules = sorted(p.name for p in WORKER_SCRIPT.glob("*.py"))
    assert "rnnbench_worker_train.py" in modules and "rnnbench_worker_protocol.py" in modules
    assert [m for m in modules if not m.startswith("rnnbench_worker_")] == ["__main__.py"]
    for module in WORKER_SCRIPT.glob("*.py"):
        text = module.read_text()
        assert "import pytest_rnnbench" not in text and "from pytest_rnnbench" not in text


def test_a_request_carries_the_case_its_data_and_a_slowdown_only_when_asked() -> None:
    case = {"id": "c", "backend": "jax"}
    plain = build_request(case, {"samples": 8}, 3)
    assert plain == {"protocol": PROTOCOL_VERSION, "case": case, "data": {"samples": 8},
                     "repeats": 3, "seed": SEED}  # fmt: skip
    assert build_request(case, {}, 1, inject_slowdown=1.1)["inject_slowdown"] == 1.1


def test_a_worker_sees_exactly_its_gpus_and_no_preallocation_by_default() -> None:
    env = worker_env("jax", [2, 3], base={"PATH": "/bin"})
    assert env["KERAS_BACKEND"] == "jax" and env["CUDA_VISIBLE_DEVICES"] == "2,3"
    assert env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert worker_env("jax", [])["CUDA_VISIBLE_DEVICES"] == ""
    # Its device numbers are NVML's, which the memory monitor watches, unless the user chose.
    assert env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    chosen = worker_env("jax", [2], base={"CUDA_DEVICE_ORDER": "FASTEST_FIRST"})
    assert chosen["CUDA_DEVICE_ORDER"] == "FASTEST_FIRST"
    assert "CUDA_DEVICE_ORDER" not in worker_env("jax", [], base={})
    kept = worker_env("jax", [], preallocate=True, base={"XLA_PYTHON_CLIENT_PREALLOCATE": "false"})
    assert "XLA_PYTHON_CLIENT_PREALLOCATE" not in kept and kept["RNNBENCH_PREALLOCATE"] == "1"
    simulated = worker_env("jax", [], simulate_devices=2, base={"XLA_FLAGS": "--foo"})
    assert simulated["XLA_FLAGS"] == "--foo --xla_force_host_platform_device_count=2"
    # The user's variables of the worker's own names never reach it (an empty one from a CI
    # matrix failed every worker's int()).
    users = {"RNNBENCH_SIMULATE_DEVICES": "", "RNNBENCH_PREALLOCATE": "1"}
    assert not {"RNNBENCH_SIMULATE_DEVICES", "RNNBENCH_PREALLOCATE"} & set(
        worker_env("jax", [], base=users)
    )


def test_steady_thread_pools_give_tensorflow_one_inter_op_thread_on_cpu_only() -> None:
    env = worker_env(
        "tensorflow", [], base={"RNNBENCH_THREAD_POOLS": "forged"}, thread_pools="steady"
    )
    assert env["TF_NUM_INTEROP_THREADS"] == "1" and env["RNNBENCH_THREAD_POOLS"] == "steady"
    assert "TF_NUM_INTRAOP_THREADS" not in env  # operations still use every core
    for untouched in (
        worker_env("tensorflow", [0], base={}, thread_pools="steady"),  # a GPU case
        worker_env("tensorflow", [], base={}, simulate_devices=2, thread_pools="steady"),
        worker_env("tensorflow", [], base={"RNNBENCH_THREAD_POOLS": "steady"}),  # "default"
    ):
        assert "RNNBENCH_THREAD_POOLS" not in untouched
        assert "TF_NUM_INTEROP_THREADS" not in untouched
    # torch's threads stay as they are (fewer made it slower, no steadier)
    assert "TF_NUM_INTEROP_THREADS" not in worker_env("torch", [], base={}, thread_pools="steady")


def test_steady_pools_fix_glibc_malloc_thresholds_for_torch_on_cpu_only() -> None:
    env = worker_env("torch", [], base={}, thread_pools="steady")
    assert env["MALLOC_MMAP_THRESHOLD_"] == str(32 * 1024 * 1024)
    assert env["MALLOC_TRIM_THRESHOLD_"] == str(64 * 1024 * 1024)
    assert env["RNNBENCH_THREAD_POOLS"] == "steady"
    for untouched in (
        worker_env("torch", [0], base={}, thread_pools="steady"),  # a GPU case
        worker_env("torch", [], base={}, thread_pools="default"),
        worker_env("tensorflow", [], base={}, thread_pools="steady"),
        worker_env("jax", [], base={}, thread_pools="steady"),
    ):
        assert "MALLOC_MMAP_THRESHOLD_" not in untouched
        assert "MALLOC_TRIM_THRESHOLD_" not in untouched


def test_a_keras_tree_goes_first_on_pythonpath(tmp_path: Path) -> None:
    env = with_keras_tree({"PYTHONPATH": f"/a{os.pathsep}/b", "X": "1"}, tmp_path)
    assert env["PYTHONPATH"].split(os.pathsep) == [str(tmp_path), "/a", "/b"] and env["X"] == "1"
    assert with_keras_tree({}, tmp_path)["PYTHONPATH"] == str(tmp_path)


def test_jax_workers_share_compilations_within_a_side_only_while_the_case_runs() -> None:
    with shared_compilations("jax") as shared:
        reference = shared["reference"]["JAX_COMPILATION_CACHE_DIR"]
        candidate = shared["candidate"]["JAX_COMPILATION_CACHE_DIR"]
        assert reference != candidate
        assert os.path.isdir(reference) and os.path.isdir(candidate)
    assert not os.path.exists(reference) and not os.path.exists(candidate)


@pytest.mark.parametrize("backend", ["tensorflow", "torch", "mxnet"])
def test_backends_that_keep_no_compilations_get_no_directory(backend: str) -> None:
    with shared_compilations(backend) as shared:
        assert shared == {}
