"""The fast path: each point validated, estimated and judged by the memory and budget rules, in one process.

A point is the spec's merged document (``spec.source.raw``, after extends and hf_config, without [sweep]) with
the swept keys replaced. Only the dicts on the path to a replaced key are copied; the rest is shared. The copy is
validated by pydantic (``Spec.model_validate``: every constraint and model validator, exactly as `check` does;
``model_copy(update=...)`` would skip them) and its estimates are memoised on the keys that change them, so a
learning-rate axis costs one estimate for all its values.

The verdict codes mirror the rules' conditions: MEM001 (training does not fit), MEM003 (serving does not fit),
BUD001 / BUD002 / BUD003 (GPU-hours, cost, wall clock over the run's budget, error level) and SPC002 (invalid
spec). A point that passes them is then checked by every other error-level lint rule (MEM004, HW001, CTX001, ...;
status lint-error), so that "feasible" means what full `lint` would say. tests/sweep/test_equivalence.py checks
the verdicts against full `check` + `lint` of the same points written out as spec files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ValidationError

from llmspec.estimate.training import BATCH_KEYS
from llmspec.spec.messages import messages_for
from llmspec.spec.models import Spec

# Keys no estimator reads (llmspec/estimate/{params,training,inference,compute,activations}.py): points that
# differ only in these share one estimate. tests/sweep/test_fast_path.py checks that changing each leaves the
# estimates unchanged. Prefixes end with a dot. Not [sampling]: the serving estimate reads its prompt and output
# lengths, and even a sampling key alone brings in the table's defaults.
ESTIMATE_FREE = frozenset({
    "training.learning_rate", "training.lr_schedule", "training.warmup_ratio", "training.warmup_steps",
    "training.seed", "training.early_stopping", "training.validation_split", "training.lora.alpha",
    "training.max_grad_norm", "training.weight_decay", "training.data.", "eval.", "meta.",
    "model.name", "model.weights", "model.tokenizer",
})
COMPUTE_ONLY = frozenset({
    "training.dataset_tokens", "training.dataset_examples", "training.mean_example_tokens", "training.epochs",
    "training.max_steps", "hardware.mfu", "hardware.price_per_gpu_hour", "hardware.budget_gpu_hours",
    "hardware.budget_hours", "hardware.budget_usd",
})
"""Keys that only the compute estimate reads (not training or inference memory): points that differ only in these
share their memory estimates. Checked like ESTIMATE_FREE in tests/sweep/test_fast_path.py."""
BATCH_SHAPE = frozenset(f"training.{k}" for k in BATCH_KEYS)
"""Keys only the batch-shape part of the training estimate reads: points that differ only in these (and keys above)
share one llmspec.estimate.training.training_static."""
FAST_CODES = ("SPC002", "MEM001", "MEM003", "BUD001", "BUD002", "BUD003")
"""Error-level codes the fast path decides from its own estimates; a point with none of them is then checked by the
other error-level rules (FastPath._lint_errors)."""


_PREFIXES = tuple(p for p in ESTIMATE_FREE if p.endswith("."))


@lru_cache(maxsize=4096)
def _estimate_free(key: str) -> bool:
    return key in ESTIMATE_FREE or key.startswith(_PREFIXES)


def _sections_validate_alone() -> bool:
    """True while Spec's own validators are all model validators of mode "after": then validating only the tables a
    point changes (each with all of its own validators), reusing the base's other tables and running Spec's
    after-validators on the result is the same as validating the whole."""
    decorators = Spec.__pydantic_decorators__
    return not decorators.field_validators and all(
        d.info.mode == "after" for d in decorators.model_validators.values())


def _spec_after_validators() -> list[str]:
    return list(Spec.__pydantic_decorators__.model_validators)


def with_overrides(doc: Mapping, point: Mapping[str, Any]) -> dict:
    """A copy of ``doc`` with each dotted key of ``point`` set; only the tables on the way are copied."""
    out = dict(doc)
    for key, value in point.items():
        parts = key.split(".")
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            child = dict(child) if isinstance(child, dict) else {}
            node[part] = child
            node = child
        node[parts[-1]] = value
    return out


@dataclass
class Verdict:
    """One point's outcome."""

    index: int
    overrides: dict[str, Any]
    codes: list[str] = field(default_factory=list)
    """Error-level codes that make the point infeasible (FAST_CODES, another error-level rule's code, LNT003 when an
    estimate or a rule failed)."""
    messages: list[str] = field(default_factory=list)
    train_bytes: int | None = None
    """Training memory per GPU, overhead included."""
    serve_bytes: int | None = None
    capacity_bytes: int | None = None
    gpu_hours: float | None = None
    cost: float | None = None
    wall_hours: float | None = None
    spec: Spec | None = None
    status: str = ""
    """feasible, invalid, does-not-fit, over-budget, lint-error (an error-level finding of another lint rule),
    over-sweep-budget or error (set by :meth:`FastPath.evaluate` and llmspec.sweep.plan.sweep_budget)."""

    @property
    def feasible(self) -> bool:
        return self.status == "feasible"

    def to_dict(self) -> dict:
        return {
            "index": self.index, "overrides": self.overrides, "verdict": self.status, "codes": self.codes,
            "messages": self.messages,
            "estimate": {"training_bytes_per_gpu": self.train_bytes, "serving_bytes_per_gpu": self.serve_bytes,
                         "capacity_bytes": self.capacity_bytes, "gpu_hours": self.gpu_hours, "cost": self.cost,
                         "wall_hours": self.wall_hours},
        }


class FastPath:
    """Evaluates points of one base spec; keeps the estimate memo between points."""

    def __init__(self, spec: Spec):
        self.base = spec
        self.point_base = spec.model_copy(update={"sweep": None})
        """The base of every point: a point is a concrete spec, without [sweep]."""
        self.values = self.point_base.model_dump()
        """The base spec's values, defaults included: what conditions (`when`) read for keys a point does not set."""
        self.doc = {k: v for k, v in spec.source.raw.items() if k != "sweep"}
        self.accelerators = spec.source.accelerators
        self._memory: dict[tuple, tuple] = {}
        self._work: dict[tuple, Any] = {}
        self._static: dict[tuple, Any] = {}
        """training_static and compute_static, shared by the points that differ only in the batch shape
        (BATCH_SHAPE) and in keys only compute reads (COMPUTE_ONLY)."""
        self._compute_static: dict[tuple, Any] = {}
        self._rules: list | None = None
        self._constant: list = []
        self.by_table = _sections_validate_alone()
        self._after_validators = _spec_after_validators()
        self._table_models = {name: _table_model(name) for name in Spec.model_fields}

    def _validate_tables(self, data: dict, overrides: Mapping[str, Any]) -> Spec:
        """Validate each top-level table the point changes with its own model; keep the base's other tables.

        Errors keep their full location (the table name is prepended), as Spec.model_validate reports them."""
        update = {}
        for name in {key.split(".", 1)[0] for key in overrides}:
            model = self._table_models.get(name)
            if model is None or not isinstance(data.get(name), dict):
                return Spec.model_validate(data)  # a top-level key or an unusual shape: the general path
            try:
                update[name] = model.model_validate(data[name])
            except ValidationError as exc:
                raise ValidationError.from_exception_data("Spec", [
                    {"type": e["type"], "loc": (name, *e["loc"]), "input": e["input"], "ctx": e.get("ctx", {})}
                    if "ctx" in e else {"type": e["type"], "loc": (name, *e["loc"]), "input": e["input"]}
                    for e in exc.errors(include_url=False)]) from None
        spec = self.point_base.model_copy(update=update)
        for name in self._after_validators:
            spec = getattr(spec, name)()
        return spec

    def validate(self, overrides: Mapping[str, Any]) -> tuple[Spec | None, list[str]]:
        data = with_overrides(self.doc, overrides)
        problems: list[str] = []
        if "hardware.accelerator" in overrides:
            from llmspec.catalog import CatalogError, resolve

            try:
                resolve(str(overrides["hardware.accelerator"]), self.accelerators)
            except CatalogError as exc:
                problems.append(f"hardware.accelerator: {exc}")
        try:
            spec = self._validate_tables(data, overrides) if self.by_table else Spec.model_validate(data)
        except ValidationError as exc:
            return None, problems + [m for _, m in messages_for(Spec, exc.errors(include_url=False))]
        if problems:
            return None, problems
        spec._source = self.base.source
        return spec, []

    def estimates(self, spec: Spec, overrides: Mapping[str, Any]) -> tuple:
        from llmspec.estimate import compute, inference_memory, training_memory
        from llmspec.estimate.compute import compute_static
        from llmspec.estimate.training import training_static

        key = tuple([(k, repr(v)) for k, v in overrides.items() if not _estimate_free(k)])
        mem_key = tuple([kv for kv in key if kv[0] not in COMPUTE_ONLY])
        static_key = tuple([kv for kv in mem_key if kv[0] not in BATCH_SHAPE])
        if key not in self._work:
            if spec.training is None:
                self._work[key] = None
            else:
                if static_key not in self._compute_static:
                    self._compute_static[static_key] = compute_static(spec)
                self._work[key] = compute(spec, serving=False, static=self._compute_static[static_key])
        if mem_key not in self._memory:
            train = None
            if spec.training is not None and spec.hardware is not None:
                if static_key not in self._static:
                    self._static[static_key] = training_static(spec)
                train = training_memory(spec, self._static[static_key])
            serve = inference_memory(spec) if spec.inference is not None and spec.hardware is not None else None
            self._memory[mem_key] = (train, serve)
        return (*self._memory[mem_key], self._work[key])

    def _lint_errors(self, spec: Spec) -> list:
        """Error-level findings of the rules FAST_CODES leave out, on a point that passed memory and budget. Points
        that fail those are infeasible already, and most points of a large space do: the rules run on few. A rule
        that read no swept table on the base point would do the same on every point: its findings there count for
        all (:meth:`_split_rules`)."""
        from llmspec.lint.rule import Context

        if self._rules is None:
            self._rules, self._constant = self._split_rules()
        ctx = Context(spec, self.accelerators)
        return self._constant + [f for rule in self._rules for f in rule.check(ctx) or () if f.severity == "error"]

    def _split_rules(self) -> tuple[list, list]:
        """(rules to run on each point, the error findings of the others): each rule runs once on the base point
        through a stand-in that records the top-level tables it reads. A deterministic rule that read none of the
        tables the sweep changes follows the same path with the same values on every point."""
        from llmspec.lint.rule import Context

        swept = {key.split(".", 1)[0] for key in self.base.sweep.parameters} if self.base.sweep else set()
        per_point, constant = [], []
        for rule in _error_rules():
            reads = _Reads(self.point_base)
            try:
                found = [f for f in rule.check(Context(reads, self.accelerators)) or () if f.severity == "error"]  # type: ignore[arg-type]
            except Exception:  # left to the per-point run, which reports it
                per_point.append(rule)
                continue
            if reads.tables & (swept | {"*"}):
                per_point.append(rule)
            else:
                constant += found
        return per_point, constant

    def evaluate(self, index: int, overrides: Mapping[str, Any], keep_spec: bool = False) -> Verdict:
        v = Verdict(index, dict(overrides))
        spec, problems = self.validate(overrides)
        if spec is None:
            v.codes, v.messages, v.status = ["SPC002"], problems, "invalid"
            return v
        try:
            train, serve, work = self.estimates(spec, overrides)
        except Exception as exc:  # an estimator bug: the verdict cannot be computed, so it is not "feasible"
            v.codes, v.messages, v.status = ["LNT003"], [f"estimate failed ({type(exc).__name__}: {exc})"], "error"
            return v
        hw = spec.hardware
        if train is not None:
            v.train_bytes, v.capacity_bytes = train.total_bytes, train.capacity_bytes
            if train.fits is False:
                v.codes.append("MEM001")
        if serve is not None:
            v.serve_bytes = serve.total_bytes
            v.capacity_bytes = v.capacity_bytes or serve.capacity_bytes
            if serve.fits is False:
                v.codes.append("MEM003")
        if work is not None:
            v.gpu_hours, v.cost, v.wall_hours = work.gpu_hours, work.cost, work.wall_hours
            if hw is not None:
                v.codes += _budget_codes(work, hw)
        if not v.codes:
            try:
                found = self._lint_errors(spec)
            except Exception as exc:  # a crashed rule: the verdict cannot be computed, so it is not "feasible"
                v.codes, v.messages, v.status = ["LNT003"], [f"a lint rule crashed ({type(exc).__name__}: {exc})"], "error"
                return v
            v.codes = sorted({f.code for f in found})
            v.messages = [f"{f.code}: {f.message}" for f in found]
            if v.codes:
                v.status = "lint-error"
        if not v.status:
            v.status = ("does-not-fit" if {"MEM001", "MEM003"} & set(v.codes)
                        else "over-budget" if v.codes else "feasible")
        if keep_spec:
            v.spec = spec
        return v


def _error_rules() -> list:
    """The error-level lint rules the fast path does not decide itself (FAST_CODES): MEM004, HW001, CTX001 and the
    others, with their default severity, as the plan's full lint runs them (llmspec.sweep.plan._lint_points)."""
    from llmspec.lint.registry import all_rules

    return [cls() for cls in all_rules().values()
            if not cls.opt_in and cls.severity == "error" and cls.code not in FAST_CODES]


class _Reads:
    """Stands in for a Spec and records the top-level tables read through it (``arch`` is [model]; any other
    attribute, such as model_dump, counts as reading everything: "*")."""

    def __init__(self, spec: Spec):
        self._spec = spec
        self.tables: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        if name in Spec.model_fields:
            self.tables.add(name)
        elif name == "arch":
            self.tables.add("model")
        elif name != "source":
            self.tables.add("*")
        return getattr(self._spec, name)


def _table_model(name: str) -> type[BaseModel] | None:
    """The model class of a top-level table (Training for "training"), None for plain keys."""
    from llmspec.spec.messages import model_at

    model = model_at(Spec, (name,))
    return model if model is not Spec else None


def _budget_codes(work, hw) -> list[str]:
    """The error conditions of BUD001-BUD003 (llmspec/lint/rules/_budget.py: estimate > budget)."""
    out = []
    if work.gpu_hours is not None and hw.budget_gpu_hours is not None and work.gpu_hours > hw.budget_gpu_hours:
        out.append("BUD001")
    if (work.cost is not None and hw.budget_usd is not None and hw.price_per_gpu_hour is not None
            and work.cost > hw.budget_usd):
        out.append("BUD002")
    if work.wall_hours is not None and hw.budget_hours is not None and work.wall_hours > hw.budget_hours:
        out.append("BUD003")
    return out
