"""`llmspec import` of axolotl YAMLs (fixtures copied from axolotl's own examples/): real files, the real CLI, the
real `llmspec check`, and axolotl's own validate_config accepting each fixture (in axolotl's venv)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml
from bridge_helpers import FIXTURES, PRESETS, run_cli
from peer_helpers import accepted, peer_parse_all

AXOLOTL = sorted(FIXTURES.glob("axolotl_*.y*ml"))
LLAMA3 = PRESETS / "Meta-Llama-3-8B.json"  # the Llama-3 layout for the NousResearch Llama-3.x checkpoints


def _import(tmp_path: Path, config: Path, *extra: str) -> tuple[dict, str]:
    out = tmp_path / "spec.toml"
    result = run_cli("import", str(config), "-o", str(out), "--force", *extra)  # several imports per test
    assert result.code == 0, result.err
    check = run_cli("check", str(out))
    assert check.code == 0, check.out + check.err
    return tomllib.loads(out.read_text()), result.err


def test_three_axolotl_fixtures_exist():
    assert len(AXOLOTL) >= 3


@pytest.mark.parametrize("config", AXOLOTL, ids=lambda p: p.stem)
def test_import_gives_a_spec_check_accepts(tmp_path, config):
    spec, err = _import(tmp_path, config, "--hf-config", str(LLAMA3))
    assert spec["training"]["stack"] == "axolotl" and "written (axolotl)" in err


@pytest.mark.parametrize("config, expected", [
    ("axolotl_lora_1b.yml", dict(method="lora", precision="bf16-mixed", micro_batch_size=2, gradient_accumulation=2,
                                 seq_len=2048, packing=True, activation_checkpointing=True, optimizer="adamw_8bit",
                                 epochs=1, learning_rate=2e-4, attention="flash", validation_split=0.1)),
    ("axolotl_qlora_mistral.yml", dict(method="qlora", precision="bf16-mixed", micro_batch_size=2,
                                       gradient_accumulation=4, seq_len=8192, optimizer="adamw_8bit")),
    ("axolotl_fft_8b.yaml", dict(method="full", precision="bf16", micro_batch_size=1, gradient_accumulation=8,
                                 seq_len=8192, optimizer="adamw_8bit", paged_optimizer=True, learning_rate=2e-5)),
    ("axolotl_qlora_fsdp.yaml", dict(method="qlora", micro_batch_size=1, gradient_accumulation=4, epochs=4,
                                     optimizer="adamw")),
])
def test_memory_values_a_person_reads_from_the_config(tmp_path, config, expected):
    spec, _ = _import(tmp_path, FIXTURES / config, "--hf-config", str(LLAMA3))
    assert {k: spec["training"].get(k) for k in expected} == expected


def test_lora_details(tmp_path):
    spec, _ = _import(tmp_path, FIXTURES / "axolotl_lora_1b.yml", "--hf-config", str(LLAMA3))
    lora = spec["training"]["lora"]
    assert (lora["rank"], lora["alpha"], lora["dropout"]) == (16, 32, 0.05)
    assert sorted(lora["targets"]) == sorted(["gate_proj", "down_proj", "up_proj", "q_proj", "v_proj", "k_proj",
                                              "o_proj"])
    qlora, _ = _import(tmp_path, FIXTURES / "axolotl_qlora_mistral.yml")  # lora_target_linear: true wins
    assert qlora["training"]["lora"]["targets"] == ["all-linear"]
    assert (qlora["training"]["lora"]["quant_format"], qlora["training"]["lora"]["double_quant"]) == ("nf4", True)
    assert qlora["extends"] == "preset:Mistral-7B"


def test_fsdp_is_read_into_hardware(tmp_path):
    spec, err = _import(tmp_path, FIXTURES / "axolotl_qlora_fsdp.yaml", "--hf-config", str(LLAMA3))
    assert spec["hardware"] == {"sharding": "fsdp", "offload": "optimizer+params"}
    assert "the config names no GPU" in err


def test_every_unmapped_key_is_on_its_own_line(tmp_path):
    config = FIXTURES / "axolotl_lora_1b.yml"
    _, err = _import(tmp_path, config, "--hf-config", str(LLAMA3))
    for line_no, key in [(11, "output_dir"), (14, "lora_model_dir"), (48, "tf32"), (52, "logging_steps")]:
        assert f"{config}:{line_no}:1: unmapped: {key} (" in err
    assert f"{config}:6:1: unmapped: datasets[0].type" in err  # nested keys are reported too


def test_deepspeed_json_beside_the_config(tmp_path):
    (tmp_path / "ds.json").write_text('{"zero_optimization": {"stage": 2, "offload_optimizer": {"device": "cpu"}}}')
    config = tmp_path / "c.yml"
    config.write_text("base_model: mistralai/Mistral-7B-v0.1\nsequence_len: 1024\nlearning_rate: 1e-5\n"
                      "deepspeed: ds.json\n")
    spec, _ = _import(tmp_path, config)
    assert spec["hardware"] == {"sharding": "zero2", "offload": "optimizer"}
    assert spec["training"]["learning_rate"] == 1e-5  # YAML reads 1e-5 as text; axolotl converts it


def test_missing_deepspeed_json_is_said(tmp_path):
    config = tmp_path / "c.yml"
    config.write_text("base_model: mistralai/Mistral-7B-v0.1\nsequence_len: 1024\nlearning_rate: 1.0e-5\n"
                      "deepspeed: deepspeed_configs/zero3_bf16.json\n")
    # the sharding decides memory, so a DeepSpeed file that cannot be read is not guessed past: one line, exit 2
    # (llmspec.bridges.sharding reads `deepspeed:` for every HF-Trainer-based tool)
    result = run_cli("import", str(config))
    assert result.code == 2 and result.err.startswith(
        f"{config}:4:1: deepspeed: 'deepspeed_configs/zero3_bf16.json' not found"), result.err


@pytest.mark.parametrize("text, message", [
    ("base_model: x/y\nsequence_len: 512\nmax_seq_len: 9\n", ":3:1: axolotl 0.19.0 has no key 'max_seq_len'"),
    ("base_model: x/y\ndatasets:\n  - path: a\n    typ: alpaca\n", ":2:1: axolotl 0.19.0 has no dataset key 'typ'"),
    ("base_model: x/y\nsequence_len: 512\nlearning_rate: fast\n", ":3:1: axolotl key learning_rate = 'fast'"),
])
def test_bad_keys_are_one_line_exit_2(tmp_path, text, message):
    config = tmp_path / "c.yml"
    config.write_text(text)
    result = run_cli("import", str(config))
    assert result.code == 2 and result.err.startswith(f"{config}{message}") and result.err.count("\n") == 1


def test_unsupported_values_are_reported(tmp_path):
    config = tmp_path / "c.yml"
    config.write_text("base_model: mistralai/Mistral-7B-v0.1\nsequence_len: 512\nlearning_rate: 0.1\nadapter: lora\n"
                      "load_in_8bit: true\noptimizer: muon\n")
    _, err = _import(tmp_path, config)
    assert f"{config}:5:1: unsupported: load_in_8bit = True" in err
    assert f"{config}:6:1: unsupported: optimizer = 'muon'" in err


def test_defaults_where_the_config_is_silent(tmp_path):
    # axolotl 0.19.0: micro_batch_size 1, sequence_len 512, optimizer adamw_torch_fused, lr_scheduler cosine,
    # no bf16 (fp32), no gradient checkpointing, no packing; an empty value is unset
    config = tmp_path / "c.yml"
    config.write_text("base_model: mistralai/Mistral-7B-v0.1\nlearning_rate: 0.0001\nmicro_batch_size:\n")
    spec, _ = _import(tmp_path, config)
    t = spec["training"]
    assert (t["micro_batch_size"], t["seq_len"], t["optimizer"], t["lr_schedule"]) == (1, 512, "adamw", "cosine")
    assert (t["precision"], t["activation_checkpointing"], t["packing"], t["method"]) == ("fp32", False, False, "full")


@pytest.fixture(scope="module")
def parsed_fixtures(tmp_path_factory):
    bad = tmp_path_factory.mktemp("bad") / "bad.yml"  # early stopping without eval_steps/save_steps
    bad.write_text(yaml.safe_dump({**yaml.safe_load(AXOLOTL[0].read_text()), "early_stopping_patience": 3}))
    results = peer_parse_all("axolotl", [*AXOLOTL, bad])  # one parser process for every fixture
    return results | {"bad": results[str(bad)]}


@pytest.mark.axolotl
def test_axolotls_validation_can_refuse(parsed_fixtures):
    assert isinstance(parsed_fixtures["bad"], str) and "early_stopping_patience" in parsed_fixtures["bad"]


@pytest.mark.axolotl
@pytest.mark.parametrize("config", AXOLOTL, ids=lambda p: p.stem)
def test_fixture_passes_axolotls_own_validation(parsed_fixtures, config):
    parsed, raw = accepted(parsed_fixtures, config), yaml.safe_load(config.read_text())
    for key in ("base_model", "sequence_len", "micro_batch_size", "gradient_accumulation_steps", "adapter", "lora_r"):
        assert parsed.get(key) == raw.get(key), key
