"""Which YAML files `llmspec lint` reads: training configs told by their parsed keys; other YAML is skipped in a
folder, and a usage error (exit 2) when named, unless --skip-other-yaml (the pre-commit hook) says to skip it.
Also the positions of nested keys (Entry.marks), which every tool's table can use."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from bridge_helpers import run_cli

from llmspec.bridges.yamlfile import flatten, parse_yaml

ROOT = Path(__file__).resolve().parents[2]
TRL = "model_name_or_path: meta-llama/Llama-2-7b-hf\nmax_length: 1024\nlearning_rate: 2.0e-4\n"
OTHERS = {
    "ci.yml": "name: CI\non: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n",
    "mkdocs.yml": "site_name: docs\nnav:\n  - index.md\n",
    "k8s.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n",
    "broken.yaml": "a: [1\n",
    # a TRL marker key, but most keys are no TRL key: no TRL config
    "notes.yaml": "max_length: 3\ntitle: x\nauthor: y\ntags: [a]\n",
    "list.yaml": "- a\n- b\n",
    "empty.yaml": "",
}


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "sft.yaml").write_text(TRL)
    for name, text in OTHERS.items():
        (tmp_path / name).write_text(text)
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "train.yaml").write_text(TRL)  # hidden folders are not searched
    return tmp_path


def _lint(*args: str):
    return run_cli("lint", "--no-color", "-f", "concise", *args)


def test_a_folder_lints_the_training_configs_and_skips_other_yaml(repo):
    result = _lint(".")
    assert result.code == 0, result.out + result.err
    files = {line.split(":", 1)[0] for line in result.out.splitlines() if line.count(":") >= 3}
    assert files == {"configs/sft.yaml"}
    assert "in 1 spec" in result.out


def test_from_does_not_make_other_yaml_in_a_folder_a_training_config(repo):
    result = _lint(".", "--from", "trl")
    assert result.code == 0, result.out + result.err
    assert "configs/sft.yaml" in result.out and "mkdocs" not in result.out + result.err


def test_exclude_drops_a_training_config(repo):
    (repo / "llmspec.toml").write_text('exclude = ["configs/**"]\n')
    result = _lint(".")
    assert "configs/sft.yaml" not in result.out and "0 specs" in result.out


@pytest.mark.parametrize("name", sorted(OTHERS))
def test_other_yaml_named_is_exit_2_unless_skipped(repo, name):
    result = _lint(name)
    assert result.code == 2 and result.err.startswith(f"{name}:") and len(result.err.splitlines()) == 1, result.err
    skipped = _lint("--skip-other-yaml", name, "configs/sft.yaml")
    assert skipped.code == 0, skipped.out + skipped.err
    assert "configs/sft.yaml" in skipped.out and name not in skipped.out


def test_skip_other_yaml_still_reports_a_broken_training_config(repo):
    (repo / "old.yaml").write_text("max_length: 512\nmax_seq_length: 512\n")
    result = _lint("--skip-other-yaml", "old.yaml")
    assert result.code == 2 and "old.yaml:2:1: TRL 1.16.0 has no key 'max_seq_length'" in result.err


def test_a_config_that_cannot_be_read_never_loses_the_other_files_findings(repo):
    """One bad file never loses the others' findings (as for TOML specs): its line comes after the report of every
    other file, and the run still exits 2."""
    (repo / "configs" / "ds.yaml").write_text(TRL + "deepspeed: missing_ds.json\n")
    (repo / "configs" / "old.yaml").write_text("max_length: 512\nmax_seq_length: 512\n")
    spec = repo / "spec.toml"
    spec.write_text((ROOT / "examples" / "llama2-7b-lora-a100.toml").read_text().replace(
        'owner = "ml-platform"', 'owner = "ml-platform"\n'))
    result = _lint(".", "--set", "hardware.accelerator=A100-80GB")
    assert result.code == 2, result.out + result.err
    assert "configs/sft.yaml:" in result.out and "spec.toml:" in result.out and "in 2 specs" in result.out
    errors = result.err.splitlines()
    assert len(errors) == 2
    assert any(e.startswith("configs/ds.yaml:4:1: deepspeed: 'missing_ds.json' not found") for e in errors), errors
    assert any(e.startswith("configs/old.yaml:2:1: TRL 1.16.0 has no key 'max_seq_length'") for e in errors), errors


def test_the_pre_commit_hook_covers_yaml():
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    import re

    pattern = re.compile(hook["files"])
    for name in ("spec.toml", "train.yaml", "configs/axolotl.yml"):
        assert pattern.search(name), name
    assert not pattern.search("README.md")
    assert "--skip-other-yaml" in hook["entry"].split()


def test_nested_keys_keep_their_own_positions():
    text = ("base_model: x\npeft_config:\n  r: 16\n  lora:\n    alpha: 32\ndatasets:\n  - path: a\n    type: alpaca\n"
            "  - path: b\n")
    entries = parse_yaml("x.yaml", text)
    peft = next(e for e in entries if e.key == "peft_config")
    assert (peft.line, peft.col, peft.at("r"), peft.at("lora", "alpha"), peft.at("nope")) == (2, 1, (3, 3), (5, 5), (2, 1))
    datasets = next(e for e in entries if e.key == "datasets")
    assert datasets.at(1, "path") == (9, 5) and datasets.at(0, "type") == (8, 5)
    flat = {e.key: (e.value, e.line, e.col) for e in flatten(entries)}
    assert flat["peft_config.r"] == (16, 3, 3) and flat["peft_config.lora.alpha"] == (32, 5, 5)
    assert flat["datasets"][1:] == (6, 1)


def test_a_nested_duplicate_key_is_refused():
    with pytest.raises(Exception, match=r"x.yaml:4:3: duplicate key 'peft_config.r'"):
        parse_yaml("x.yaml", "a: 1\npeft_config:\n  r: 16\n  r: 8\n")


def test_merge_keys_are_read_as_pyyaml_reads_them():
    # YAML 1.1 merge keys (`<<: *base`), as yaml.safe_load (what the tools use) reads them: the mapping's own keys
    # win, a merged key points at where the anchor wrote it
    text = ("base: &b\n  r: 16\n  alpha: 8\npeft_config:\n  <<: *b\n  alpha: 32\n")
    entries = parse_yaml("x.yaml", text)
    assert {e.key: e.value for e in entries} == yaml.safe_load(text)
    peft = next(e for e in entries if e.key == "peft_config")
    assert (peft.at("r"), peft.at("alpha")) == ((2, 3), (6, 3))
    top = "defaults: &d\n  max_length: 512\n<<: *d\nmax_length: 1024\n"
    assert [(e.key, e.value, e.line) for e in parse_yaml("t.yaml", top)] == [
        ("defaults", {"max_length": 512}, 1), ("max_length", 1024, 4)]


def test_a_merge_key_in_a_lint_of_a_real_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.yaml").write_text("model_name_or_path: meta-llama/Llama-2-7b-hf\nmax_length: 1024\n"
                                         "model_init_kwargs: &kw {torch_dtype: bfloat16}\n"
                                         "dataset_kwargs:\n  <<: *kw\n  skip_prepare_dataset: true\n")
    result = _lint("train.yaml")
    assert result.code == 0, result.out + result.err
