"""Built-in metric computations on hand-made lm-eval records (pure python; lm-eval parity is in
test_metrics_vs_lm_eval.py)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from llmspec.eval.metrics import load_metrics
from llmspec.eval.metrics.textnorm import normalize_answer, squad_f1

M = load_metrics()


def mc(lls, target, choices=("yes", "no"), delim=" "):
    return {
        "doc": {"x": 1}, "target": target,
        "arguments": [("Q:", delim + c) for c in choices],
        "filtered_resps": [(ll, False) for ll in lls],
    }


def test_acc_and_acc_norm_follow_lm_eval_rules():
    # acc picks the highest loglikelihood; acc_norm divides by the choice length in characters
    s = mc([-4.0, -6.0], 1, choices=("ab", "abcdef"))
    assert M["acc"].per_sample(s) == 0.0
    assert M["acc_norm"].per_sample(s) == 1.0  # -4/2 = -2 < -6/6 = -1
    assert M["acc"].per_sample(mc([-1.0, -1.0], 1)) == 0.0  # ties: first maximum, as numpy.argmax
    assert M["acc"].per_sample(mc([-3.0, -1.0], "no")) == 1.0  # gold given as the choice string
    assert M["acc"].per_sample(mc([-3.0, -1.0], 7)) == 0.0  # gold index out of range -> wrong (lm-eval: -100)
    assert M["acc"].per_sample(mc([-3.0, -1.0, -2.0], [0, 1], choices=("a", "b", "c"))) == 1.0  # several golds
    # output_type loglikelihood: acc = is_greedy
    assert M["acc"].per_sample({"doc": {}, "target": "x", "arguments": [("c", " x")], "filtered_resps": [(-1.0, True)]}) == 1.0


def test_records_survive_a_json_round_trip():
    s = mc([-4.0, -6.0], 1, choices=("ab", "abcdef"))
    t = json.loads(json.dumps(s))
    for name in ("acc", "acc_norm", "macro_f1"):
        assert M[name].per_sample(t) == M[name].per_sample(s) or list(M[name].per_sample(s)) == M[name].per_sample(t)


def test_runner_supplied_choices_and_delimiters():
    s = mc([-4.0, -6.0], 1, choices=("ab", "abcdef"), delim=": ")
    s["target_delimiter"] = ": "
    assert M["acc_norm"].per_sample(s) == 1.0
    s2 = {**mc([-4.0, -6.0], 1, choices=("xx", "yy")), "choices": ["ab", "abcdef"]}
    assert M["acc_norm"].per_sample(s2) == 1.0


def test_perplexity_family_is_weighted_over_the_corpus():
    recs = [
        {"doc": {"i": 0}, "target": "one two three", "filtered_resps": [-6.0]},
        {"doc": {"i": 1}, "target": "héllo  world", "filtered_resps": [-3.0]},
    ]
    words = [M["word_perplexity"].per_sample(r) for r in recs]
    assert words == [(-6.0, 3), (-3.0, 2)]  # re.split(r"\s+") word counts
    assert M["word_perplexity"].aggregate(words) == pytest.approx(math.exp(9 / 5))
    nbytes = [M["byte_perplexity"].per_sample(r)[1] for r in recs]
    assert nbytes == [13, 13]  # "é" is two UTF-8 bytes
    assert M["byte_perplexity"].aggregate([(-6.0, 13), (-3.0, 13)]) == pytest.approx(math.exp(9 / 26))
    assert M["bits_per_byte"].aggregate([(-6.0, 13), (-3.0, 13)]) == pytest.approx(9 / 26 / math.log(2))
    # lm-eval's own logged pair wins (a task may override count_words)
    assert M["word_perplexity"].per_sample({**recs[0], "word_perplexity": [-6.0, 7]}) == (-6.0, 7)
    with pytest.raises(ValueError, match="token_count"):
        M["token_perplexity"].per_sample(recs[0])
    assert M["token_perplexity"].per_sample({**recs[0], "token_count": 4}) == (-6.0, 4)


@pytest.mark.parametrize(
    "pred,gold,f1",
    [
        ("The Cat sat.", "a cat sat", 1.0),
        ("two years", "Two years from purchase", 2 * (1.0 * 0.5) / 1.5),
        ("blue", "red", 0.0),
        ("", "", 1.0),
        ("", "red", 0.0),
        ("the the", "a", 1.0),  # only articles: both normalise to nothing
        ("six six months", "six months", 2 * (2 / 3 * 1.0) / (2 / 3 + 1.0)),
    ],
)
def test_squad_token_f1(pred, gold, f1):
    assert squad_f1(pred, gold) == pytest.approx(f1)


@pytest.mark.eval
def test_squad_normalisation_matches_lm_eval_copy_of_the_squad_script():
    pytest.importorskip("lm_eval")
    from lm_eval.tasks.mlqa import utils as mlqa  # SQuAD's normalize_answer with language "en"

    for text in ["The  Quick, brown fox!", "an apple a day", "It's 5 o'clock -- the end."]:
        assert normalize_answer(text) == mlqa.normalize_answer(text, "en")
        assert squad_f1(text, "quick fox day end") == pytest.approx(mlqa.f1_score(text, "quick fox day end", "en"))


def test_f1_takes_the_best_gold_answer():
    s = {"doc": {}, "target": ["two years", "24 months"], "filtered_resps": ["24 months"]}
    assert M["f1"].per_sample(s) == 1.0


@pytest.mark.eval  # sklearn comes with lm-eval
def test_macro_f1_matches_sklearn_and_resamples_consistently():
    sklearn = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    labels = ["pos", "neg", "neutral"]
    gold = rng.choice(labels, 200, p=[0.7, 0.2, 0.1])
    pred = np.where(rng.random(200) < 0.6, gold, rng.choice(labels, 200))
    values = [(g, p) for g, p in zip(gold, pred)]
    ours = M["macro_f1"].aggregate(values)
    assert ours == pytest.approx(sklearn.f1_score(gold, pred, average="macro", zero_division=0))
    idx = rng.integers(0, 200, size=(50, 200))
    fast = M["macro_f1"].aggregate_resampled(values, idx)
    slow = [M["macro_f1"].aggregate([values[i] for i in row]) for row in idx]
    assert fast == pytest.approx(slow)


@pytest.mark.parametrize("name", ["acc", "word_perplexity", "bits_per_byte", "f1"])
def test_vectorised_resampling_equals_the_plain_aggregate(name):
    rng = np.random.default_rng(1)
    if name in ("acc", "f1"):
        values = list(rng.random(60).round())
    else:
        values = [(float(-rng.gamma(3, 2)), int(rng.integers(1, 30))) for _ in range(60)]
    idx = rng.integers(0, 60, size=(40, 60))
    fast = M[name].aggregate_resampled(values, idx)
    slow = [M[name].aggregate([values[i] for i in row]) for row in idx]
    assert fast == pytest.approx(slow)


def test_macro_f1_from_multiple_choice_and_generation_records():
    s = mc([-4.0, -1.0], "positive", choices=("negative", "positive"))
    assert tuple(M["macro_f1"].per_sample(s)) == ("positive", "positive")
    g = {"doc": {}, "target": "Positive", "filtered_resps": ["  positive "]}
    assert tuple(M["macro_f1"].per_sample(g)) == ("positive", "positive")
