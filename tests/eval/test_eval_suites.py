"""Suites are data: the schema matches the model, the shipped suites validate, the smoke data matches its
generator, and the eval path keeps torch/lm_eval out of imports until it runs."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter
from statistics import NormalDist

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


def _texts(name: str) -> list[str]:
    rows = [json.loads(line) for line in (ROOT / "suites" / "smoke" / name).read_text().splitlines()]
    return [r.get("text") or r["question"] for r in rows]


@pytest.mark.parametrize("name", ["kb_heldout.jsonl", "kb_mc.jsonl", "kb_qa.jsonl", "kb_tickets.jsonl"])
def test_smoke_documents_are_distinct(name):
    """No task repeats a document (the old kb_tickets had 46 distinct texts in 60 rows): n counts real items."""
    texts = _texts(name)
    assert len(set(texts)) == len(texts)


@pytest.mark.parametrize("name", ["kb_heldout.jsonl", "kb_mc.jsonl", "kb_qa.jsonl", "kb_tickets.jsonl"])
def test_smoke_documents_never_appear_in_the_training_text(name):
    """Held-out wording, read from the shipped files: no document (nor any sentence of a perplexity document) is
    a substring of the corpus the fine-tuned model was trained on."""
    from llmspec.eval import kb

    train = kb.training_text()
    for text in _texts(name):
        for piece in ([s.rstrip(".") for s in text.split(". ")] if name == "kb_heldout.jsonl" else [text]):
            assert piece not in train, piece


def test_ticket_texts_do_not_contain_their_labels():
    """The old tickets named their own label ("the filter light is on" -> filter): the model scored 1.0, [1, 1].
    No ticket now contains any label word or its stem (leak: leaking, delivery: deliver)."""
    from llmspec.eval import kb

    stems = [w[:-1] if w == "delivery" else w for w in kb.CLASS_LABELS]
    for text in _texts("kb_tickets.jsonl"):
        assert not [s for s in stems if s in text.lower()], text


def test_smoke_suite_is_sized_by_the_power_formula():
    """A 10-point drop against a 5-point margin is detected with 80% power by every bounded gate of the demo spec,
    all of them made baseline gates (m = the demo spec's gate count, alpha = 0.05, sigma = 0.5, unpaired
    variance): the same planning function as --dry-run and EVL006, on the shipped files. The formula's n is the
    one suites/README.md states, and no gate is undecidable."""
    import tomllib

    from llmspec.eval import kb, paired
    from llmspec.eval.gateplan import plan_gates
    from llmspec.spec.loader import load_spec

    demo = ROOT / "examples" / "tiny-finetuned.toml"
    metrics = [g["metric"] for g in tomllib.loads(demo.read_text())["eval"]["gates"]]
    gates = ", ".join(f'{{metric="{m}", max_drop={5.0 if "perplexity" in m else 0.05}, '
                      f'drop_unit="{"percent" if "perplexity" in m else "points"}"}}' for m in metrics)
    spec = load_spec(demo, [f"eval.gates=[{gates}]"])
    plans = plan_gates(spec)
    m = len(metrics)
    assert m == 4 and len(plans) == m
    level = 0.05 / m
    need = next(n for n in range(2, 100_000) if paired.detectable_drop(0.05, 0.5, n, level) <= 0.10)
    assert need == 1902  # the figure suites/README.md states
    z = NormalDist().inv_cdf  # the same formula, independently of llmspec: 0.05 + (z_(1-a/m) + z_0.8) sqrt(0.5/n)
    assert need == math.ceil(0.5 * ((z(1 - level) + z(0.8)) / 0.05) ** 2)
    assert kb.EVAL_ITEMS >= need
    for p in plans:
        assert not p.undecidable, p
        if "perplexity" not in p.metric:
            assert p.n == kb.EVAL_ITEMS, p
        if p.detectable_drop is not None:
            assert p.detectable_drop <= 0.10, p
    assert {p.metric for p in plans if p.detectable_drop is not None} == {"kb_mc/acc", "kb_qa/f1"}


def test_importing_the_eval_command_does_not_import_torch_or_lm_eval():
    code = ("import sys, llmspec.cli.eval, llmspec.eval.runner, llmspec.eval.plan, llmspec.eval.suite; "
            "print(sorted(m for m in ('torch', 'lm_eval', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _unigram_word_perplexity(train: str, docs: list[str]) -> float:
    """Word perplexity of ``docs`` under an add-one unigram model of ``train``'s whitespace words: a reference that
    knows word frequencies and nothing else (lm-eval's word_perplexity also counts whitespace-separated words)."""
    counts = Counter(train.split())
    words = [w for d in docs for w in d.split()]
    total, vocab = sum(counts.values()), len(set(counts) | set(words))
    nll = -sum(math.log((counts[w] + 1) / (total + vocab + 1)) for w in words)
    return math.exp(nll / len(words))


def test_the_perplexity_gate_comment_states_measured_references():
    """The figures the demo specs' comment gives for re-deciding the perplexity gate, recomputed: a word-unigram model
    of the training text scores 553 on the held-out paragraphs, and the training text states facts for 91 of the
    400 products (the others appear at most in a support ticket)."""
    import re

    from llmspec.eval import kb

    train = kb.training_text()
    docs = [json.loads(line)["text"] for line in (ROOT / "suites" / "smoke" / "kb_heldout.jsonl").read_text().splitlines()]
    assert round(_unigram_word_perplexity(train, docs)) == 553
    facts_text = "\n\n".join(b for b in train.split("\n\n") if not b.startswith("Ticket:"))
    stated = [p for p in kb.PRODUCTS if re.search(re.escape(p) + r"\b", facts_text)]
    assert (len(stated), len(kb.PRODUCTS)) == (91, 400)
    for name in ("tiny-base", "tiny-finetuned"):
        comment = (ROOT / "examples" / f"{name}.toml").read_text()
        assert "a word-unigram model of the\n# training text 553" in comment and "facts for 91 of them" in comment
