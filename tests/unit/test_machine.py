"""Machine identity (machine.py): the host's CPU, readable machine names, and the two profiles:
the baseline profile (exact software and hardware) and the hardware profile (histories)."""

from __future__ import annotations

import os

import pytest

from pytest_rnnbench import machine
from pytest_rnnbench.machine import (
    BaselineProfile,
    HardwareProfile,
    baseline_profile,
    cpu_name,
    hardware_profile,
)

XEON = "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz"


# -- the host's CPU --------------------------------------------------------------------------------


def test_the_cpu_model_of_this_host_is_named_and_counted() -> None:
    assert machine.cpu_model().strip()
    count = machine.cpu_count()
    assert 1 <= count <= (os.cpu_count() or 1)


@pytest.mark.parametrize(
    "model, core_count, name",
    [
        (XEON, True, "Intel Xeon Platinum 8375C"),
        ("AMD EPYC 7R13 48-Core Processor", True, "AMD EPYC 7R13 48-Core"),
        ("AMD EPYC 7R13 48-Core Processor", False, "AMD EPYC 7R13"),
        ("Apple M2(TM)", True, "Apple M2"),
        ("CPU", True, "CPU"),  # nothing left but noise: the name as given
    ],
)
def test_cpu_names_drop_trademarks_clock_and_optionally_cores(
    model: str, core_count: bool, name: str
) -> None:
    assert cpu_name(model, core_count=core_count) == name


# -- baseline profiles: the exact software and hardware --------------------------------------------


def test_a_baseline_profile_keys_on_driver_cuda_and_python() -> None:
    gpu = baseline_profile("AMD EPYC 9654", 16, ["NVIDIA H200"], "580.65", "13.0", "3.12.3")
    assert gpu.name == "amd-epyc-9654-16cpu_1x-nvidia-h200_driver580.65-cuda13.0_py3.12"
    assert gpu.to_dict() == {
        "cpu": "AMD EPYC 9654",
        "cpus": 16,
        "gpu": "NVIDIA H200",
        "gpus": 1,
        "driver": "580.65",
        "cuda": "13.0",
        "python": "3.12",
    }
    assert gpu.describe() == (
        "AMD EPYC 9654 (16 CPUs), 1 x NVIDIA H200 (driver 580.65, CUDA 13.0), Python 3.12"
    )
    for other in (
        baseline_profile("AMD EPYC 9654", 16, ["NVIDIA H200"], "580.82", "13.0", "3.12.3"),
        baseline_profile("AMD EPYC 9654", 16, ["NVIDIA H200"], "580.65", "12.8", "3.12.3"),
        baseline_profile("AMD EPYC 9654", 16, ["NVIDIA H200"], "580.65", "13.0", "3.11.9"),
    ):
        assert other != gpu and other.name != gpu.name


def test_a_baseline_profile_leaves_out_clocks_patch_releases_and_a_driver_without_gpu() -> None:
    cpu = baseline_profile(XEON, 2, [], "580.1", "13.0", "3.11.9")
    assert cpu.name == "intel-xeon-platinum-8375c-2cpu_nogpu_py3.11"
    assert cpu.driver is None and cpu.cuda is None
    assert cpu == baseline_profile(XEON.replace("2.90", "3.50"), 2, [], None, None, "3.11.4")
    assert cpu.describe() == "Intel Xeon Platinum 8375C (2 CPUs), no GPU, Python 3.11"


def test_mixed_gpus_are_one_sorted_kind_list_and_counted_all() -> None:
    mixed = baseline_profile("x", 4, ["NVIDIA L4", "NVIDIA A10G", "NVIDIA L4"], "1", "2", "3.10")
    assert mixed.gpu == "NVIDIA A10G + NVIDIA L4" and mixed.gpus == 3
    assert isinstance(mixed, BaselineProfile)


def test_the_baseline_store_names_its_files_by_this_profile() -> None:
    """One machine identity: the verdicts' baseline store uses this module's profile itself."""
    from pytest_rnnbench.verdicts import baseline

    assert baseline.machine_profile is baseline_profile and baseline.Profile is BaselineProfile


# -- hardware profiles: what a history follows -----------------------------------------------------


def test_a_hardware_profile_ignores_driver_cuda_and_python() -> None:
    section = {"cpu": XEON, "cpus": 8, "gpus": ["NVIDIA A10G"] * 4, "driver": "550", "cuda": "12"}
    profile = hardware_profile(section)
    assert profile == HardwareProfile("", "Intel Xeon Platinum 8375C", 8, ("NVIDIA A10G",) * 4)
    assert hardware_profile({**section, "driver": "580", "cuda": "13", "python": "3.12"}) == profile
    assert profile.label == "4x NVIDIA A10G (Intel Xeon Platinum 8375C, 8 CPUs)"
    assert profile.slug == "4x-nvidia-a10g-intel-xeon-platinum-8375c-8-cpus"


def test_a_given_machine_name_is_its_hardware_profile_label() -> None:
    profile = hardware_profile({"name": "p3.8xlarge", "cpu": "x", "cpus": 32, "gpus": []})
    assert profile.label == "p3.8xlarge" and profile.slug == "p3-8xlarge"


@pytest.mark.parametrize(
    "section", [{}, {"cpu": "x", "cpus": "2", "gpus": []}, {"cpu": "x", "cpus": 2, "gpus": None}]
)
def test_a_machine_section_without_cpu_count_or_gpu_list_has_no_hardware_profile(
    section: dict[str, object],
) -> None:
    with pytest.raises(ValueError, match="needs cpu .text., cpus .a number. and gpus .a list."):
        hardware_profile(section)
