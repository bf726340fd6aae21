"""What `llmspec import` and `llmspec export` write, found by the newcomer trial of the README:

- import exited 0 while the spec it wrote failed `llmspec check` (no architecture without --hf-config; a relative
  --hf-config written relative to the working folder, which the spec reads relative to its own folder). The spec
  is still written (the mapping is the user's work), and a spec that does not validate is exit 2 with one
  `file:line:col` line that says what is missing and how to supply it.
- import -o and export -o overwrote an existing file silently, while init asks for --force; all three now refuse
  with one line naming --force (exit 2) and overwrite with it."""

from __future__ import annotations

import json

import pytest
from bridge_helpers import FIXTURES, PRESETS, ROOT, run_cli

from llmspec.spec.families import preset

PRIVATE = "model_name_or_path: my-org/private-7b\nmax_length: 512\nlearning_rate: 2.0e-4\n"


def test_import_without_architecture_is_exit_2_with_the_fix(tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text(PRIVATE, encoding="utf-8")
    out = tmp_path / "spec.toml"
    result = run_cli("import", str(config), "-o", str(out))
    assert result.code == 2, result.err
    assert out.exists()  # the mapping is kept, for the user to complete
    problems = [line for line in result.err.splitlines() if line.startswith(f"{out}:")]
    assert len(problems) == 1, result.err
    assert problems[0].startswith(f"{out}:4:2: model: [model] needs either a [model.architecture] table")
    assert "--hf-config" in problems[0]
    assert f"{out}: written" not in result.err
    assert run_cli("check", str(out)).code == 2  # the same verdict as check's


def test_import_to_stdout_without_architecture_is_exit_2(tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text(PRIVATE, encoding="utf-8")
    result = run_cli("import", str(config))
    assert result.code == 2 and result.out.startswith("# Imported by `llmspec import`")
    assert "<stdout>:4:2: model: [model] needs either" in result.err


def test_relative_hf_config_is_written_relative_to_the_spec(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "config.json").write_text(json.dumps(preset("Qwen2.5-0.5B").config()), encoding="utf-8")
    (tmp_path / "train.yaml").write_text(PRIVATE, encoding="utf-8")
    result = run_cli("import", "train.yaml", "--hf-config", "ckpt/config.json", "-o", "specs/bot.toml")
    assert result.code == 0, result.err
    assert 'hf_config = "../ckpt/config.json"' in (tmp_path / "specs" / "bot.toml").read_text(encoding="utf-8")
    check = run_cli("check", "specs/bot.toml")
    assert check.code == 0, check.out + check.err


def test_valid_import_is_exit_0(tmp_path):
    out = tmp_path / "spec.toml"
    result = run_cli("import", str(FIXTURES / "trl_sft_full.yaml"), "--hf-config", str(PRESETS / "Qwen2.5-0.5B.json"),
                     "-o", str(out))
    assert result.code == 0 and f"{out}: written (trl)" in result.err


@pytest.mark.parametrize("command", ["import", "export"])
def test_existing_output_needs_force(tmp_path, command):
    out = tmp_path / ("spec.toml" if command == "import" else "trl.yaml")
    out.write_text("keep me\n", encoding="utf-8")
    args = ([str(FIXTURES / "trl_sft_full.yaml"), "--hf-config", str(PRESETS / "Qwen2.5-0.5B.json")]
            if command == "import" else [str(ROOT / "examples" / "llama2-7b-lora-a100.toml"), "--to", "trl"])
    result = run_cli(command, *args, "-o", str(out))
    assert result.code == 2
    assert result.err == f"{out}: already exists; pass --force to overwrite it\n"
    assert out.read_text(encoding="utf-8") == "keep me\n"
    forced = run_cli(command, *args, "-o", str(out), "--force")
    assert forced.code == 0, forced.err
    assert out.read_text(encoding="utf-8") != "keep me\n"
