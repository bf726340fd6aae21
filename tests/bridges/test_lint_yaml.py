"""`llmspec lint train.yaml`: a TRL config linted as it stands, findings at its own YAML line:col (real files, the
real CLI, every output format)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from bridge_helpers import FIXTURES, PRESETS, run_cli

# After tests/bridges/fixtures/trl_sft_full.yaml, with a full fine-tune of Llama-2-7B that cannot fit on a T4.
TRAIN = """\
# a full fine-tune, as `trl sft --config train.yaml` reads it
model_name_or_path: meta-llama/Llama-2-7b-hf
dataset_name: trl-lib/Capybara
learning_rate: 2.0e-4
per_device_train_batch_size: 8
max_length: 4096
gradient_checkpointing: false
bf16: true
output_dir: out
"""


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _lint(*args: str):
    return run_cli("lint", "--no-color", "-f", "concise", *args)


def _by_code(out: str) -> dict[str, str]:
    return {line.split(" ", 2)[1]: line.split(" ", 1)[0] for line in out.splitlines() if line.count(":") >= 3}


def test_findings_point_at_the_yaml_keys(here):
    (here / "train.yaml").write_text(TRAIN)
    result = _lint("train.yaml", "--set", "hardware.accelerator=T4")
    assert result.code == 1, result.out + result.err
    where = _by_code(result.out)
    assert where["HW001"] == "train.yaml:8:1:"  # bf16: true on a T4 (no bf16)
    assert where["OVF005"] == "train.yaml:4:1:"  # learning_rate: 2e-4 for a full fine-tune
    # MEM001 is about the whole [training] table: the first key that set a training value directly
    assert where["MEM001"] == "train.yaml:4:1:"
    assert "MEM001 [error] training needs" in result.out and "but T4 has 15.0 GiB per GPU" in result.out
    assert "train.yaml:2:1: BRG002 [info] memory checked on 1x T4 (accelerator from --set hardware.accelerator)" in result.out


def test_full_format_shows_the_yaml_line(here):
    (here / "train.yaml").write_text(TRAIN)
    result = run_cli("lint", "--no-color", "train.yaml", "--set", "hardware.accelerator=T4")
    assert "8 | bf16: true\n  | ^^^^ HW001" in result.out


def test_a_value_the_config_did_not_set_points_at_the_table_it_belongs_to(here):
    # no learning_rate: OVF005 cannot fire; epochs come from TRL's default (3) and point at [training]'s first key
    (here / "train.yaml").write_text("model_name_or_path: meta-llama/Llama-2-7b-hf\nper_device_train_batch_size: 2\n"
                                     "max_length: 1024\n")
    result = _lint("train.yaml")
    assert "train.yaml:2:1: OVF006 [warning] epochs = 3 with no validation split" in result.out


def test_no_hardware_says_memory_was_not_checked_and_still_runs_the_other_rules(here):
    (here / "train.yaml").write_text(TRAIN)
    result = _lint("train.yaml")
    assert result.code == 0, result.out + result.err  # info and warnings only
    assert "train.yaml:2:1: BRG001 [info] memory not checked: this TRL config names no GPU" in result.out
    assert "MEM0" not in result.out and "HW001" not in result.out
    assert "OVF005 [warning] learning_rate = 2e-4" in result.out


def test_hardware_keys_without_an_accelerator_are_not_a_guess(here):
    (here / "train.yaml").write_text(TRAIN)
    result = _lint("train.yaml", "--set", "hardware.count=8")
    assert "BRG001 [info] memory not checked" in result.out and "(hardware count given, but no accelerator)" in result.out
    assert "MEM0" not in result.out


def test_hardware_from_the_project_config(here):
    (here / "train.yaml").write_text(TRAIN)
    (here / "llmspec.toml").write_text('[hardware]\naccelerator = "A100-40GB"\ncount = 2\n')
    result = _lint("train.yaml")
    assert result.code == 1, result.out + result.err
    assert "BRG002 [info] memory checked on 2x A100-40GB (accelerator from llmspec.toml:2:1)" in result.out
    assert "MEM001 [error] training needs" in result.out and "2 x A100-40GB has 40.0 GiB per GPU" in result.out
    # the command line wins over the project config
    result = _lint("train.yaml", "--set", "hardware.accelerator=H100-SXM")
    assert "memory checked on 2x H100-SXM (accelerator from --set hardware.accelerator)" in result.out


def test_hardware_from_pyproject(here):
    (here / "train.yaml").write_text(TRAIN)
    (here / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.llmspec.hardware]\naccelerator = "T4"\n')
    result = _lint("train.yaml")
    assert "memory checked on 1x T4 (accelerator from pyproject.toml:5:1)" in result.out
    assert "train.yaml:8:1: HW001" in result.out


@pytest.mark.parametrize(("config", "expected"), [
    ('[hardware]\naccelerator = "A100-4GB"\n', "llmspec.toml:2:1: hardware.accelerator: unknown accelerator 'A100-4GB'"),
    ('[hardware]\naccelerator = "T4"\ncont = 2\n', "llmspec.toml:3:1: unknown key 'cont' in hardware; did you mean 'count'?"),
    ('[hardware]\ncount = 0\n', "llmspec.toml:2:1:"),
])
def test_bad_hardware_in_the_project_config_is_one_line_exit_2(here, config, expected):
    (here / "train.yaml").write_text(TRAIN)
    (here / "llmspec.toml").write_text(config)
    result = _lint("train.yaml")
    assert result.code == 2, result.out + result.err
    assert expected in result.err and len(result.err.strip().splitlines()) == 1


@pytest.mark.parametrize("fmt", ["json", "sarif", "junit", "github"])
def test_every_output_format_carries_the_yaml_positions(here, fmt):
    (here / "train.yaml").write_text(TRAIN)
    out = run_cli("lint", "-f", fmt, "train.yaml", "--set", "hardware.accelerator=T4").out
    if fmt == "json":
        hw = next(f for f in json.loads(out) if f["code"] == "HW001")
        assert (hw["filename"], hw["line"], hw["column"]) == ("train.yaml", 8, 1)
    elif fmt == "sarif":
        results = json.loads(out)["runs"][0]["results"]
        hw = next(r for r in results if r["ruleId"] == "HW001")["locations"][0]["physicalLocation"]
        assert hw["artifactLocation"]["uri"] == "train.yaml" and hw["region"]["startLine"] == 8
    elif fmt == "junit":
        case = next(c for c in ET.fromstring(out).iter("testcase") if c.get("name", "").startswith("HW001"))
        assert (case.get("file"), case.get("line")) == ("train.yaml", "8")
    else:
        assert "::error file=train.yaml,line=8,col=1,title=HW001" in out


def test_the_trl_fixtures_lint(here):
    for config in sorted(FIXTURES.glob("trl_*.yaml")):
        target = here / config.name
        target.write_text(config.read_text())
        # Qwen/Qwen2-0.5B is no registry preset: its architecture comes from --set model.hf_config
        extra = ("--set", f"model.hf_config={PRESETS / 'Qwen2.5-0.5B.json'}") if config.stem == "trl_sft_full" else ()
        result = _lint(config.name, "--set", "hardware.accelerator=A100-80GB", *extra)
        assert result.code in (0, 1), result.out + result.err
        assert f"{config.name}:" in result.out and "BRG002" in result.out


@pytest.mark.parametrize(("text", "expected"), [
    ("seed: 42\nlora_r: [1\n", "bad.yaml:3:1: YAML syntax error: expected ',' or ']'"),
    ("max_length: 512\nmax_seq_length: 512\n", "bad.yaml:2:1: TRL 1.16.0 has no key 'max_seq_length'"),
    ("model_name_or_path: x\ncutoff_len: 512\nmax_length: 512\n", "bad.yaml:1:1: keys of more than one tool: "
     "LLaMA-Factory (cutoff_len); TRL (max_length); give --from TOOL"),
    ("name: CI\non: push\n", "bad.yaml:1:1: not a training config of a tool llmspec reads"),
    ("max_length: 512\nmax_length: 1024\n", "bad.yaml:2:1: duplicate key 'max_length'"),
    ("- a\n- b\n", "bad.yaml:1:1: expected a YAML mapping"),
    ("", "bad.yaml:1:1: the file is empty"),
    ("{}\n", "bad.yaml:1:1: the mapping has no keys"),
])
def test_bad_yaml_named_on_the_command_line_is_one_line_exit_2(here, text, expected):
    (here / "bad.yaml").write_text(text)
    result = _lint("bad.yaml")
    assert result.code == 2, result.out + result.err
    assert result.err.startswith(expected) and len(result.err.strip().splitlines()) == 1, result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize("command", [("lint", "--from", "trl"), ("import",)])
def test_an_empty_mapping_is_one_line_also_with_from(here, command):
    (here / "bad.yaml").write_text("{}\n")
    result = run_cli(*command, "bad.yaml")
    assert result.code == 2 and result.err == "bad.yaml:1:1: the mapping has no keys; give a training config\n"


def test_from_settles_an_ambiguous_config(here):
    (here / "train.yaml").write_text("model_name_or_path: meta-llama/Llama-2-7b-hf\ncutoff_len: 512\nmax_length: 512\n")
    assert _lint("train.yaml").code == 2
    result = _lint("train.yaml", "--from", "trl")
    # with --from trl, cutoff_len is a key TRL does not have: named, exit 2
    assert result.code == 2 and "train.yaml:2:1: TRL 1.16.0 has no key 'cutoff_len'" in result.err
    (here / "train.yaml").write_text("model_name_or_path: meta-llama/Llama-2-7b-hf\nmax_length: 512\n")
    assert _lint("train.yaml", "--from", "trl").code == 0


def test_linting_yaml_imports_no_heavy_module(here):
    # pre-commit speed: a TRL config with a DeepSpeed file is linted without torch, transformers, accelerate or
    # deepspeed (checked in a fresh process)
    import subprocess
    import sys

    (here / "ds.json").write_text((FIXTURES / "deepspeed_zero3_offload.json").read_text())
    (here / "train.yaml").write_text(TRAIN.replace("bf16: true", "fp16: true") + "deepspeed: ds.json\n")
    probe = ("import json, sys\nfrom llmspec.cli import cli\ntry:\n    cli.main(['lint', 'train.yaml', '--set', "
             "'hardware.accelerator=A100-80GB', '-f', 'json'], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
             "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=here)
    assert proc.returncode == 0, proc.stderr
    findings, modules = proc.stdout.rsplit("\n", 2)[0], set(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert '"code": "HW005"' in findings  # the DeepSpeed file was read
    assert not modules & {"torch", "transformers", "lm_eval", "accelerate", "deepspeed", "peft", "numpy"}


def test_no_architecture_says_how_to_give_one(here):
    (here / "train.yaml").write_text("model_name_or_path: Qwen/Qwen2-0.5B\nmax_length: 1024\n")
    result = _lint("train.yaml")
    assert result.code == 1
    assert "train.yaml:1:1: SPC002 [error] model: [model] needs either a [model.architecture] table or hf_config" in result.out
    assert "--set model.hf_config=path/to/config.json" in result.out
    ok = _lint("train.yaml", "--set", f"model.hf_config={PRESETS / 'Qwen2.5-0.5B.json'}")
    assert ok.code == 0 and "SPC002" not in ok.out, ok.out
