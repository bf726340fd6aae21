"""Built-in metrics: perplexity variants, accuracy variants and F1, registered as ``llmspec.metrics`` entry points.

Each reproduces lm-eval 0.4.13's own per-sample computation and corpus aggregation (lm_eval/api/task.py
``ConfigurableTask.process_results``; lm_eval/api/metrics.py ``mean``, ``weighted_perplexity``,
``bits_per_byte``); tests/gates/test_metrics_vs_lm_eval.py checks them against lm-eval's functions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from llmspec.eval.metricnames import BUILTIN_METRICS, default_metrics, direction  # noqa: F401 (re-exported)
from llmspec.eval.metrics import records as rec
from llmspec.eval.metrics.api import Metric
from llmspec.eval.metrics.textnorm import squad_f1


class MeanMetric(Metric):
    """Per-sample numbers, corpus value = their mean (lm_eval.api.metrics.mean)."""

    mean = True

    def aggregate(self, values: Sequence[Any]) -> float:
        return sum(float(v) for v in values) / len(values)

    def aggregate_resampled(self, values: Sequence[Any], idx: np.ndarray) -> np.ndarray:
        return np.asarray(values, dtype=float)[idx].mean(axis=1)


class Accuracy(MeanMetric):
    """acc: 1 when the highest-loglikelihood choice is a gold choice (multiple_choice), or when the
    continuation is the greedy one (loglikelihood)."""

    name = "acc"
    proportion = True

    def _scores(self, lls: list[float], options: list[str]) -> list[float]:
        return lls

    def per_sample(self, sample: dict) -> float:
        resps = rec._need(sample, "filtered_resps", self.name)
        if len(resps) == 1 and "choices" not in sample and len(sample.get("arguments", ())) == 1:
            # output_type loglikelihood: acc = is_greedy (ConfigurableTask.process_results)
            return float(bool(resps[0][1]))
        options = rec.choices(sample, self.name)
        lls = rec.choice_loglikelihoods(sample, self.name)[: len(options)]
        pred = rec.argmax(self._scores(lls, options))
        return 1.0 if pred in rec.gold_indices(sample, options, self.name) else 0.0


def _per_length(ll: float, length: float) -> float:
    if length:
        return ll / length
    return math.copysign(math.inf, ll) if ll else math.nan  # numpy's x/0.0


class AccuracyNorm(Accuracy):
    """acc_norm: as acc, with each choice's loglikelihood divided by the choice's length in characters
    (lm-eval: ``np.argmax(lls / completion_len)``, completion_len = len(choice))."""

    name = "acc_norm"

    def _scores(self, lls: list[float], options: list[str]) -> list[float]:
        return [_per_length(ll, float(len(c))) for ll, c in zip(lls, options)]


class _Weighted(Metric):
    """Per-sample (loglikelihood, weight); corpus value from sum(ll) / sum(weight) (lm_eval.api.metrics.
    weighted_mean), so long documents weigh more. Reads lm-eval's own logged pair when present (a task may
    override count_words/count_bytes), else computes it from the record."""

    def weight(self, sample: dict) -> int:
        raise NotImplementedError

    def per_sample(self, sample: dict) -> tuple[float, int]:
        logged = sample.get(self.name)
        if isinstance(logged, (list, tuple)) and len(logged) == 2:
            return (float(logged[0]), int(logged[1]))
        return (rec.rolling_loglikelihood(sample, self.name), self.weight(sample))

    def transform(self, weighted_mean: float) -> float:
        raise NotImplementedError

    def aggregate(self, values: Sequence[Any]) -> float:
        lls = math.fsum(float(v[0]) for v in values)
        weights = sum(int(v[1]) for v in values)
        return self.transform(lls / weights)

    def aggregate_resampled(self, values: Sequence[Any], idx: np.ndarray) -> np.ndarray:
        arr = np.asarray(values, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return self.transform_array(arr[idx, 0].sum(axis=1) / arr[idx, 1].sum(axis=1))

    def transform_array(self, wm: np.ndarray) -> np.ndarray:
        return np.exp(-wm)


class WordPerplexity(_Weighted):
    """word_perplexity = exp(-sum ll / sum words) (lm_eval.api.metrics.weighted_perplexity)."""

    name = "word_perplexity"

    def weight(self, sample: dict) -> int:
        return rec.count_words(rec.target_text(sample, self.name))

    def transform(self, wm: float) -> float:
        return math.exp(-wm)


class BytePerplexity(WordPerplexity):
    """byte_perplexity = exp(-sum ll / sum UTF-8 bytes) (lm_eval.api.metrics.weighted_perplexity)."""

    name = "byte_perplexity"

    def weight(self, sample: dict) -> int:
        return rec.count_bytes(rec.target_text(sample, self.name))


class BitsPerByte(BytePerplexity):
    """bits_per_byte = -(sum ll / sum bytes) / ln 2 (lm_eval.api.metrics.bits_per_byte)."""

    name = "bits_per_byte"

    def transform(self, wm: float) -> float:
        return -wm / math.log(2)

    def transform_array(self, wm: np.ndarray) -> np.ndarray:
        return -wm / math.log(2)


class TokenPerplexity(WordPerplexity):
    """token_perplexity = exp(-sum ll / sum tokens): needs ``token_count`` in each record (the runner adds it
    from the model's tokenizer; lm-eval's rolling loglikelihood scores every token of the target)."""

    name = "token_perplexity"

    def per_sample(self, sample: dict) -> tuple[float, int]:
        return (rec.rolling_loglikelihood(sample, self.name), self.weight(sample))

    def weight(self, sample: dict) -> int:
        count = sample.get("token_count")
        if not isinstance(count, int) or count <= 0:
            raise rec.RecordError(f"metric {self.name!r}: record has no positive 'token_count' (the runner adds it)")
        return count


class TokenF1(MeanMetric):
    """f1: SQuAD token F1 of the generated text against the best-matching gold answer (Rajpurkar et al. 2016;
    normalisation and F1 as in the official SQuAD v2.0 evaluation script)."""

    name = "f1"

    def per_sample(self, sample: dict) -> float:
        pred = rec.generated_text(sample, self.name)
        return max(squad_f1(pred, gold) for gold in rec.gold_texts(sample, self.name))


class MacroF1(Metric):
    """macro_f1: unweighted mean over labels of per-label F1 (labels: every gold or predicted label, as
    sklearn.metrics.f1_score(average="macro") with zero_division=0). Per sample: [gold_label, pred_label];
    multiple_choice records predict the highest-loglikelihood choice, generate_until records the stripped,
    lower-cased generated text."""

    name = "macro_f1"

    def per_sample(self, sample: dict) -> tuple[str, str]:
        resps = rec._need(sample, "filtered_resps", self.name)
        if resps and isinstance(resps[0], (list, tuple)):  # multiple_choice
            options = rec.choices(sample, self.name)
            lls = rec.choice_loglikelihoods(sample, self.name)[: len(options)]
            pred = options[rec.argmax(lls)]
            gold_idx = rec.gold_indices(sample, options, self.name)[0]
            gold = options[gold_idx] if gold_idx >= 0 else str(sample.get("target"))
            return (gold, pred)
        pred = rec.generated_text(sample, self.name).strip().lower()
        return (rec.gold_texts(sample, self.name)[0].strip().lower(), pred)

    def aggregate(self, values: Sequence[Any]) -> float:
        pairs = [(str(v[0]), str(v[1])) for v in values]
        labels = sorted({g for g, _ in pairs} | {p for _, p in pairs})
        f1s = []
        for label in labels:
            tp = sum(1 for g, p in pairs if g == label and p == label)
            fp = sum(1 for g, p in pairs if g != label and p == label)
            fn = sum(1 for g, p in pairs if g == label and p != label)
            f1s.append(2 * tp / (2 * tp + fp + fn))
        return sum(f1s) / len(f1s)

    def aggregate_resampled(self, values: Sequence[Any], idx: np.ndarray) -> np.ndarray:
        labels = sorted({str(v[0]) for v in values} | {str(v[1]) for v in values})
        code = {label: i for i, label in enumerate(labels)}
        g = np.array([code[str(v[0])] for v in values])[idx]
        p = np.array([code[str(v[1])] for v in values])[idx]
        total = np.zeros(idx.shape[0])
        present = np.zeros(idx.shape[0])
        for label in range(len(labels)):
            gl, pl = g == label, p == label
            tp = (gl & pl).sum(axis=1)
            denom = gl.sum(axis=1) + pl.sum(axis=1)  # = 2tp + fp + fn
            seen = denom > 0
            total += np.where(seen, 2 * tp / np.maximum(denom, 1), 0.0)
            present += seen
        return total / present


BUILTINS: tuple[type[Metric], ...] = (
    Accuracy,
    AccuracyNorm,
    WordPerplexity,
    BytePerplexity,
    BitsPerByte,
    TokenPerplexity,
    TokenF1,
    MacroF1,
)
for _cls in BUILTINS:  # direction, output types and default from the one table (llmspec.eval.metricnames)
    _cls.higher_is_better, _cls.output_types, _cls.default = BUILTIN_METRICS[_cls.name]
