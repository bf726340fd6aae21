"""docs/spec-reference.md is generated from the models and must be current."""

from pathlib import Path

from llmspec.spec.reference import render

ROOT = Path(__file__).resolve().parent.parent


def test_spec_reference_is_current() -> None:
    current = (ROOT / "docs" / "spec-reference.md").read_text(encoding="utf-8")
    assert current == render(), "regenerate with: python -m llmspec.spec.reference > docs/spec-reference.md"


def test_reference_documents_every_section() -> None:
    text = render()
    for table in ("[model.architecture]", "[training.lora]", "[[eval.gates]]", "[hardware]", "[sampling]"):
        assert f"## {table}" in text
    assert "Passes over the training data" in text  # attribute docstrings flow into the docs
