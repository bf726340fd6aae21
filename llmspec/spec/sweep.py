"""The ``[sweep]`` table: a hyperparameter space over spec keys, how to search it, the objective and the budget.

A sweep is a spec with a space: every point is the spec with some keys replaced. The models here only describe
the space; expanding, sampling and planning it live in :mod:`llmspec.sweep`. Problems a user can write (a key
that is not in the spec, reversed bounds, a log scale over values <= 0, an empty space, a grid above
``max_grid_points``, a condition on an unknown key) are reported at the key that is wrong.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, BeforeValidator, Field, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import InitErrorDetails, PydanticCustomError

from llmspec.spec.messages import show_value
from llmspec.spec.types import Strict


def _finite(value: object) -> object:
    """One error for a NaN or infinite number, before the union below tries each of its members (each would report
    its own, so one bad bound gave two lines)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("finite_number", "Input should be a finite number")
    return value


_SCALARS = (bool, int, float, str)
_SCALAR_WORDS = "true/false, a number or a string"


def _value(value: object) -> object:
    """A value or a list of scalars, checked before the union so that a wrong one is one error, not one per member
    of the union (a list with a NaN gave five lines): the union below then only ever sees a valid value."""
    _finite(value)
    if isinstance(value, list):
        for i, item in enumerate(value):
            if not isinstance(item, _SCALARS):
                raise PydanticCustomError("value_error", "{error}", {"error": f"item {i} of the list is not "
                                          f"{_SCALAR_WORDS} (got {show_value(item)}); a list holds only those"})
            if isinstance(item, float) and not math.isfinite(item):
                raise PydanticCustomError("value_error", "{error}", {"error": f"item {i} of the list is "
                                          f"{item!r}, which is not allowed; write a finite number"})
    elif not isinstance(value, _SCALARS):
        raise PydanticCustomError("value_error", "{error}", {"error": f"expected {_SCALAR_WORDS}, or a list of "
                                  f"them, got {show_value(value)}"})
    return value


Number = Annotated[int | float, BeforeValidator(_finite)]
Scalar = Annotated[bool | int | float | str, BeforeValidator(_finite)]
Value = Annotated[bool | int | float | str | list[Scalar], BeforeValidator(_value)]
Distribution = Literal["choice", "uniform", "log_uniform", "int"]
MAX_GRID_POINTS = 10_000
"""Default largest grid `sweep plan` expands; raise it per spec with sweep.max_grid_points."""


def _fail(model: str, errors: list[tuple[tuple, str, object]]) -> None:
    """Raise every (loc, message, input) at once; pydantic prefixes each loc with the enclosing path."""
    if errors:
        raise ValidationError.from_exception_data(model, [
            InitErrorDetails(type=PydanticCustomError("value_error", "{error}", {"error": msg}), loc=loc, input=value)
            for loc, msg, value in errors
        ])


class Parameter(Strict):
    """One swept spec key and its distribution."""

    distribution: Distribution | None = None
    """choice (one of `values`), uniform or log_uniform (floats in [low, high]), or int (low..high by step);
    defaults to choice when `values` is given."""
    values: list[Value] | None = Field(default=None, max_length=100_000)
    """The values of a choice (and of a grid axis)."""
    low: Number | None = None
    """Lower bound (inclusive)."""
    high: Number | None = None
    """Upper bound (inclusive)."""
    step: Number | None = Field(default=None, gt=0)
    """int: the step between values (default 1); uniform: an optional discretisation step."""
    grid_points: int | None = Field(default=None, ge=2, le=100_000)
    """uniform / log_uniform under method = "grid": how many evenly spaced (log-spaced) points to try."""
    when: dict[str, Value] | None = None
    """Condition: sweep this key only when every named spec key has the given value (or one of a list of
    values), e.g. when = { "training.method" = ["lora", "qlora"] }. Otherwise the key keeps the spec's value."""

    @property
    def kind(self) -> Distribution:
        return self.distribution or "choice"

    @model_validator(mode="after")
    def _consistent(self) -> Parameter:
        errors: list[tuple[tuple, str, object]] = []
        if self.distribution is None and self.values is None:
            errors.append(((), 'give `values = [...]`, or a distribution ("uniform", "log_uniform", "int") '
                               "with low and high", None))
        elif self.kind == "choice":
            if not self.values:
                errors.append((("values",), "the space is empty: list at least one value", self.values))
            for extra in ("low", "high", "step", "grid_points"):
                if getattr(self, extra) is not None:
                    errors.append(((extra,), f"{extra} does not apply to a choice of values; remove it", None))
        else:
            if self.values is not None:
                errors.append((("values",), f"values does not apply to distribution {self.kind!r}; remove "
                                            "them, or drop the distribution for a choice", None))
            for bound in ("low", "high"):
                if getattr(self, bound) is None:
                    errors.append(((), f"distribution {self.kind!r} needs {bound}", None))
            if self.low is not None and self.high is not None:
                errors.extend(self._bounds())
        _fail("Parameter", errors)
        return self

    def _bounds(self) -> list[tuple[tuple, str, object]]:
        low, high = self.low, self.high
        assert low is not None and high is not None
        if low > high:
            return [(("low",), f"bounds are reversed: low ({low:g}) is above high ({high:g}); swap them", low)]
        if self.kind != "int" and low == high:
            return [(("high",), f"the space is empty: low and high are both {low:g}; use values = [{low:g}] "
                                "for a single value", high)]
        if self.kind == "log_uniform" and low <= 0:
            return [(("low",), f"log_uniform needs low > 0 (got {low:g}): a log scale has no zero or negative "
                               "values; use uniform, or a positive low such as 1e-6", low)]
        if self.kind == "int":
            return [((k,), f"{k} of an int distribution must be a whole number, got {v!r}", v)
                    for k, v in (("low", low), ("high", high), ("step", self.step))
                    if v is not None and not (isinstance(v, int) or float(v).is_integer())]
        return []

    def grid_size(self) -> int | None:
        """Values on a grid axis; None when a continuous distribution has no grid_points."""
        if self.kind == "choice":
            return len(self.values or [])
        if self.kind == "int":
            assert self.low is not None and self.high is not None
            return int((self.high - self.low) // (self.step or 1)) + 1
        if self.step is not None and self.low is not None and self.high is not None:
            return int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
        return self.grid_points


class Objective(Strict):
    """What the sweep optimises: a metric that `llmspec eval` produces, on a validation suite."""

    metric: str = Field(pattern=r"^[^/\s]+/[^/\s]+$", max_length=256)
    """"task/metric" as `llmspec eval` reports it, e.g. "support_qa/f1"."""
    direction: Literal["maximize", "minimize"] = "maximize"
    """Whether a higher or a lower metric is better."""
    suite: str | None = Field(default=None, max_length=4096)
    """The validation suite trials are scored on (a suite name or file)."""
    holdout_suite: str | None = Field(default=None, max_length=4096)
    """A held-out suite, never tuned on, that confirms the winner; the report shows the gap."""
    validation_examples: int | None = Field(default=None, ge=1, le=10**9)
    """Examples in the validation suite: sets the noise of the objective (sigma = 0.5 / sqrt(n) for a metric in
    [0, 1]) that lint's best-of-N optimism check (SWP002) uses."""
    metric_sd: float | None = Field(default=None, gt=0, le=1e9)
    """Standard deviation of the objective between repeated evaluations, when known (overrides the estimate
    from validation_examples)."""


class Asha(Strict):
    """Asynchronous successive halving (Li et al. 2020): stop weak trials early at rungs of a resource."""

    min_resource: int = Field(default=1, ge=1, le=10**9)
    """Resource (steps or epochs reported by the training function) before the first rung."""
    max_resource: int = Field(ge=1, le=10**9)
    """Resource of a trial that is never stopped."""
    reduction_factor: int = Field(default=3, ge=2, le=100)
    """Keep the best 1/reduction_factor of trials at each rung."""

    @model_validator(mode="after")
    def _ordered(self) -> Asha:
        if self.min_resource > self.max_resource:
            _fail("Asha", [(("min_resource",), f"min_resource ({self.min_resource}) is above max_resource "
                                               f"({self.max_resource}); swap them", self.min_resource)])
        return self


class Budget(Strict):
    """Limits on the whole sweep; points beyond them are pruned before they run."""

    max_trials: int | None = Field(default=None, ge=1, le=10_000_000)
    """Most trials to run. random and tpe sample this many points (20 when unset); a grid is cut at it."""
    gpu_hours: float | None = Field(default=None, gt=0, le=1e12)
    """GPU-hours for all trials together (from each point's compute estimate)."""
    cost: float | None = Field(default=None, gt=0, le=1e15)
    """Money for all trials together (needs hardware.price_per_gpu_hour)."""


class Sweep(Strict):
    """A hyperparameter sweep: the space, the search, the objective and the budget."""

    method: Literal["grid", "random", "tpe"] = "random"
    """grid (every combination), random (seeded samples), or tpe (Optuna's Bayesian TPE sampler at run time)."""
    parameters: dict[str, Parameter] = Field(default_factory=dict, max_length=1000)
    """The space: spec keys by dotted path ("training.learning_rate"), each with its distribution."""
    objective: Objective | None = None
    """The metric to optimise."""
    asha: Asha | None = None
    """Optional ASHA early stopping."""
    budget: Budget | None = None
    """Limits on the whole sweep."""
    seed: int = Field(default=0, ge=0, le=2**32 - 1)
    """Seed for sampling (random, tpe) and for the engines' samplers."""
    max_grid_points: int = Field(default=MAX_GRID_POINTS, ge=1, le=10**8)
    """Largest grid allowed; a bigger grid is an error (use method = "random")."""

    @model_validator(mode="after")
    def _space(self) -> Sweep:
        errors: list[tuple[tuple, str, object]] = []
        if not self.parameters:
            errors.append(((), "the sweep space is empty: add [sweep.parameters.\"KEY\"] tables", None))
        for key, param in self.parameters.items():
            problem = sweepable(key)
            if problem:
                errors.append((("parameters", key), problem, key))
            else:
                errors.extend((("parameters", key, *loc), msg, value) for loc, msg, value in _invalid_values(key, param))
            for other in param.when or {}:
                problem = sweepable(other, condition=True)
                if other == key:
                    problem = "a parameter cannot be conditional on itself"
                if problem:
                    errors.append((("parameters", key, "when", other), f"condition on {other!r}: {problem}", other))
        if self.method == "grid" and self.parameters:
            size = 1
            for key, param in self.parameters.items():
                axis = param.grid_size()
                if axis is None:
                    errors.append((("parameters", key), f"method = \"grid\" needs grid_points (or step) for the "
                                                        f"{param.kind} distribution of {key!r}", None))
                    size = 0
                    break
                size *= axis
            if size > self.max_grid_points:
                errors.append((("method",), f"the grid has {size:,} points, above max_grid_points = "
                                            f"{self.max_grid_points:,}; use method = \"random\" with "
                                            "budget.max_trials, fewer values, or raise max_grid_points", None))
        _fail("Sweep", errors)
        return self


_NOT_SWEPT = {("version",), ("extends",), ("sweep",)}


def _field(key: str) -> FieldInfo | None:
    """The spec field a dotted key names, or None."""
    from llmspec.spec.messages import model_at
    from llmspec.spec.models import Spec

    parts = tuple(key.split("."))
    parent = model_at(Spec, parts[:-1])
    return None if parent is None else parent.model_fields.get(parts[-1])


def sweepable(key: str, condition: bool = False) -> str | None:
    """None when ``key`` names a spec key that can take a value per point, else why not."""
    from llmspec.spec.messages import model_at
    from llmspec.spec.models import Spec
    from llmspec.spec.problems import did_you_mean

    parts = tuple(key.split("."))
    if not all(parts) or parts[:1] in _NOT_SWEPT:
        return f"{key!r} is not a spec key that a sweep can set"
    parent = model_at(Spec, parts[:-1])
    if parent is None:
        return f"{key!r} is not a key of the spec (no table [{'.'.join(parts[:-1])}])"
    field = _field(key)
    if field is None:
        hint = did_you_mean(parts[-1], parent.model_fields)
        table = ".".join(parts[:-1]) or "the top level"
        return f"{key!r} is not a key of the spec: [{table}] has no {parts[-1]!r}{hint}"
    if not condition and model_at(Spec, parts) is not None and _is_table(field.annotation):
        return f"{key!r} is a table; sweep one of its keys"
    return None


def _invalid_values(key: str, param: Parameter) -> list[tuple[tuple, str, object]]:
    """Each choice value and bound that the swept key's own field refuses (its type and constraints, strict as in
    the spec), at the value: `values = ["abc", 1e-4]` for training.learning_rate is wrong before any point is
    planned. Rules across keys (e.g. lora needs [training.lora]) are left to the points, which `sweep plan` checks."""
    from pydantic import ConfigDict, TypeAdapter

    field = _field(key)
    assert field is not None  # sweepable(key) said it is a key
    adapter: TypeAdapter[Any] = TypeAdapter(cast(Any, Annotated[field.annotation, field]), config=ConfigDict(strict=True))
    given: list[tuple[tuple, object]] = [(("values", i), v) for i, v in enumerate(param.values or [])]
    for bound in ("low", "high"):
        value = getattr(param, bound)
        if value is not None:  # an int distribution samples whole numbers: 4.0 stands for 4 (checked in _bounds)
            whole = param.kind == "int" and isinstance(value, float) and value.is_integer()
            given.append(((bound,), int(value) if whole else value))
    errors = []
    for loc, value in given:
        try:
            adapter.validate_python(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            errors.append((loc, f"{value!r} is not a valid {key}: {first['msg']}", value))
    return errors


def _is_table(annotation: object) -> bool:
    from llmspec.spec.messages import _unwrap

    return all(isinstance(t, type) and issubclass(t, BaseModel) for t in _unwrap(annotation) if t is not type(None))
