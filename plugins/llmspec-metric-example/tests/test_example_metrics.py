"""Tests of the example plugin. Run after installing it: pip install -e plugins/llmspec-metric-example."""

from __future__ import annotations

import pytest

pytest.importorskip("numpy", reason="llmspec's metrics need the eval extra (pip install -e '.[eval]')")

from llmspec_metric_example import AnswerLength, ExactMatch

from llmspec.eval.metrics import load_metrics, score


def rec(i: int, pred: str, target) -> dict:
    return {"doc_id": i, "doc": {"i": i}, "target": target, "filtered_resps": [pred]}


def test_exact_match_normalises_like_squad():
    m = ExactMatch()
    assert m.per_sample(rec(0, "The Two years.", "two years")) == 1.0
    assert m.per_sample(rec(0, "two years!", ["24 months", "Two Years"])) == 1.0
    assert m.per_sample(rec(0, "three years", "two years")) == 0.0


def test_answer_length_counts_words_and_prefers_short_answers():
    m = AnswerLength()
    assert m.higher_is_better is False
    v = score(m, [rec(0, "two years", "x"), rec(1, "it is two years from purchase", "x")], n_boot=100)
    assert v.value == pytest.approx(4.0) and v.n == 2


def test_installed_plugin_is_discovered_through_the_entry_point_group():
    metrics = load_metrics()
    assert isinstance(metrics["exact_match"], ExactMatch)
    assert isinstance(metrics["answer_length"], AnswerLength)
