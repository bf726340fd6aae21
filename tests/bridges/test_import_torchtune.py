"""`llmspec import` of torchtune recipe configs (the shipped ones, copied as fixtures): real files, the real CLI,
the real `llmspec check`; round trip through `llmspec export --to torchtune`."""

from __future__ import annotations

from pathlib import Path

import pytest
from bridge_helpers import FIXTURES, run_cli

from llmspec.project import load_spec

TT_FIXTURES = sorted(FIXTURES.glob("torchtune_*.yaml"))
KEPT = ["method", "precision", "micro_batch_size", "gradient_accumulation", "seq_len", "packing",
        "activation_checkpointing", "activation_offload", "learning_rate", "epochs", "max_steps", "lr_schedule",
        "optimizer", "optimizer_impl", "optimizer_in_backward", "loss", "weight_decay", "warmup_steps", "seed",
        "compile", "stack"]
LORA_KEPT = ["rank", "alpha", "dropout", "targets", "quant_format", "double_quant"]


def _import(tmp_path: Path, config: Path) -> tuple[Path, str]:
    out = tmp_path / f"{config.stem}.toml"
    result = run_cli("import", str(config), "-o", str(out))
    assert result.code == 0, result.err
    return out, result.err


def test_three_torchtune_fixtures_exist():
    assert len(TT_FIXTURES) >= 3


@pytest.mark.parametrize("config", TT_FIXTURES, ids=lambda p: p.stem)
def test_import_gives_a_spec_check_accepts(tmp_path, config):
    out, err = _import(tmp_path, config)
    assert "written (torchtune)" in err and "architecture from preset" in err
    check = run_cli("check", str(out))
    assert check.code == 0, check.out + check.err


def test_memory_values_read_from_the_qlora_config(tmp_path):
    out, _ = _import(tmp_path, FIXTURES / "torchtune_llama2_7b_qlora_single_device.yaml")
    t = load_spec(str(out), ()).training
    assert (t.stack, t.method, t.micro_batch_size, t.gradient_accumulation) == ("torchtune", "qlora", 2, 8)
    assert (t.precision, t.activation_checkpointing, t.loss, t.learning_rate) == ("bf16", True, "chunked", 3e-4)
    assert (t.lora.rank, t.lora.alpha) == (8, 16)
    # lora_attn_modules [q_proj, v_proj, output_proj] + apply_lora_to_mlp
    assert t.lora.targets == ["q_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def test_full_recipe_config(tmp_path):
    out, err = _import(tmp_path, FIXTURES / "torchtune_qwen2_5_0_5b_full_single_device.yaml")
    t = load_spec(str(out), ()).training
    assert (t.method, t.learning_rate, t.lr_schedule, t.optimizer_in_backward) == ("full", 2e-5, "constant", False)
    assert "tokenizer.max_seq_len is not set" in err


def test_unknown_key_is_one_line_exit_2(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("checkpointer:\n  checkpoint_dir: /tmp/x\nbatch_size: 2\nmax_batch_tokens: 9\n")
    result = run_cli("import", str(config))
    assert result.code == 2 and result.err.count("\n") == 1
    assert result.err.startswith(f"{config}:4:1: torchtune 0.6.1 has no key 'max_batch_tokens'")


@pytest.mark.parametrize("config", TT_FIXTURES, ids=lambda p: p.stem)
def test_round_trip_keeps_training_and_memory_keys(tmp_path, config):
    spec, _ = _import(tmp_path, config)
    exported = tmp_path / "tt.yaml"
    result = run_cli("export", str(spec), "--to", "torchtune", "-o", str(exported))
    assert result.code == 0, result.err
    back, _ = _import(tmp_path, exported)
    a, b = load_spec(str(spec), ()).training, load_spec(str(back), ()).training
    assert {k: getattr(a, k) for k in KEPT} == {k: getattr(b, k) for k in KEPT}
    if a.method != "full":
        assert {k: getattr(a.lora, k) for k in LORA_KEPT} == {k: getattr(b.lora, k) for k in LORA_KEPT}


def test_precision_torchtune_cannot_express_is_one_line_exit_2(tmp_path):
    spec, _ = _import(tmp_path, TT_FIXTURES[0])
    result = run_cli("export", str(spec), "--to", "torchtune", "--set", "training.precision=bf16-mixed")
    assert result.code == 2 and 'training.precision = "bf16-mixed" has no torchtune equivalent' in result.err


def test_spec_default_grad_norm_does_not_leak_into_the_export(tmp_path):
    spec, _ = _import(tmp_path, TT_FIXTURES[0])  # clip_grad_norm: null in the shipped config
    exported = run_cli("export", str(spec), "--to", "torchtune")
    assert exported.code == 0 and "clip_grad_norm: null" in exported.out


@pytest.mark.parametrize("config, tool", [(TT_FIXTURES[0], "torchtune"),
                                          (FIXTURES / "litgpt_llama2_7b_qlora.yaml", "litgpt")])
def test_import_and_export_never_import_the_tools_or_torch(tmp_path, config, tool):
    import subprocess
    import sys

    out = tmp_path / "spec.toml"
    code = (
        "import sys; from llmspec.cli import main\n"
        f"for argv in (['import', {str(config)!r}, '-o', {str(out)!r}], ['export', {str(out)!r}, '--to', {tool!r}]):\n"
        "    sys.argv = ['llmspec', *argv]\n"
        "    try:\n        main()\n    except SystemExit:\n        pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'litgpt', 'torchtune', 'lightning'))\n"
        "print('HEAVY', heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "HEAVY []" in proc.stdout, proc.stdout + proc.stderr
    assert f"written ({tool})" in proc.stderr


@pytest.mark.parametrize("config, expected", [
    # precision: bf16-true (line 6) on a T4; train.epochs: 4 (nested, line 35 col 3) for QLoRA
    (FIXTURES / "litgpt_llama2_7b_qlora.yaml", [":6:1: HW001 [error]", ":35:3: OVF004 [warning]"]),
    (TT_FIXTURES[0], [":87:1: HW001 [error]"]),  # dtype: bf16
])
def test_lint_of_the_config_as_it_stands_points_at_its_own_lines(tmp_path, config, expected):
    copy = tmp_path / config.name  # this repository's lint settings exclude tests/**
    copy.write_text(config.read_text())
    config = copy
    result = run_cli("lint", str(config), "--set", "hardware.accelerator=T4", "--format", "concise")
    assert result.code == 1, result.out + result.err
    for where in expected:
        assert f"{config}{where}" in result.out, result.out
    assert "this LitGPT config names no GPU" in result.out or "this torchtune config names no GPU" in result.out


@pytest.mark.parametrize(("preset", "method", "builder"), [
    ("Qwen2.5-7B", "lora", "torchtune.models.qwen2_5.lora_qwen2_5_7b_base"),
    ("Gemma-7B", "qlora", "torchtune.models.gemma.qlora_gemma_7b"),
    ("Gemma-2-9B", "lora", "torchtune.models.gemma2.lora_gemma2_9b")])
def test_export_of_the_added_builders_imports_back(tmp_path, preset, method, builder):
    import yaml

    spec = tmp_path / "spec.toml"
    spec.write_text(f'version = 1\nextends = "preset:{preset}"\n[model]\nname = "m"\n[training]\nmethod = "{method}"\n'
                    'precision = "bf16"\nstack = "torchtune"\n')
    out = tmp_path / "tt.yaml"
    assert run_cli("export", str(spec), "--to", "torchtune", "-o", str(out)).code == 0
    model = yaml.safe_load(out.read_text())["model"]
    assert model["_component_"] == builder
    assert ("apply_lora_to_output" in model) is preset.startswith("Qwen")  # Gemma's LoRA builders have none
    back = tmp_path / "back.toml"
    result = run_cli("import", str(out), "-o", str(back))
    assert result.code == 0, result.err
    assert f'extends = "preset:{preset}"' in back.read_text() and f'method = "{method}"' in back.read_text()


def test_a_method_torchtune_ships_no_config_for_is_one_line(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text('version = 1\nextends = "preset:Gemma-7B"\n[model]\nname = "m"\n[training]\nmethod = "full"\n'
                    'precision = "bf16"\nstack = "torchtune"\n')
    result = run_cli("export", str(spec), "--to", "torchtune")
    assert result.code == 2 and result.err.count("\n") == 1
    assert "torchtune 0.6.1 ships single-device lora, qlora configs for Gemma-7B" in result.err
