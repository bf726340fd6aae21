"""`llmspec import` of LitGPT `litgpt finetune_lora|finetune_full --config` YAMLs (nested keys): real files, the real
CLI, the real `llmspec check`; round trip through `llmspec export --to litgpt`."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from bridge_helpers import FIXTURES, run_cli

from llmspec.project import load_spec

LITGPT_FIXTURES = sorted(FIXTURES.glob("litgpt_*.yaml"))
# what a run trains with and what memory depends on (llmspec.estimate reads these)
KEPT = ["method", "precision", "micro_batch_size", "gradient_accumulation", "seq_len", "packing",
        "activation_checkpointing", "learning_rate", "epochs", "max_steps", "lr_schedule", "optimizer", "weight_decay",
        "max_grad_norm", "warmup_ratio", "warmup_steps", "seed", "stack"]
LORA_KEPT = ["rank", "alpha", "dropout", "targets", "quant_format", "double_quant"]


def _import(tmp_path: Path, config: Path, *extra: str) -> tuple[Path, str]:
    out = tmp_path / f"{config.stem}.toml"
    result = run_cli("import", str(config), "-o", str(out), *extra)
    assert result.code == 0, result.err
    return out, result.err


def test_three_litgpt_fixtures_exist():
    assert len(LITGPT_FIXTURES) >= 3


@pytest.mark.parametrize("config", LITGPT_FIXTURES, ids=lambda p: p.stem)
def test_import_gives_a_spec_check_accepts(tmp_path, config):
    out, err = _import(tmp_path, config)  # the tool is detected from the keys: no --from
    assert "written (litgpt)" in err and "architecture from preset" in err
    check = run_cli("check", str(out))
    assert check.code == 0, check.out + check.err


def test_memory_values_read_from_the_qlora_config(tmp_path):
    out, _ = _import(tmp_path, FIXTURES / "litgpt_llama2_7b_qlora.yaml")
    spec = load_spec(str(out), ())
    t = spec.training
    # global_batch_size 8 // 1 device // micro_batch_size 2 = 4 accumulation steps (litgpt/args.py)
    assert (t.stack, t.method, t.micro_batch_size, t.gradient_accumulation, t.seq_len) == ("litgpt", "qlora", 2, 4, 512)
    assert (t.precision, t.activation_checkpointing, t.packing, t.epochs) == ("bf16", False, False, 4)
    assert (t.lora.rank, t.lora.alpha, t.lora.quant_format, t.lora.double_quant) == (32, 16, "nf4", False)
    assert t.lora.targets == ["q_proj", "v_proj"]  # lora_query, lora_value
    assert (t.optimizer, t.learning_rate, t.lr_schedule) == ("adamw", 0.0002, "cosine")
    assert spec.model.architecture is not None and spec.model.architecture.n_layers == 32


def test_lora_switches_become_target_modules(tmp_path):
    out, err = _import(tmp_path, FIXTURES / "litgpt_llama3_8b_lora.yaml")
    t = load_spec(str(out), ()).training
    assert t.method == "lora" and t.gradient_accumulation == 8
    assert t.lora.targets == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    assert "architecture from preset Llama-3-8B" in err


def test_several_devices_shard_and_checkpoint(tmp_path):
    config = FIXTURES / "litgpt_llama2_7b_full.yaml"
    out, err = _import(tmp_path, config)
    t = load_spec(str(out), ()).training
    # 64 // 4 devices // micro 4 = 4; FSDPStrategy(activation_checkpointing_policy={Block}) on more than one device
    assert (t.method, t.gradient_accumulation, t.activation_checkpointing) == ("full", 4, True)
    assert f"{config}:7:1: devices 4 x num_nodes 1: LitGPT shards with FSDP" in err
    assert "method full: no lora_* or quantize key" in err


def test_nested_keys_are_reported_at_their_own_line(tmp_path):
    config = FIXTURES / "litgpt_llama2_7b_qlora.yaml"
    _, err = _import(tmp_path, config)
    for where, key in [("4:1", "out_dir"), ("20:3", "data.class_path"), ("30:3", "train.save_interval"),
                       ("55:5", "optimizer.init_args.betas")]:
        assert f"{config}:{where}: unmapped: {key} (the spec has no field for it)" in err


def test_litgpt_defaults_where_the_config_is_silent(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("checkpoint_dir: checkpoints/meta-llama/Llama-2-7b-hf\nlora_r: 16\ntrain:\n  max_seq_length: 256\n")
    out, _ = _import(tmp_path, config)
    t = tomllib.loads(out.read_text())["training"]
    # litgpt/finetune/lora.py:setup: global_batch_size 16, micro_batch_size 1, epochs 5, lora_alpha 16; precision
    # null -> bf16-mixed (utils.get_default_supported_precision); optimizer "AdamW" at torch's lr 1e-3
    assert (t["micro_batch_size"], t["gradient_accumulation"], t["epochs"], t["precision"]) == (1, 16, 5, "bf16-mixed")
    assert (t["learning_rate"], t["lora"]["alpha"], t["lora"]["targets"]) == (0.001, 16, ["q_proj", "v_proj"])


@pytest.mark.parametrize("text, key, where", [
    # litgpt 0.4 kept the learning rate in train; 0.5 moved it to optimizer.init_args.lr
    ("checkpoint_dir: checkpoints/x/y\ntrain:\n  learning_rate: 0.0003\n", "train.learning_rate", "3:3"),
    ("checkpoint_dir: checkpoints/x/y\nlora_r: 8\nlora_rank: 8\n", "lora_rank", "3:1"),
])
def test_key_of_another_version_is_one_line_exit_2(tmp_path, text, key, where):
    config = tmp_path / "c.yaml"
    config.write_text(text)
    result = run_cli("import", str(config), "--from", "litgpt")
    assert result.code == 2 and result.err.count("\n") == 1
    assert result.err.startswith(f"{config}:{where}: LitGPT 0.5.13 has no key {key!r}")


def test_duplicate_nested_key_is_refused(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("checkpoint_dir: checkpoints/x/y\ntrain:\n  epochs: 1\n  epochs: 2\n")
    result = run_cli("import", str(config))
    assert result.code == 2 and result.err.startswith(f"{config}:4:3: duplicate key 'train.epochs'")


def test_unsupported_quantize_is_reported(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("checkpoint_dir: checkpoints/meta-llama/Llama-2-7b-hf\nprecision: bf16-true\n"
                      "quantize: bnb.int8-training\n")
    out, err = _import(tmp_path, config)
    assert f"{config}:3:1: unsupported: quantize = 'bnb.int8-training'" in err
    assert load_spec(str(out), ()).training.method == "lora"


def _round_trip(tmp_path: Path, spec: Path, *sets: str) -> None:
    exported = tmp_path / "litgpt.yaml"
    result = run_cli("export", str(spec), "--to", "litgpt", "-o", str(exported), *[a for s in sets for a in ("--set", s)])
    assert result.code == 0, result.err
    back, _ = _import(tmp_path, exported)
    a, b = load_spec(str(spec), sets).training, load_spec(str(back), ()).training
    assert {k: getattr(a, k) for k in KEPT} == {k: getattr(b, k) for k in KEPT}
    if a.method != "full":
        assert {k: getattr(a.lora, k) for k in LORA_KEPT} == {k: getattr(b.lora, k) for k in LORA_KEPT}


@pytest.mark.parametrize("config", LITGPT_FIXTURES, ids=lambda p: p.stem)
def test_round_trip_keeps_training_and_memory_keys(tmp_path, config):
    spec, _ = _import(tmp_path, config)
    # four devices: the [hardware] the import note asks for, so that the export writes devices: 4 again
    sets = ("hardware.count=4", "hardware.sharding=fsdp") if "full" in config.stem else ()
    _round_trip(tmp_path, spec, *sets)


@pytest.mark.parametrize("sets, message", [
    (("training.activation_checkpointing=true",), "training.activation_checkpointing = true has no LitGPT equivalent"),
    (("training.lora.targets=[\"q_proj\",\"gate_proj\"]",), 'training.lora.targets = ["q_proj", "gate_proj"] has no'),
    (("training.precision=fp8-mixed",), 'training.precision = "fp8-mixed" has no LitGPT equivalent'),
    (("training.epochs=1.5",), "training.epochs = 1.5 has no LitGPT equivalent"),
    (("hardware.count=2", "hardware.sharding=zero1"), 'hardware.sharding = "zero1" has no LitGPT equivalent'),
    (("hardware.count=2", "training.method=qlora"), "hardware.count = 2 has no LitGPT equivalent"),
])
def test_value_litgpt_cannot_express_is_one_line_exit_2(tmp_path, sets, message):
    spec, _ = _import(tmp_path, FIXTURES / "litgpt_llama3_8b_lora.yaml")
    result = run_cli("export", str(spec), "--to", "litgpt", *[a for s in sets for a in ("--set", s)])
    assert result.code == 2 and message in result.err and result.err.count("\n") == 1


def test_spec_default_grad_norm_does_not_leak_into_the_export(tmp_path):
    # the fixture has no max_norm (LitGPT does not clip); the spec's own default 1.0 must not turn clipping on
    spec, _ = _import(tmp_path, FIXTURES / "litgpt_llama2_7b_qlora.yaml")
    exported = run_cli("export", str(spec), "--to", "litgpt")
    assert exported.code == 0 and "max_norm" not in exported.out
    clipped = run_cli("export", str(spec), "--to", "litgpt", "--set", "training.max_grad_norm=0.5")
    assert clipped.code == 0 and "max_norm: 0.5" in clipped.out


def test_the_documented_litgpt_export_is_what_export_writes(tmp_path, root):
    """docs/integrations.md shows real output: its `cat litgpt.yaml` block is what the export of the fixture writes."""
    doc = (root / "docs" / "integrations.md").read_text(encoding="utf-8")
    section = doc[doc.index("## LitGPT: import and export"):]
    shown = section[section.index("$ cat litgpt.yaml\n"):].split("```")[0].splitlines()[1:]
    config = tmp_path / "train.yaml"
    config.write_text((FIXTURES / "litgpt_llama2_7b_qlora.yaml").read_text())
    spec = tmp_path / "spec.toml"
    assert run_cli("import", str(config), "-o", str(spec)).code == 0
    result = run_cli("export", str(spec), "--to", "litgpt")
    assert result.code == 0, result.err
    assert result.out.replace(str(spec), "spec.toml").splitlines() == shown
