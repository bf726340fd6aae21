"""Helpers for the smoke suite's task YAMLs (lm-eval imports this file from beside the YAMLs).

- ``load``: reads a JSON-lines file named relative to *this* directory, so the suite runs from any working
  directory (lm-eval's own ``dataset_kwargs.data_files`` resolve against the CWD);
- ``token_f1``: SQuAD-style token F1 (Rajpurkar et al. 2016; the official SQuAD v1.1 evaluate script:
  lower-case, strip punctuation and articles, F1 of the bag-of-tokens overlap);
- ``macro_f1``: unweighted mean of per-class F1 over every label seen as gold or prediction (sklearn's
  ``f1_score(average="macro", zero_division=0)``), as llmspec's built-in ``macro_f1`` plugin computes it.
"""

from __future__ import annotations

import collections
import json
import re
import string
from pathlib import Path

HERE = Path(__file__).resolve().parent


def load(data_file: str, split: str = "test", **_ignored):
    import datasets

    rows = [json.loads(line) for line in (HERE / data_file).read_text(encoding="utf-8").splitlines() if line]
    return datasets.DatasetDict({split: datasets.Dataset.from_list(rows)})


def _normalize(text: str) -> list[str]:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return text.split()


def squad_f1(prediction: str, gold: str) -> float:
    pred, ref = _normalize(prediction), _normalize(gold)
    common = collections.Counter(pred) & collections.Counter(ref)
    same = sum(common.values())
    if not pred or not ref:
        return float(pred == ref)
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def token_f1(references, predictions, **_kwargs) -> float:
    return max(squad_f1(predictions[0], ref) for ref in references)


def macro_f1(items) -> float:
    from sklearn.metrics import f1_score

    golds, preds = zip(*items)
    return float(f1_score(golds, preds, average="macro", zero_division=0))
