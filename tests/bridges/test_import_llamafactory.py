"""`llmspec import` of LLaMA-Factory YAMLs (fixtures copied from its examples/ at v0.9.5): real files, the real CLI,
the real `llmspec check`, and LLaMA-Factory's own get_train_args accepting each fixture (in its own venv)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from bridge_helpers import FIXTURES, PRESETS, run_cli
from peer_helpers import accepted, peer_parse_all

LF = sorted(FIXTURES.glob("llamafactory_*.yaml"))
PARSED = [p for p in LF if "ds3" not in p.stem]  # the ds3 one names a DeepSpeed JSON: its parser needs deepspeed
QWEN = PRESETS / "Qwen3-8B.json"  # a Qwen3 layout for the Qwen3-4B checkpoint the examples name


def _import(tmp_path: Path, config: Path, *extra: str) -> tuple[dict, str]:
    out = tmp_path / "spec.toml"
    result = run_cli("import", str(config), "-o", str(out), "--force", *extra)  # several imports per test
    assert result.code == 0, result.err
    check = run_cli("check", str(out))
    assert check.code == 0, check.out + check.err
    return tomllib.loads(out.read_text()), result.err


def test_three_parsed_llamafactory_fixtures_exist():
    assert len(PARSED) >= 3


@pytest.mark.parametrize("config, expected", [
    ("llamafactory_lora_sft.yaml", dict(method="lora", precision="bf16-mixed", micro_batch_size=1,
                                        gradient_accumulation=8, seq_len=2048, packing=False, epochs=3.0,
                                        learning_rate=1e-4, activation_checkpointing=True, lr_schedule="cosine",
                                        warmup_ratio=0.1, optimizer="adamw")),
    ("llamafactory_qlora_sft.yaml", dict(method="qlora", precision="bf16-mixed", micro_batch_size=1,
                                         gradient_accumulation=8, seq_len=2048)),
    ("llamafactory_full_sft.yaml", dict(method="full", precision="bf16-mixed", micro_batch_size=2,
                                        gradient_accumulation=8, learning_rate=1e-5)),
    ("llamafactory_full_sft_ds3.yaml", dict(method="full", micro_batch_size=1, gradient_accumulation=2)),
])
def test_memory_values_a_person_reads_from_the_config(tmp_path, config, expected):
    spec, _ = _import(tmp_path, FIXTURES / config, "--hf-config", str(QWEN))
    assert {k: spec["training"].get(k) for k in expected} == expected


def test_lora_defaults_of_llamafactory(tmp_path):
    # lora_rank 8, lora_alpha None -> rank * 2, lora_target all, quantization nf4 with double quantisation
    spec, _ = _import(tmp_path, FIXTURES / "llamafactory_qlora_sft.yaml", "--hf-config", str(QWEN))
    lora = spec["training"]["lora"]
    assert (lora["rank"], lora["alpha"], lora["targets"]) == (8, 16, ["all-linear"])
    assert (lora["quant_format"], lora["double_quant"]) == ("nf4", True)


def test_deepspeed_json_named_by_the_config_is_read(tmp_path):
    spec, err = _import(tmp_path, FIXTURES / "llamafactory_full_sft_ds3.yaml", "--hf-config", str(QWEN))
    assert spec["hardware"]["sharding"] == "zero3" and "hardware" in err


def test_each_extra_dataset_and_unmapped_key_is_one_line(tmp_path):
    config = FIXTURES / "llamafactory_lora_sft.yaml"
    spec, err = _import(tmp_path, config, "--hf-config", str(QWEN))
    assert spec["training"]["data"]["train"] == "identity"
    assert f"{config}:14:1: unmapped: dataset 'alpaca_en_demo'" in err
    for line_no, key in [(4, "trust_remote_code"), (15, "template"), (22, "output_dir"), (38, "ddp_timeout")]:
        assert f"{config}:{line_no}:1: unmapped: {key} (" in err


def test_key_of_another_version_is_one_line_exit_2(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("stage: sft\nfinetuning_type: lora\nquantization_bits: 4\n")
    result = run_cli("import", str(config))
    assert result.code == 2 and result.err.count("\n") == 1
    assert result.err.startswith(f"{config}:3:1: LLaMA-Factory 0.9.5 has no key 'quantization_bits'")


def test_shared_keys_only_asks_for_from(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("model_name_or_path: Qwen/Qwen2.5-0.5B\nper_device_train_batch_size: 4\nbf16: true\n")
    result = run_cli("import", str(config))
    assert result.code == 2 and "--from" in result.err and result.err.count("\n") == 1
    out = tmp_path / "s.toml"
    assert run_cli("import", str(config), "--from", "llamafactory", "-o", str(out)).code == 0
    assert tomllib.loads(out.read_text())["training"]["stack"] == "llamafactory"


@pytest.fixture(scope="module")
def parsed_fixtures():
    return peer_parse_all("llamafactory", PARSED)  # one parser process for every fixture


@pytest.mark.llamafactory
@pytest.mark.parametrize("config", PARSED, ids=lambda p: p.stem)
def test_fixture_passes_llamafactorys_own_parser(parsed_fixtures, config):
    import yaml

    parsed, raw = accepted(parsed_fixtures, config), yaml.safe_load(config.read_text())
    for key in ("model_name_or_path", "finetuning_type", "per_device_train_batch_size", "gradient_accumulation_steps",
                "learning_rate", "quantization_bit"):
        assert parsed.get(key) == raw.get(key), key
