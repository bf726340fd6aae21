"""Two metrics for lm-eval ``generate_until`` tasks, written against llmspec's public metric API.

A metric reads one lm-eval per-sample record (``filtered_resps[0]`` is the generated text, ``target`` the gold
answer or a list of them) and aggregates the per-sample values into the corpus figure.
"""

from __future__ import annotations

import re
import string

from llmspec.eval.metrics import Metric

_ARTICLES = re.compile(r"\b(a|an|the)\b")


def _normalise(text: str) -> str:
    """SQuAD answer normalisation (Rajpurkar et al. 2016): lower-case, no punctuation, no articles."""
    text = "".join(ch for ch in text.lower() if ch not in string.punctuation)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _generated(sample: dict) -> str:
    resp = sample["filtered_resps"][0]
    return resp if isinstance(resp, str) else str(resp[0])


class ExactMatch(Metric):
    """1 when the normalised generation equals a normalised gold answer. Per-sample values are 0/1 and the
    corpus value is their mean, so ``proportion = True`` lets llmspec gate it with the paired-proportion test."""

    name = "exact_match"
    higher_is_better = True
    proportion = True
    output_types = ("generate_until",)

    def per_sample(self, sample: dict) -> float:
        golds = sample["target"] if isinstance(sample["target"], list) else [sample["target"]]
        pred = _normalise(_generated(sample))
        return float(any(pred == _normalise(str(g)) for g in golds))

    def aggregate(self, values: list) -> float:
        return sum(values) / len(values)


class AnswerLength(Metric):
    """Mean number of whitespace-separated words in the generated answer; lower is better (a verbosity guard
    for extraction tasks, where a fine-tune that starts to ramble is a regression)."""

    name = "answer_length"
    higher_is_better = False
    output_types = ("generate_until",)

    def per_sample(self, sample: dict) -> float:
        return float(len(_generated(sample).split()))

    def aggregate(self, values: list) -> float:
        return sum(values) / len(values)
