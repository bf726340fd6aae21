"""The shape of ``results.json``: the contract between the runner (writes it) and the gates (read it).

Version 1. The runner writes ``Results.model_validate(...).model_dump(mode="json")`` (llmspec.eval.outputs); the gates read either that dict or the
model (``Results.model_validate(d)``). Keep additions backwards compatible (new optional fields only); bump
``SCHEMA_VERSION`` for anything else.

Example (abridged)::

    {
      "schema_version": 1,
      "verdict": "PASSED",
      "run": {"spec_hash": "sha256:...", "model_hash": "sha256:...", "versions": {"lm_eval": "0.4.13", ...},
              "device": "cpu", "dtype": "float32", "seed": 1234, "batch_size": 1, ...},
      "tasks": {
        "smoke_mc": {
          "provenance": {"task_version": "1.0", "config_hash": "sha256:...", "num_fewshot": 0, "limit": null,
                         "lm_eval_version": "0.4.13", "output_type": "multiple_choice", "filter": "none"},
          "metrics": {
            "acc": {"value": 0.62, "ci_low": 0.52, "ci_high": 0.71, "n": 100, "higher_is_better": true,
                    "ci_method": "bootstrap-percentile", "confidence": 0.95, "stderr": 0.048,
                    "per_sample": {"3f1c...": 1.0, "9ab0...": 0.0, ...}}
          }
        }
      },
      "gates": [ ... GateResultModel ... ]
    }

Per-sample values are whatever the metric's ``per_sample`` returns, JSON-encoded (tuples become lists): a float
for acc/f1, ``[loglikelihood, words]`` for word_perplexity, ``[gold, pred]`` for macro_f1. Every metric's
``aggregate`` accepts both the tuple and the list form. Keys are ``llmspec.eval.metrics.api.doc_hash`` values
(with a ``#k`` suffix for the k-th repeat of an identical document), so a candidate and a baseline pair up.

Per-sample record extensions the runner may add to lm-eval's records before scoring:
- ``token_count`` (int): tokens of ``target`` under the model's tokenizer; needed by ``token_perplexity``
  (loglikelihood_rolling scores every token of the target).
- ``choices`` (list[str]): the task's ``doc_to_choice`` strings, without the target delimiter; when absent,
  multiple-choice metrics take them from ``arguments`` and strip ``target_delimiter`` (default " ").
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


class _Open(BaseModel):
    """Unknown keys are kept (a newer runner may add provenance) and never an error when reading."""

    model_config = ConfigDict(extra="allow")


class MetricResult(_Open):
    """One metric of one task: the corpus value, its interval and the per-sample values behind it."""

    value: float | None
    """Corpus-level value (the metric's ``aggregate`` over all samples); None when it is not finite."""
    ci_low: float | None = None
    """Lower end of the two-sided interval at ``confidence`` (None when n < 2)."""
    ci_high: float | None = None
    """Upper end of the two-sided interval at ``confidence``."""
    n: int
    """Number of scored documents."""
    higher_is_better: bool
    ci_method: str = "bootstrap-percentile"
    """How the interval was computed."""
    confidence: float = 0.95
    stderr: float | None = None
    """lm-eval's own stderr when it gives a number (it gives "N/A" for perplexities), else None."""
    per_sample: dict[str, Any] = Field(default_factory=dict)
    """doc_hash -> per-sample value; what the baseline comparison pairs on."""


class TaskProvenance(_Open):
    """What must match for two runs of a task to be comparable (the baseline check refuses a mismatch)."""

    task_version: str | None = None
    """lm-eval's task version (``results["versions"][task]``), as a string."""
    config_hash: str | None = None
    """Hash of the task config that shapes prompts and scoring (lm-eval's ``configs[task]`` as canonical JSON,
    with data file paths reduced to the content hash of the files)."""
    num_fewshot: int | None = None
    limit: float | None = None
    """lm-eval's limit (int count or fraction), None when the whole split ran."""
    lm_eval_version: str | None = None
    output_type: str | None = None
    filter: str = "none"
    """The lm-eval filter whose responses were scored."""


class TaskResult(_Open):
    provenance: TaskProvenance = Field(default_factory=TaskProvenance)
    metrics: dict[str, MetricResult] = Field(default_factory=dict)
    """Metric name (as in load_metrics(), e.g. "acc", "word_perplexity") -> result."""


class RunProvenance(_Open):
    """Run-level provenance; the runner owns these fields and may add more."""

    spec_hash: str | None = None
    model_hash: str | None = None
    model: str | None = None
    adapter: str | None = None
    versions: dict[str, str | None] = Field(default_factory=dict)
    """llmspec, lm_eval, torch, transformers (and python) versions."""
    device: str | None = None
    dtype: str | None = None
    seed: int | None = None
    batch_size: Any | None = None
    chat_template: bool | None = None
    timings: dict[str, float] = Field(default_factory=dict)


class GateResultModel(_Open):
    """One gate verdict as written to results.json (see llmspec.eval.gates.GateResult)."""

    metric: str
    kind: Literal["threshold", "baseline"]
    status: Literal["pass", "fail", "skipped", "error", "undecidable"]
    """undecidable: the test cannot reach its level at this n (fails closed, like error)."""
    passed: bool
    reason: str
    value: float | None = None
    baseline_value: float | None = None
    diff: float | None = None
    bound: float | None = None
    margin: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    drop_unit: str | None = None
    gate_index: int = 0
    adjusted_alpha: float | None = None
    method: str | None = None
    mode: str | None = None
    n: int | None = None
    mde: float | None = None
    detectable_drop: float | None = None
    """Smallest drop this gate detects with 80% power at its n and level, assuming the unpaired variance
    2 sigma^2 / n of the difference (sigma: 0.5 for values in [0, 1], else the baseline's per-sample spread)."""
    warnings: list[str] = Field(default_factory=list)


class Results(_Open):
    schema_version: int = SCHEMA_VERSION
    verdict: Literal["PASSED", "FAILED", "ERROR", "INCOMPLETE"] = "INCOMPLETE"
    """The run's verdict, as the exit code says it (llmspec.eval.outcome): PASSED only when every gate passed;
    INCOMPLETE while the run is still going or after it stopped early."""
    run: RunProvenance = Field(default_factory=RunProvenance)
    tasks: dict[str, TaskResult] = Field(default_factory=dict)
    gates: list[GateResultModel] = Field(default_factory=list)
