"""`llmspec import` of TRL `trl sft --config` YAMLs: real files, the real CLI, the real `llmspec check`."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from bridge_helpers import FIXTURES, PRESETS, run_cli

from llmspec.project import load_spec

TRL_FIXTURES = sorted(FIXTURES.glob("trl_*.yaml"))


def _import(tmp_path: Path, config: Path, *extra: str) -> tuple[Path, str]:
    out = tmp_path / "spec.toml"
    result = run_cli("import", str(config), "-o", str(out), *extra)
    assert result.code == 0, result.err
    return out, result.err


def test_three_trl_fixtures_exist():
    assert len(TRL_FIXTURES) >= 3


@pytest.mark.parametrize("config", TRL_FIXTURES, ids=lambda p: p.stem)
def test_import_gives_a_spec_check_accepts(tmp_path, config):
    # Qwen/Qwen2-0.5B is no registry preset: give its architecture as --hf-config (the Qwen2.5-0.5B config.json
    # has the same model_type; what is tested is the --hf-config path)
    extra = ("--hf-config", str(PRESETS / "Qwen2.5-0.5B.json")) if config.stem == "trl_sft_full" else ()
    out, _ = _import(tmp_path, config, *extra)
    check = run_cli("check", str(out))
    assert check.code == 0, check.out + check.err


def test_memory_values_read_from_the_qlora_config(tmp_path):
    out, err = _import(tmp_path, FIXTURES / "trl_sft_lora.yaml")
    spec = load_spec(str(out), ())
    t = spec.training
    assert (t.stack, t.method, t.micro_batch_size, t.gradient_accumulation, t.seq_len) == ("trl", "qlora", 2, 8, 2048)
    assert (t.precision, t.activation_checkpointing, t.packing) == ("bf16-mixed", True, True)
    assert (t.lora.rank, t.lora.alpha, t.lora.quant_format) == (32, 16, "nf4")
    assert spec.model.architecture is not None and spec.model.architecture.n_layers == 32  # preset Llama-2-7B
    assert "architecture from preset Llama-2-7B" in err


def test_trl_defaults_are_written_where_the_config_is_silent(tmp_path):
    # trl 1.16.0 SFTConfig: per_device_train_batch_size 8, max_length 1024, packing False, gradient_checkpointing True
    out, _ = _import(tmp_path, FIXTURES / "trl_example_config.yaml")
    t = tomllib.loads(out.read_text())["training"]
    assert (t["micro_batch_size"], t["seq_len"], t["packing"], t["activation_checkpointing"]) == (8, 1024, False, True)
    assert (t["learning_rate"], t["lr_schedule"]) == (0.0001, "cosine")


def test_every_unmapped_key_is_reported_on_its_own_line(tmp_path):
    config = FIXTURES / "trl_sft_full.yaml"
    _, err = _import(tmp_path, config, "--hf-config", str(PRESETS / "Qwen2.5-0.5B.json"))
    for line_no, key in [(9, "eos_token"), (10, "eval_strategy"), (11, "eval_steps"), (12, "output_dir")]:
        assert f"{config}:{line_no}:1: unmapped: {key}" in err


def test_no_architecture_is_said_in_one_line(tmp_path):
    out = tmp_path / "spec.toml"
    result = run_cli("import", str(FIXTURES / "trl_sft_full.yaml"), "-o", str(out))
    assert result.code == 2 and out.exists()  # written (the mapping is kept), but no valid spec yet: exit 2
    lines = [line for line in result.err.splitlines() if "no architecture" in line]
    assert len(lines) == 1 and "Qwen/Qwen2-0.5B" in lines[0] and "--hf-config" in lines[0]


def test_unsupported_value_is_reported(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("model_name_or_path: meta-llama/Llama-2-7b-hf\nmax_length: 512\noptim: rmsprop\n")
    _, err = _import(tmp_path, config)
    assert f"{config}:3:1: unsupported: optim = 'rmsprop'" in err


@pytest.mark.parametrize("text, tool, key", [
    ("max_length: 512\nwarmup_ratio: 0.1\n", "TRL 1.16.0", "warmup_ratio"),  # removed in transformers 5
    ("max_length: 512\nmax_seq_length: 512\n", "TRL 1.16.0", "max_seq_length"),  # renamed max_length in trl 0.20
])
def test_key_of_another_version_is_one_line_exit_2(tmp_path, text, tool, key):
    config = tmp_path / "c.yaml"
    config.write_text(text)
    result = run_cli("import", str(config))
    assert result.code == 2
    assert result.err.count("\n") == 1 and f"{config}:2:1: {tool} has no key {key!r}" in result.err


def test_shared_keys_only_asks_for_from(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("model_name_or_path: meta-llama/Llama-2-7b-hf\nper_device_train_batch_size: 4\n")
    result = run_cli("import", str(config))
    assert result.code == 2 and "--from" in result.err and result.err.count("\n") == 1
    assert run_cli("import", str(config), "--from", "trl").code == 0


@pytest.mark.parametrize("text, tool", [
    ("base_model: NousResearch/Llama-2-7b-hf\nsequence_len: 4096\nmicro_batch_size: 2\n", "axolotl"),
    ("stage: sft\nfinetuning_type: lora\ncutoff_len: 2048\n", "LLaMA-Factory"),
])
def test_other_tools_are_told_by_their_keys(tmp_path, text, tool):
    config = tmp_path / "c.yaml"
    config.write_text(text)
    result = run_cli("import", str(config), "--hf-config", str(PRESETS / "Qwen2.5-0.5B.json"))
    stack = {"axolotl": "axolotl", "LLaMA-Factory": "llamafactory"}[tool]
    assert result.code == 0 and f'stack = "{stack}"' in result.out, result.err


def test_unknown_tool_exit_2(tmp_path):
    """A config of no tool llmspec reads names its keys that are nobody's (it used to offer only --from trl|axolotl|
    llamafactory); one with only keys the HF-Trainer tools share asks for --from."""
    config = tmp_path / "c.yaml"
    config.write_text("services:\n  web:\n    image: nginx\nfoo: 1\n")
    result = run_cli("import", str(config))
    assert result.code == 2 and result.err.strip().splitlines() == [
        f"{config}:1:1: not a training config of a tool llmspec reads: no key of axolotl, LitGPT, LLaMA-Factory, "
        "torchtune, TRL (services, foo); give the training config, or --from TOOL"]
    shared = tmp_path / "shared.yaml"
    shared.write_text("learning_rate: 2.0e-4\nnum_train_epochs: 1\n")
    result = run_cli("import", str(shared))
    assert result.code == 2 and f"{shared}:1:1: cannot tell which tool this config is for" in result.err
    assert "give --from trl|axolotl|llamafactory" in result.err


def test_yaml_syntax_error_has_line_and_col(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("max_length: 512\nlora_r: [1, 2\nuse_peft: true\n")
    result = run_cli("import", str(config))
    assert result.code == 2 and result.err.startswith(f"{config}:3:") and "YAML syntax error" in result.err
    assert "Traceback" not in result.err


def test_trl_defaults_round_trip_through_export(tmp_path):
    # use_bnb_nested_quant (default False in trl) and lora_dropout (0.05) are not in the QLoRA fixture; the spec's own
    # defaults (double_quant true, dropout 0) must not leak into the exported config
    out, _ = _import(tmp_path, FIXTURES / "trl_sft_lora.yaml")
    lora = tomllib.loads(out.read_text())["training"]["lora"]
    assert (lora["double_quant"], lora["dropout"]) == (False, 0.05)
    exported = run_cli("export", str(out), "--to", "trl")
    assert exported.code == 0 and "use_bnb_nested_quant: false" in exported.out and "lora_dropout: 0.05" in exported.out


def test_full_fine_tune_gets_no_lora_table(tmp_path):
    out, _ = _import(tmp_path, FIXTURES / "trl_example_config.yaml")
    assert "lora" not in tomllib.loads(out.read_text())["training"]


def test_import_and_export_never_import_torch_or_transformers(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "spec.toml"
    code = (
        "import sys; from llmspec.cli import main\n"
        f"sys.argv = ['llmspec', 'import', {str(FIXTURES / 'trl_sft_lora.yaml')!r}, '-o', {str(out)!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"sys.argv = ['llmspec', 'export', {str(out)!r}, '--to', 'trl']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'trl', 'lm_eval'))\n"
        "print('HEAVY', heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "HEAVY []" in proc.stdout, proc.stdout + proc.stderr
    assert out.exists()


def test_single_target_module_is_a_list(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("model_name_or_path: meta-llama/Llama-2-7b-hf\nuse_peft: true\nlora_target_modules: all-linear\n")
    out, _ = _import(tmp_path, config)
    assert tomllib.loads(out.read_text())["training"]["lora"]["targets"] == ["all-linear"]
    assert run_cli("check", str(out)).code == 0


def test_value_the_spec_cannot_hold_is_an_error_at_its_yaml_key(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("model_name_or_path: meta-llama/Llama-2-7b-hf\nmax_length: 512\nlearning_rate: fast\n")
    quoted = tmp_path / "q.yaml"
    quoted.write_text("max_length: 512\nper_device_train_batch_size: \"8\"\n")
    result = run_cli("import", str(quoted))
    assert result.code == 2 and result.err.startswith(f"{quoted}:2:1: TRL key per_device_train_batch_size")
    result = run_cli("import", str(config), "-o", str(tmp_path / "s.toml"))
    assert result.code == 2 and result.err.startswith(f"{config}:3:1: TRL key learning_rate = 'fast'")
    assert not (tmp_path / "s.toml").exists()


@pytest.mark.parametrize("text, message", [
    ("max_length: 512\nlora_r: 8\nmax_length: 1024\n", ":3:1: duplicate key 'max_length'"),
    ("max_length: 512\nmodel_name_or_path: 7\n", ":1:1: model_name_or_path must be a model name or a path"),
])
def test_ambiguous_input_is_refused(tmp_path, text, message):
    config = tmp_path / "c.yaml"
    config.write_text(text)
    result = run_cli("import", str(config))
    assert result.code == 2 and result.err.startswith(f"{config}{message}") and result.err.count("\n") == 1


def test_max_steps_is_imported_and_minus_one_means_none(tmp_path):
    # max_steps: 100 was reported "unsupported" (the table listed only -1); any other value is taken as it is
    for value, expected in (("100", 100), ("-1", None)):
        config = tmp_path / f"c{value}.yaml"
        config.write_text(f"model_name_or_path: x/y\nmax_length: 512\nmax_steps: {value}\n")
        out = tmp_path / f"s{value}.toml"
        result = run_cli("import", str(config), "-o", str(out), "--hf-config", str(PRESETS / "Qwen2.5-0.5B.json"))
        assert result.code == 0 and "unsupported" not in result.err, result.err
        training = tomllib.loads(out.read_text())["training"]
        assert training.get("max_steps") == expected


@pytest.mark.parametrize("command", ["import", "lint"])
def test_control_characters_of_a_config_path_are_shown_visibly(tmp_path, command):
    # import and lint printed a bad config's path raw: an escape sequence in a folder name reached the terminal
    folder = tmp_path / "x\x1b]0;pwned\x07"
    folder.mkdir()
    config = folder / "c.yaml"
    config.write_text("model_name_or_path: a/b\nmax_length: 512\nmax_seq_length: 3\n")
    result = run_cli(command, str(config))
    assert result.code == 2
    assert not any(ch in result.err for ch in "\x1b\x07"), result.err
    assert "x\\x1b]0;pwned\\x07/c.yaml:3:1: TRL 1.16.0 has no key 'max_seq_length'" in result.err
