"""The plugin's own tests: its rules fire on their Bad examples, pass their Good ones, and are found through
the entry point by `llmspec lint` once the package is installed (pip install -e plugins/llmspec-policy)."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from click.testing import CliRunner
from llmspec_policy import OwnerRule, SeedRule

from llmspec.cli import cli
from llmspec.lint.docs import examples, wrap_example


@pytest.mark.parametrize("rule", [OwnerRule, SeedRule], ids=lambda r: r.code)
@pytest.mark.parametrize("kind", ["Bad", "Good"])
def test_examples(rule, kind, tmp_path):
    for i, toml in enumerate(examples(rule.doc(), kind)):
        path = tmp_path / f"{kind}{i}.toml"
        path.write_text(wrap_example(toml))
        outcome = CliRunner().invoke(cli, ["lint", str(path), "--select", rule.code, "-f", "concise"])
        assert (rule.code in outcome.output) == (kind == "Bad"), outcome.output


def test_registered_through_the_entry_point():
    names = {ep.value for ep in entry_points(group="llmspec.rules")}
    assert {"llmspec_policy.owner:OwnerRule", "llmspec_policy.seed:SeedRule"} <= names


def test_listed_and_explained():
    listing = CliRunner().invoke(cli, ["rules", "--format", "json"]).output
    assert '"ORG001"' in listing and '"ORG002"' in listing
    explained = CliRunner().invoke(cli, ["rule", "ORG002"]).output
    assert explained.startswith("ORG002 (training-sets-seed) [warning]")


def test_position(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text(wrap_example('[meta]\ndescription = "x"\n\n[training]\nmethod = "full"\n'))
    out = CliRunner().invoke(cli, ["lint", str(path), "--select", "ORG", "-f", "concise"]).output
    assert f"{path}:1:2: ORG001" in out and f"{path}:4:2: ORG002" in out



def test_owner_is_not_asked_of_a_training_tool_config(tmp_path, monkeypatch):
    """A training tool's YAML (here TRL's) has no place for an owner: ORG001 applies to specs only (ORG002 keeps
    both inputs: every tool has a seed)."""
    import json
    from pathlib import Path

    import llmspec

    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.yaml").write_text("model_name_or_path: meta-llama/Llama-2-7b-hf\nmax_length: 512\n")
    preset = Path(llmspec.__file__).parent / "data" / "presets" / "Llama-2-7b-hf.json"
    outcome = CliRunner().invoke(cli, ["lint", "train.yaml", "-f", "json", "--select", "ORG",
                                       "--set", f"model.hf_config={preset}"])
    assert "ORG001" not in [f["code"] for f in json.loads(outcome.output)]
    assert OwnerRule.applies_to == frozenset({"spec"}) and "tool-config" in SeedRule.applies_to
