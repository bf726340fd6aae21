"""MEM004 (issue 12, "bad input"): a knob that contradicts its training stack or serving engine is a finding at the
knob, not a silent override. Each class below linted clean before (the estimate followed the knob, e.g. the vLLM
example with kv_allocation = "dynamic" moved to 73.4 GiB). Run through the real CLI on the real examples; where the
stack is installed here (torchtune 0.6.1, --no-deps), its source is read to check the table's claim independently."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from llmspec.cli import cli

ROOT = Path(__file__).resolve().parents[2]
QLORA_4090 = ROOT / "examples" / "llama3-8b-qlora-rtx4090.toml"
VLLM_70B = ROOT / "examples" / "llama3-70b-int8-serving-2xh100.toml"
TORCHTUNE = ("training.stack=torchtune",)


def mem004(path: Path, *sets: str) -> list[dict]:
    args = [a for s in sets for a in ("--set", s)]
    result = CliRunner().invoke(cli, ["lint", str(path), *args, "--select", "MEM004", "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.output)


def one(findings: list[dict], key: str) -> dict:
    assert [f["key"] for f in findings] == [key], findings
    found = findings[0]
    assert found["severity"] == "error"
    assert "==" in found["message"] and found["fix"], found  # cites package==version:path:symbol, names a fix
    return found


def torchtune_file(relative: str) -> str:
    spec = importlib.util.find_spec("torchtune")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("torchtune is not installed (CI installs torchtune==0.6.1 --no-deps)")
    base = Path(next(iter(spec.submodule_search_locations))).parent
    return (base / relative).read_text(encoding="utf-8")


def test_torchtune_with_autocast_precision_is_a_finding_at_the_precision_line():
    found = one(mem004(QLORA_4090, *TORCHTUNE), "training.precision")
    assert (found["filename"], found["line"]) == (str(QLORA_4090), 17)  # precision = "bf16-mixed" in the file
    assert "'bf16' or 'fp32'" in found["message"] and "no autocast" in found["fix"]
    assert mem004(QLORA_4090, *TORCHTUNE, "training.precision=bf16") == []


def test_torchtune_has_no_autocast_and_rejects_fp16():
    recipe = torchtune_file("recipes/lora_finetune_single_device.py")
    assert "autocast" not in recipe and "fp16 precision is not supported in this recipe" in recipe
    assert "autocast" not in torchtune_file("torchtune/training/precision.py")


def test_torchtune_adapters_in_another_dtype_than_the_model_is_a_finding():
    found = one(mem004(QLORA_4090, *TORCHTUNE, "training.precision=bf16", "training.lora.dtype=fp32"),
                "training.lora.dtype")
    assert found["filename"] == "<--set training.lora.dtype>"
    assert "'bf16' when precision = 'bf16'" in found["message"]
    assert mem004(QLORA_4090, *TORCHTUNE, "training.precision=fp32", "training.lora.dtype=fp32") == []


def test_torchtune_checks_the_adapter_dtype_against_the_model_dtype():
    recipe = torchtune_file("recipes/lora_finetune_single_device.py")
    assert "validate_expected_param_dtype(\n            self.adapter_params.items(), dtype=self._dtype" in recipe


def test_torchtune_qlora_quantises_every_block_linear_of_llama_and_only_adapted_ones_of_qwen2():
    """The auditor expected `quantize = "all-linear"` with q/v targets to contradict torchtune; torchtune 0.6.1's
    Llama builders make every unadapted block linear a FrozenNF4Linear, so it is "adapted" that contradicts."""
    llama = torchtune_file("torchtune/models/llama3/_component_builders.py")
    assert "else FrozenNF4Linear(embed_dim, num_kv_heads * head_dim, bias=False)" in llama
    assert "llama3_mlp(\n                dim=embed_dim, hidden_dim=hidden_dim, quantize_base=quantize_base" in llama
    assert "FrozenNF4Linear" not in torchtune_file("torchtune/models/qwen2/_component_builders.py")

    subset = (*TORCHTUNE, "training.precision=bf16", 'training.lora.targets=["q_proj", "v_proj"]')
    assert mem004(QLORA_4090, *subset, "training.lora.quantize=all-linear") == []
    found = one(mem004(QLORA_4090, *subset, "training.lora.quantize=adapted"), "training.lora.quantize")
    assert "when family = 'llama'" in found["message"] and "FrozenNF4Linear" in found["fix"]


@pytest.mark.parametrize("sets,key", [
    (("inference.kv_allocation=dynamic",), "inference.kv_allocation"),
    (("inference.kv_allocation=static",), "inference.kv_allocation"),
    (("inference.attention=eager",), "inference.attention"),
])
def test_vllm_knobs_it_cannot_run_are_findings(sets, key):
    found = one(mem004(VLLM_70B, *sets), key)
    assert found["filename"] == f"<--set {key}>" and "backend 'vllm'" in found["message"]
    assert found["message"].split("(")[-1].startswith("vllm==0.10.2:")


def test_vllm_with_its_own_values_is_clean():
    assert mem004(VLLM_70B, "inference.kv_allocation=paged", "inference.attention=flash") == []


def test_llama_cpp_has_no_paged_cache():
    found = one(mem004(VLLM_70B, "inference.backend=llama.cpp", "inference.kv_allocation=paged"),
                "inference.kv_allocation")
    assert "only runs with 'static'" in found["message"] and "n_ctx" in found["fix"]
    assert mem004(VLLM_70B, "inference.backend=llama.cpp", "inference.kv_allocation=static") == []


def test_hf_generate_restricts_no_engine_knob():
    for sets in (("inference.kv_allocation=paged",), ("inference.kv_allocation=static",), ("inference.attention=eager",)):
        assert mem004(VLLM_70B, "inference.backend=hf", *sets) == [], sets


def test_torchtune_adapter_dtype_left_unset_follows_the_model_dtype():
    """The same table sets the default: torchtune with precision = "fp32" builds fp32 adapters (before: the preset's
    bf16, an adapter dtype torchtune's recipe rejects, and the estimate counted 2-byte adapters)."""
    from llmspec.spec.loader import load_spec

    sets = (*TORCHTUNE, "training.method=lora", "training.precision=fp32")
    assert load_spec(QLORA_4090, sets).training.lora.dtype == "fp32"
    assert load_spec(QLORA_4090, (*TORCHTUNE, "training.method=lora", "training.precision=bf16")).training.lora.dtype == "bf16"
    assert mem004(QLORA_4090, *sets) == []
