"""Suites are data: the schema matches the model, the shipped suites validate, the smoke data matches its
generator, and the eval path keeps torch/lm_eval out of imports until it runs."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest
from eval_helpers import ROOT

SUITES = sorted((ROOT / "suites").glob("*.toml"))


def test_suite_schema_file_matches_the_model():
    from llmspec.eval.suite import schema_text

    assert (ROOT / "schemas" / "suite.schema.json").read_text() == schema_text(), \
        "regenerate with: python -m llmspec.eval.suite > schemas/suite.schema.json"


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.name)
def test_shipped_suites_validate(path):
    import tomllib

    from llmspec.eval.suite import load_suite

    schema = json.loads((ROOT / "schemas" / "suite.schema.json").read_text())
    jsonschema.validate(tomllib.loads(path.read_text()), schema)
    suite = load_suite(path)
    assert path.read_text().startswith("#:schema ../schemas/suite.schema.json")
    for task in suite.tasks:
        if task.path:
            assert suite.task_path(task).is_file()
            assert suite.is_offline(task)


def test_suite_paths_resolve_relative_to_the_suite_file(tmp_path, monkeypatch):
    from llmspec.eval.suite import SuiteError, load_suite

    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "t.yaml").write_text("task: t\n")
    (tmp_path / "s.toml").write_text('name = "s"\n[[tasks]]\ntask = "t"\npath = "sub/t.yaml"\n')
    monkeypatch.chdir(ROOT)
    suite = load_suite(tmp_path / "s.toml")
    assert suite.task_path(suite.tasks[0]) == tmp_path / "sub" / "t.yaml"
    (tmp_path / "bad.toml").write_text('name = "s"\n[[tasks]]\ntask = "t"\npath = "missing.yaml"\n')
    with pytest.raises(SuiteError, match="task YAML 'missing.yaml' not found"):
        load_suite(tmp_path / "bad.toml")
    (tmp_path / "typo.toml").write_text('name = "s"\n[[tasks]]\ntaks = "t"\n')
    with pytest.raises(SuiteError, match="tasks.0"):
        load_suite(tmp_path / "typo.toml")


def test_smoke_data_matches_its_generator():
    from llmspec.eval import kb

    for name, text in kb.render_suite_files().items():
        assert (ROOT / "suites" / "smoke" / name).read_text() == text, \
            f"regenerate with: python -m llmspec.eval.kb suites/smoke ({name})"


def test_eval_questions_are_worded_unlike_the_training_text():
    from llmspec.eval import kb

    train = kb.training_text()
    for doc in kb.qa_docs():
        assert doc["question"] not in train
    for doc in kb.heldout_docs():
        for sentence in doc["text"].split(". "):
            assert sentence.rstrip(".") not in train
    for doc in kb.classification_docs():
        assert doc["text"] not in train
    labels = [d["label"] for d in kb.classification_docs()]
    assert labels.count(0) / len(labels) == 0.5  # the imbalance macro-F1 is there for


def test_importing_the_eval_command_does_not_import_torch_or_lm_eval():
    code = ("import sys, llmspec.cli.eval, llmspec.eval.runner, llmspec.eval.plan, llmspec.eval.suite; "
            "print(sorted(m for m in ('torch', 'lm_eval', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
