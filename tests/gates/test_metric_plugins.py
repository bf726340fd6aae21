"""The metric plugin API: discovery through real entry points, broken plugins, scoring, doc hashes."""

from __future__ import annotations

import json
import tomllib
import warnings
from pathlib import Path

import pytest

from llmspec.eval.metrics import ENTRY_POINT_GROUP, PluginWarning, doc_hash, load_metrics, score
from llmspec.eval.metrics.builtin import BUILTINS

BUILTIN_NAMES = {cls.name for cls in BUILTINS}


def test_builtins_are_listed_once_and_loaded_through_the_plugin_api():
    """One list (builtin.BUILTINS); pyproject.toml registers no llmspec.* metric entry point that could drift."""
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    declared = pyproject["project"].get("entry-points", {}).get(ENTRY_POINT_GROUP, {})
    assert not [v for v in declared.values() if v.startswith("llmspec.")], declared
    assert BUILTIN_NAMES == {"acc", "acc_norm", "f1", "macro_f1", "word_perplexity", "byte_perplexity",
                             "bits_per_byte", "token_perplexity"}
    metrics = load_metrics()
    assert BUILTIN_NAMES <= set(metrics)
    assert {n for n in BUILTIN_NAMES if metrics[n].higher_is_better} == {"acc", "acc_norm", "f1", "macro_f1"}


def _fake_distribution(root: Path, name: str, eps: dict[str, str], modules: dict[str, str]) -> None:
    """An installed distribution on disk (dist-info + modules): what pip leaves behind, found by importlib.metadata."""
    info = root / f"{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items())
    )
    for mod, src in modules.items():
        (root / f"{mod}.py").write_text(src)


def test_broken_plugins_are_reported_and_skipped(tmp_path, monkeypatch):
    _fake_distribution(
        tmp_path,
        "llmspec_test_plugins",
        {
            "good_len": "c2_good_plugin:AnswerChars",
            "missing": "c2_module_that_does_not_exist:Metric",
            "raises": "c2_good_plugin:Exploding",
            "shapeless": "c2_good_plugin:NOT_A_METRIC",
            "acc": "c2_good_plugin:AnswerChars",
        },
        {
            "c2_good_plugin": (
                "class AnswerChars:\n"
                "    name = 'good_len'\n    higher_is_better = False\n"
                "    def per_sample(self, s): return float(len(s['filtered_resps'][0]))\n"
                "    def aggregate(self, v): return sum(v) / len(v)\n"
                "class Exploding:\n"
                "    def __init__(self): raise RuntimeError('boom')\n"
                "NOT_A_METRIC = 42\n"
            )
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    seen: list[str] = []
    metrics = load_metrics(warn=seen.append)
    assert "good_len" in metrics and metrics["good_len"].higher_is_better is False
    assert BUILTIN_NAMES <= set(metrics) and type(metrics["acc"]).__module__ == "llmspec.eval.metrics.builtin"
    text = "\n".join(seen)
    assert "'missing'" in text and "ModuleNotFoundError" in text
    assert "'raises'" in text and "RuntimeError: boom" in text
    assert "'shapeless'" in text and "has no str attribute 'name'" in text
    assert "'acc'" in text and "duplicates" in text
    assert {"missing", "raises", "shapeless"}.isdisjoint(metrics)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_metrics()
    assert sum(issubclass(w.category, PluginWarning) for w in caught) == 4
    m = metrics["good_len"]
    v = score(m, [{"doc": {"q": i}, "target": "x", "filtered_resps": ["ab" * i]} for i in range(1, 5)])
    assert v.value == 5.0 and v.higher_is_better is False and v.n == 4


def test_doc_hash_is_stable_across_key_order_and_json_round_trip():
    s = {"doc_id": 3, "doc": {"b": [1, 2], "a": "é"}, "target": 1, "filtered_resps": [(-1.0, False)]}
    t = json.loads(json.dumps({"doc": {"a": "é", "b": [1, 2]}, "target": 1}))
    assert doc_hash(s) == doc_hash(t)
    assert doc_hash(s) != doc_hash({**s, "target": 2})
    assert len(doc_hash(s)) == 64


def test_score_keys_repeated_documents_and_is_seeded():
    acc = load_metrics()["acc"]
    rec = lambda i, doc, right: {  # noqa: E731
        "doc_id": i, "doc": doc, "target": 0, "arguments": [("q", " a"), ("q", " b")],
        "filtered_resps": [(-1.0, False), (-2.0 if right else -0.5, False)],
    }
    samples = [rec(0, {"q": 1}, True), rec(1, {"q": 1}, False), rec(2, {"q": 2}, True)]
    v = score(acc, samples, seed=1, n_boot=200)
    keys = list(v.per_sample)
    assert keys[1] == keys[0] + "#1" and len(set(keys)) == 3
    assert v.per_sample[keys[0]] == 1.0 and v.per_sample[keys[1]] == 0.0
    assert v.value == pytest.approx(2 / 3)
    again = score(acc, list(reversed(samples)), seed=1, n_boot=200)
    assert (again.ci_low, again.ci_high, again.per_sample) == (v.ci_low, v.ci_high, v.per_sample)
    assert 0.0 <= v.ci_low <= v.value <= v.ci_high <= 1.0
    d = v.to_json()
    assert json.loads(json.dumps(d)) == d


def test_score_uses_one_lm_eval_filter():
    f1 = load_metrics()["f1"]
    recs = []
    for i, (strict, flexible) in enumerate([("x", "two years"), ("two years", "two years")]):
        recs.append({"doc_id": i, "doc": {"i": i}, "target": "two years", "filter": "strict-match", "filtered_resps": [strict]})
        recs.append({"doc_id": i, "doc": {"i": i}, "target": "two years", "filter": "flexible", "filtered_resps": [flexible]})
    assert score(f1, recs, n_boot=10).value == 0.5  # the first filter seen
    assert score(f1, recs, n_boot=10, filter_key="flexible").value == 1.0
    assert score(f1, recs, n_boot=10).n == 2
