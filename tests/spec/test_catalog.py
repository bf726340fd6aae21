"""The accelerator catalog (llmspec/data/accelerators.toml): every entry loads and is sane, names resolve."""

from __future__ import annotations

import json

import pytest
from spec_helpers import MINIMAL, run_cli

from llmspec.catalog import Accelerator, CatalogError, builtin, catalog, resolve

ENTRIES = sorted(builtin().items())
# issue 2: "At least: A100-40GB/80GB, H100 SXM/PCIe, H200, B200, L4, L40S, A10G, T4, V100, RTX 4090/3090 and MI300X"
REQUIRED = ["A100-40GB", "A100-80GB", "H100-SXM", "H100-PCIe", "H200", "B200", "L4", "L40S", "A10G", "T4", "V100",
            "RTX-4090", "RTX-3090", "MI300X"]


def test_required_accelerators_are_present() -> None:
    assert set(REQUIRED) <= set(builtin())


@pytest.mark.parametrize(("name", "acc"), ENTRIES, ids=[n for n, _ in ENTRIES])
def test_entry_is_sane(name: str, acc: Accelerator) -> None:
    assert acc.name == name
    assert 8 * 2**30 <= acc.memory_bytes <= 1024 * 2**30  # 8 GiB .. 1 TiB: a datacenter or consumer card
    assert 100 <= acc.bandwidth_gbs <= 100_000
    assert acc.tflops and all(v > 0 for v in acc.tflops.values())
    assert "fp32" in acc.tflops and ("fp16" in acc.tflops or "bf16" in acc.tflops)
    assert acc.tflops.get("fp16", acc.tflops["fp32"]) >= acc.tflops["fp32"]  # tensor cores beat the fp32 rate
    assert acc.bf16 == ("bf16" in acc.tflops)  # the capability flag and the rate table agree
    assert acc.fp8 == ("fp8" in acc.tflops)
    assert acc.source.strip() and acc.vendor in ("nvidia", "amd", "intel", "google")
    assert acc.peak_tflops("bf16") > 0 and acc.peak_tflops("fp8") > 0  # falls back to the nearest rate


@pytest.mark.parametrize(("name", "acc"), ENTRIES, ids=[n for n, _ in ENTRIES])
def test_name_and_aliases_resolve_case_insensitively(name: str, acc: Accelerator) -> None:
    for key in (name, name.lower(), name.upper(), *acc.aliases, *(a.lower() for a in acc.aliases)):
        assert resolve(key) is acc


def test_aliases_are_unique_and_do_not_shadow_names() -> None:
    seen: dict[str, str] = {}
    for name, acc in ENTRIES:
        for key in (name, *acc.aliases):
            assert key.lower() not in seen, f"{key} of {name} is also {seen[key.lower()]}"
            seen[key.lower()] = name


def test_capability_flags() -> None:
    assert resolve("H100").fp8 and resolve("H100-SXM").bf16
    assert resolve("MI300X").fp8
    for old in ("V100", "T4"):
        assert not resolve(old).bf16 and not resolve(old).fp8
    assert not resolve("A100").fp8


def test_known_figures() -> None:
    # NVIDIA A100 datasheet: 80 GB, 312 dense bf16 TFLOP/s; H100 SXM5 datasheet: 989.4 bf16, 1978.9 fp8
    assert resolve("A100-80GB").memory_bytes == 80 * 2**30
    assert resolve("A100").peak_tflops("bf16") == 312
    assert resolve("H100").peak_tflops("fp8") == pytest.approx(1978.9)
    assert resolve("V100").peak_tflops("bf16") == resolve("V100").tflops["fp16"]  # no bf16: the fp16 rate


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("A100-80", "'A100-80GB'"), ("h100-sxm5", "'H100-SXM'"), ("RTX4090", "'RTX-4090'"), ("MI300", "'MI300X'")],
)
def test_unknown_name_suggests(name: str, suggestion: str) -> None:
    with pytest.raises(CatalogError) as info:
        resolve(name)
    message = str(info.value)
    assert message.startswith(f"unknown accelerator {name!r}; did you mean ")
    assert suggestion in message and "`llmspec accelerators`" in message


def test_unknown_name_without_a_close_match() -> None:
    with pytest.raises(CatalogError, match=r"^unknown accelerator 'abacus' \(`llmspec accelerators` lists"):
        resolve("abacus")


def test_user_entries_extend_and_override() -> None:
    extra = {"lab-card": {"memory": "48GiB", "bandwidth": 900, "tflops": {"bf16": 150, "fp32": 40}, "bf16": True,
                          "aliases": ["lab"]},
             "T4": {"memory": "16GB", "bandwidth": 320, "tflops": {"fp16": 65, "fp32": 8.1}}}
    table = catalog(extra)
    assert table["lab-card"].memory_bytes == 48 * 2**30
    assert resolve("LAB", extra).name == "lab-card"
    assert resolve("T4", extra).memory_bytes == 16 * 10**9
    assert len(table) == len(builtin()) + 1


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"memory": "48GiB", "bandwidth": 1, "tflops": {"bf16": 1}, "colour": "red"}, "unknown key(s) colour"),
        ({"memory": "48GiB", "tflops": {"bf16": 1}}, "missing bandwidth"),
        ({"memory": "48 gigs", "bandwidth": 1, "tflops": {"bf16": 1}}, "cannot read '48 gigs' as a memory size"),
        ({"memory": "48GiB", "bandwidth": "fast", "tflops": {"bf16": 1}}, "accelerator 'x':"),
    ],
)
def test_malformed_user_entry(raw: dict, message: str) -> None:
    with pytest.raises(CatalogError) as info:
        catalog({"x": raw})
    assert message in str(info.value)


def test_spec_hardware_memory_overrides_catalog(write) -> None:
    from llmspec.spec.loader import load_spec

    spec = load_spec(write("s.toml", MINIMAL + '[hardware]\naccelerator = "a100"\nmemory = "40GiB"\n'))
    assert spec.hardware.memory == 40 * 2**30 and resolve(spec.hardware.accelerator).memory_bytes == 80 * 2**30


def test_accelerators_command_lists_the_catalog() -> None:
    result = run_cli("accelerators", "--format", "json")
    assert result.code == 0
    listed = json.loads(result.out)
    assert set(listed) == set(builtin())
    assert listed["H100-SXM"]["fp8"] is True and listed["T4"]["bf16"] is False
    table = run_cli("accelerators")
    assert table.code == 0 and "Accelerator catalog" in table.out


def test_accelerators_table_shows_every_name_on_an_80_column_terminal(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    table = run_cli("accelerators")
    assert table.code == 0
    missing = [name for name in builtin() if name not in table.out]
    assert missing == []
