"""SQuAD answer normalisation and token F1.

Follows the official SQuAD v2.0 evaluation script (Rajpurkar et al. 2018, "Know What You Don't Know",
evaluate-v2.0.py: ``normalize_answer``, ``get_tokens``, ``compute_f1``): lower-case, drop ASCII punctuation,
drop the articles a/an/the, split on whitespace; F1 of the multiset token overlap; when either side has no
tokens, F1 is 1 if both are empty, else 0 (the v1.1 script would give 0 for two empty answers).
"""

from __future__ import annotations

import re
import string
from collections import Counter

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)


def normalize_answer(text: str) -> str:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def tokens(text: str) -> list[str]:
    return normalize_answer(text).split() if text else []


def squad_f1(prediction: str, gold: str) -> float:
    pred_toks, gold_toks = tokens(prediction), tokens(gold)
    if not pred_toks or not gold_toks:
        return float(pred_toks == gold_toks)
    num_same = sum((Counter(gold_toks) & Counter(pred_toks)).values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(pred_toks)
    recall = num_same / len(gold_toks)
    return 2 * precision * recall / (precision + recall)
