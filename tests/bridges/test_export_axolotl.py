"""`llmspec export --to axolotl`: the written YAML passes axolotl's own validate_config (in axolotl's venv, explicit
GPU capabilities), every key is one axolotl 0.19.0 knows, and import(export(spec)) keeps the run."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from bridge_helpers import run_cli
from peer_helpers import accepted, peer_parse_all

from llmspec.bridges.tables import table
from llmspec.project import load_spec

ROOT = Path(__file__).resolve().parents[2]
SPECS = [ROOT / "examples" / "llama2-7b-lora-a100.toml", ROOT / "examples" / "llama3-8b-qlora-rtx4090.toml"]
# what a run trains with and what memory depends on (llmspec.estimate reads these)
KEPT = ["method", "precision", "micro_batch_size", "gradient_accumulation", "seq_len", "packing",
        "activation_checkpointing", "learning_rate", "epochs", "max_steps", "lr_schedule", "optimizer", "paged_optimizer",
        "weight_decay", "max_grad_norm", "warmup_ratio", "warmup_steps", "seed", "attention", "compile",
        "validation_split", "early_stopping", "loss", "activation_offload"]
LORA_KEPT = ["rank", "alpha", "dropout", "targets", "dora"]
FULL = ["--set", "training.method=full", "--set", "training.precision=bf16"]


def _export(tmp_path: Path, spec: Path, *extra: str) -> Path:
    out = tmp_path / "axolotl.yml"
    result = run_cli("export", str(spec), "--to", "axolotl", "-o", str(out), *extra)
    assert result.code == 0, result.err
    return out


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_every_exported_key_is_an_axolotl_key(tmp_path, spec):
    keys = set(yaml.safe_load(_export(tmp_path, spec).read_text()))
    assert keys <= table("axolotl").known


CASES = {"lora": (SPECS[0], ()), "qlora": (SPECS[1], ()), "full": (SPECS[0], FULL)}


@pytest.fixture(scope="module")
def parsed_exports(tmp_path_factory):
    """Every case exported, then one axolotl process validating them all."""
    paths = {case: _export(tmp_path_factory.mktemp(case), spec, *extra) for case, (spec, extra) in CASES.items()}
    results = peer_parse_all("axolotl", list(paths.values()))
    return {case: accepted(results, path) for case, path in paths.items()}


@pytest.mark.axolotl
@pytest.mark.parametrize("case", CASES)
def test_export_passes_axolotls_own_validation(parsed_exports, case):
    spec, extra = CASES[case]
    parsed = parsed_exports[case]
    t = load_spec(str(spec), extra[1::2]).training
    assert (parsed["micro_batch_size"], parsed["gradient_accumulation_steps"]) == (t.micro_batch_size,
                                                                                   t.gradient_accumulation)
    assert parsed["sequence_len"] == t.seq_len and parsed["bf16"] is True
    assert parsed.get("adapter") == (None if t.method == "full" else t.method)
    if t.method != "full":
        assert parsed["lora_r"] == t.lora.rank and parsed["load_in_4bit"] is (t.method == "qlora")


@pytest.mark.parametrize("spec, extra", [(SPECS[0], ()), (SPECS[1], ()), (SPECS[0], FULL)],
                         ids=["lora", "qlora", "full"])
def test_round_trip_keeps_training_and_memory_keys(tmp_path, spec, extra):
    exported = _export(tmp_path, spec, *extra)
    back = tmp_path / "back.toml"
    original = load_spec(str(spec), extra[1::2])
    hf = ROOT / "llmspec" / "data" / "presets" / "Llama-2-7b-hf.json"  # any architecture: only [training] compared
    result = run_cli("import", str(exported), "-o", str(back), "--hf-config", str(hf))
    assert result.code == 0, result.err
    a, b = original.training, load_spec(str(back), ()).training
    assert {k: getattr(a, k) for k in KEPT} == {k: getattr(b, k) for k in KEPT}
    if a.method != "full":
        assert {k: getattr(a.lora, k) for k in LORA_KEPT} == {k: getattr(b.lora, k) for k in LORA_KEPT}
    if a.method == "qlora":
        assert (a.lora.quant_format, a.lora.double_quant) == (b.lora.quant_format, b.lora.double_quant)


def test_sharding_round_trips_through_fsdp(tmp_path):
    exported = _export(tmp_path, SPECS[0], "--set", "hardware.sharding=fsdp", "--set",
                       "hardware.offload=optimizer+params")
    back, hf = tmp_path / "back.toml", ROOT / "llmspec" / "data" / "presets" / "Llama-2-7b-hf.json"
    assert run_cli("import", str(exported), "-o", str(back), "--hf-config", str(hf)).code == 0
    hw = load_spec(str(back), ()).hardware
    assert (hw.sharding, hw.offload) == ("fsdp", "optimizer+params")


@pytest.mark.parametrize("override, message", [
    ("training.precision=fp8-mixed", 'training.precision = "fp8-mixed" has no axolotl equivalent'),
    ("training.optimizer=adam", 'training.optimizer = "adam" has no axolotl optimizer equivalent'),
    ("training.lr_schedule=wsd", None),
])
def test_values_axolotl_cannot_spell_are_one_line_exit_2(override, message):
    result = run_cli("export", str(SPECS[0]), "--to", "axolotl", "--set", override)
    if message is None:  # warmup_stable_decay is a transformers scheduler axolotl passes on
        assert result.code == 0 and "lr_scheduler: warmup_stable_decay" in result.out
    else:
        assert result.code == 2 and message in result.err and result.err.count("\n") == 1
