"""Points of a sweep space: the full grid, or seeded samples from the distributions (the prior).

A point is a dict of dotted spec keys to values, in parameter order. Conditional parameters (``when``) are left
out of a point whose condition does not hold, so that the key keeps the spec's own value there; grid points that
become equal that way are listed once.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator, Mapping
from typing import Any

from llmspec.spec.sweep import Parameter, Sweep

Point = dict[str, Any]
DEFAULT_TRIALS = 20
"""Points sampled by random and tpe when budget.max_trials is unset."""


def spec_value(data: Mapping, key: str) -> Any:
    """The value at a dotted key of a (raw or dumped) spec document; None when absent."""
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def axis(param: Parameter) -> list[Any]:
    """The values of one grid axis (the Sweep model has checked that the axis is finite)."""
    if param.kind == "choice":
        return list(param.values or [])
    low, high = param.low, param.high
    assert low is not None and high is not None
    if param.kind == "int":
        return list(range(int(low), int(high) + 1, int(param.step or 1)))
    if param.step is not None:
        n = int(math.floor((high - low) / param.step + 1e-9)) + 1
        return [round(low + k * param.step, 12) for k in range(n)]
    n = param.grid_points or 2
    if param.kind == "log_uniform":
        a, b = math.log(low), math.log(high)
        return [float(f"{math.exp(a + (b - a) * k / (n - 1)):.6g}") for k in range(n)]
    return [float(f"{low + (high - low) * k / (n - 1):.6g}") for k in range(n)]


def sample(param: Parameter, rng: random.Random) -> Any:
    """One draw from the parameter's distribution."""
    if param.kind == "choice":
        return rng.choice(param.values or [None])
    low, high = param.low, param.high
    assert low is not None and high is not None
    if param.kind == "int":
        step = int(param.step or 1)
        return int(low) + step * rng.randrange((int(high) - int(low)) // step + 1)
    if param.kind == "log_uniform":
        return math.exp(rng.uniform(math.log(low), math.log(high)))
    if param.step is not None:
        return round(low + param.step * rng.randrange(int((high - low) / param.step + 1e-9) + 1), 12)
    return rng.uniform(low, high)


def active(param: Parameter, point: Mapping[str, Any], base: Mapping) -> bool:
    """Whether every condition of ``param`` holds, reading swept keys from the point and the rest from the spec."""
    for key, wanted in (param.when or {}).items():
        value = point[key] if key in point else spec_value(base, key)
        allowed = wanted if isinstance(wanted, list) else [wanted]
        if value not in allowed:
            return False
    return True


def _resolve(sweep: Sweep, values: Mapping[str, Any], base: Mapping) -> Point:
    params = sweep.parameters
    if not any(p.when for p in params.values()):
        return dict(values)
    point: Point = {}
    for key, param in params.items():
        if not param.when or active(param, values, base):  # the point so far holds the same values as ``values``
            point[key] = values[key]
    # a later parameter may switch off the condition of an earlier one: evaluate once more on the result
    return {k: v for k, v in point.items() if not params[k].when or active(params[k], point, base)}


def grid(sweep: Sweep, base: Mapping) -> Iterator[Point]:
    keys = list(sweep.parameters)
    seen: set[tuple] = set()
    for combo in itertools.product(*(axis(sweep.parameters[k]) for k in keys)):
        point = _resolve(sweep, dict(zip(keys, combo, strict=True)), base)
        ident = tuple((k, repr(v)) for k, v in point.items())
        if ident not in seen:
            seen.add(ident)
            yield point


def samples(sweep: Sweep, base: Mapping, n: int | None = None) -> Iterator[Point]:
    rng = random.Random(sweep.seed)
    for _ in range(n if n is not None else trials(sweep)):
        yield _resolve(sweep, {k: sample(p, rng) for k, p in sweep.parameters.items()}, base)


def trials(sweep: Sweep) -> int:
    """How many points random and tpe plan."""
    if sweep.budget is not None and sweep.budget.max_trials is not None:
        return sweep.budget.max_trials
    return DEFAULT_TRIALS


def points(sweep: Sweep, base: Mapping, n: int | None = None) -> Iterator[Point]:
    """The grid (method = "grid"), else ``n`` (default: the trial budget) seeded samples from the prior."""
    return grid(sweep, base) if sweep.method == "grid" else samples(sweep, base, n)
