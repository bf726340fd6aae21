"""`llmspec init --from-hf`: the written spec loads, round-trips the architecture, and errors are one line, exit 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from params_checkpoints import CHECKPOINTS, CONFIGS, load

from llmspec.cli import cli
from llmspec.estimate.params import count_params
from llmspec.spec.hf_import import architecture_from_hf
from llmspec.spec.loader import load_spec
from llmspec.spec.models import Architecture
from llmspec.spec.scaffold import SCHEMA_URL


def run(*args: str):
    return CliRunner().invoke(cli, ["init", *args])


@pytest.mark.parametrize("stem", sorted(CHECKPOINTS))
def test_written_spec_loads_and_round_trips(tmp_path, stem):
    out = tmp_path / "spec.toml"
    result = run("--from-hf", str(CONFIGS / f"{stem}.json"), "-o", str(out))
    assert result.exit_code == 0, result.output
    spec = load_spec(out)
    family, arch = architecture_from_hf(load(stem))
    assert spec.arch == Architecture(**arch)
    assert spec.model.family == family
    assert spec.model.name == stem
    assert spec.model.parameters == count_params(spec.arch).total
    assert spec.version == 1


def test_first_line_is_a_schema_directive_and_stdout_without_output(tmp_path):
    result = run("--from-hf", str(CONFIGS / "gpt2.json"))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == f"#:schema {SCHEMA_URL}"
    assert "version = 1" in lines
    assert "parameters = 124_439_808  # exact count for this architecture" in lines
    assert not list(tmp_path.iterdir())


def test_schema_directive_is_relative_inside_a_checkout(tmp_path):
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "llmspec.schema.json").write_text("{}")
    out = tmp_path / "specs" / "bot.toml"
    assert run("--from-hf", str(CONFIGS / "gpt2.json"), "-o", str(out)).exit_code == 0
    assert out.read_text().splitlines()[0] == "#:schema ../schemas/llmspec.schema.json"


def _uncomment(path: Path) -> None:
    """Turn the commented [training], [hardware] and [meta] templates into real tables, as a user would."""
    uncommented = "\n".join(
        line[2:] if line.startswith("# ") and not line.startswith("# Written") and "llmspec check" not in line
        else line for line in path.read_text().splitlines()
    )
    path.write_text(uncommented.replace("\n#\n", "\n\n"))


def test_the_commented_templates_are_valid_when_uncommented(tmp_path):
    out = tmp_path / "spec.toml"
    assert run("--from-hf", str(CONFIGS / "Qwen2.5-0.5B.json"), "-o", str(out), "--name", "bot").exit_code == 0
    _uncomment(out)
    spec = load_spec(out)
    assert spec.model.name == "bot"
    assert spec.training.method == "lora" and spec.training.lora.targets == ["q_proj", "k_proj", "v_proj", "o_proj"]
    assert spec.hardware.accelerator == "A100-80GB"
    assert spec.training.seed == 42 and spec.training.validation_split == 0.05
    assert spec.meta.owner == "team@example.com"


def _lint_json(path: Path) -> list[dict]:
    result = CliRunner().invoke(cli, ["lint", "--format", "json", str(path)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("stem", ["Meta-Llama-3-8B", "gpt2", "pythia-1.4b", "Qwen2.5-0.5B"])
def test_written_spec_passes_check_and_lint_as_written_and_uncommented(tmp_path, stem):
    """A starter spec must not greet its user with findings about the template itself: as written, lint may
    only ask for an owner (the example ORG plugin, when installed); uncommented, it has nothing to say."""
    out = tmp_path / "spec.toml"
    assert run("--from-hf", str(CONFIGS / f"{stem}.json"), "-o", str(out)).exit_code == 0
    assert CliRunner().invoke(cli, ["check", str(out)]).exit_code == 0
    assert [f["code"] for f in _lint_json(out) if not f["code"].startswith("ORG")] == []
    _uncomment(out)
    assert CliRunner().invoke(cli, ["check", str(out)]).exit_code == 0
    assert [(f["code"], f["message"]) for f in _lint_json(out)] == []


def test_refuses_to_overwrite_without_force(tmp_path):
    out = tmp_path / "spec.toml"
    out.write_text("keep me\n")
    result = run("--from-hf", str(CONFIGS / "gpt2.json"), "-o", str(out))
    assert result.exit_code == 2
    assert result.stderr == f"{out}: already exists; pass --force to overwrite it\n"
    assert out.read_text() == "keep me\n"
    assert run("--from-hf", str(CONFIGS / "gpt2.json"), "-o", str(out), "--force").exit_code == 0
    assert load_spec(out).model.family == "gpt2"


def test_name_defaults_to_the_checkpoint_directory(tmp_path):
    checkpoint = tmp_path / "my-llama"
    checkpoint.mkdir()
    shutil.copy(CONFIGS / "Meta-Llama-3-8B.json", checkpoint / "config.json")
    out = tmp_path / "spec.toml"
    assert run("--from-hf", str(checkpoint / "config.json"), "-o", str(out)).exit_code == 0
    assert load_spec(out).model.name == "my-llama"


def test_unknown_model_type_is_one_error_line_and_exit_2(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_type": "bert", "hidden_size": 768}))
    result = run("--from-hf", str(config), "-o", str(tmp_path / "spec.toml"))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{config}: unsupported model_type 'bert'; supported: falcon, gemma, gemma2, ")
    assert not (tmp_path / "spec.toml").exists()


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON: Expecting property name enclosed in double quotes at line 1"),
        (json.dumps({**load("opt-1.3b"), "word_embed_proj_dim": 512}), "model_type 'opt': word_embed_proj_dim (512) differs"),
    ],
)
def test_bad_configs_exit_2(tmp_path, content, message):
    config = tmp_path / "config.json"
    config.write_text(content)
    result = run("--from-hf", str(config))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{config}: {message}")
    assert result.stdout == ""


def test_missing_config_file_exit_2(tmp_path):
    result = run("--from-hf", str(tmp_path / "nope.json"))
    assert result.exit_code == 2
    assert result.stderr == f"{tmp_path / 'nope.json'}: cannot read: No such file or directory\n"


def test_a_checkpoint_folder_reads_its_config_json(tmp_path):
    checkpoint = tmp_path / "support-bot"
    checkpoint.mkdir()
    shutil.copy(CONFIGS / "gpt2.json", checkpoint / "config.json")
    result = run("--from-hf", str(checkpoint))
    assert result.exit_code == 0, result.output
    assert f"`llmspec init --from-hf {(checkpoint / 'config.json').as_posix()}`" in result.stdout
    assert "parameters = 124_439_808  # exact count for this architecture" in result.stdout


def test_a_folder_without_config_json_is_one_line_and_exit_2(tmp_path):
    result = run("--from-hf", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr == f"{tmp_path}: a folder without a config.json; name the config file\n"
    assert result.stdout == ""
