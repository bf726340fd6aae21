"""Static gate checks, before any model loads: every gate names a task the spec's suites run and a metric that
task reports. Used by ``llmspec eval`` (and ``--dry-run``), ``llmspec check`` and the EVL005 lint rule.

What a task reports (``reported``): the llmspec metrics the suite lists for it (or, without ``metrics =``, the
built-in defaults for its output_type: llmspec.eval.metricnames.default_metrics) and lm-eval's own metrics,
as ``name,filter`` and, for the "none" filter, the bare name (llmspec.eval.taskinfo). Local task YAMLs are read
with the safe reader; lm-eval's built-in tasks only when a ``builtin`` resolver is given (it needs lm_eval).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmspec.eval.metricnames import default_metrics, direction
from llmspec.eval.suite import Suite, SuiteError, SuiteTask, find_suite, load_suite
from llmspec.eval.taskinfo import TaskYamlError, lmeval_metrics, read_task

BuiltinResolver = Callable[[str], "dict[str, Any] | None"]


@dataclass(frozen=True)
class GateProblem:
    key: tuple[str | int, ...]
    message: str
    fix: str


def spec_suites(spec) -> tuple[list[Suite], list[GateProblem]]:
    """The spec's suites ([eval].suites), and a problem for each that cannot be found or read."""
    spec_dir = Path(spec.source.path).parent if spec.source is not None else Path.cwd()
    suites, problems = [], []
    for i, ref in enumerate(spec.eval.suites if spec.eval else []):
        try:
            suites.append(load_suite(find_suite(ref, spec_dir)))
        except SuiteError as e:
            problems.append(GateProblem(("eval", "suites", i), str(e), "fix the suite name or file"))
    return suites, problems


def _config(suite: Suite, task: SuiteTask, builtin: BuiltinResolver | None) -> dict | None:
    """The task's lm-eval config: its YAML beside the suite, else the built-in task's; None when not knowable here."""
    path = suite.task_path(task)
    return read_task(path) if path is not None else (builtin(task.task) if builtin else None)


def reported(suite: Suite, task: SuiteTask, builtin: BuiltinResolver | None) -> dict[str, bool | None] | None:
    """Gateable metric names of one suite task -> higher_is_better (None: unknown); None when not knowable here."""
    from llmspec.eval.taskinfo import available

    if not available():  # no PyYAML to read task files (the eval extra): eval checks instead
        return None

    cfg = _config(suite, task, builtin)
    if cfg is None:
        return None
    names: dict[str, bool | None] = {}
    if "aggregate_metric_list" in cfg or "group" in cfg and "task" not in cfg:  # a group: its aggregates only
        for e in cfg.get("aggregate_metric_list") or []:
            for flt in e.get("filter_list") or ["none"]:
                names[f"{e.get('metric')},{flt}"] = e.get("higher_is_better")
    else:
        names.update(lmeval_metrics(cfg))
        for m in task.metrics or default_metrics(str(cfg.get("output_type", ""))):
            names[m] = direction(m)
    names.update({k[: -len(",none")]: v for k, v in list(names.items()) if k.endswith(",none") and k[:-5] not in names})
    return names


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.5)
    return f"did you mean {close[0]!r}? " if close else ""


def gate_problems(spec, suites: list[Suite], builtin: BuiltinResolver | None = None) -> list[GateProblem]:
    """One problem per gate that names a task no suite runs or a metric its task does not report."""
    problems: list[GateProblem] = []
    cache: dict[str, dict[str, bool | None] | None] = {}
    tasks = {t.task: (s, t) for s in suites for t in s.tasks}
    for i, gate in enumerate(spec.eval.gates if spec.eval else []):
        key = ("eval", "gates", i, "metric")
        problem = metric_problem(gate.metric, key, suites, builtin, cache, what="gate")
        if problem is None and gate.max_drop is not None:
            task, _, metric = gate.metric.partition("/")
            try:
                agg = _aggregation(*tasks[task], metric, builtin)
            except TaskYamlError:  # metric_problem has read this file: unreachable, but never a silent pass
                agg = None
            if agg is not None:
                problem = GateProblem(
                    key, f"gate {gate.metric!r} has max_drop, which compares per-sample values, but lm-eval "
                         f"aggregates {metric.split(',', 1)[0]!r} over the whole set ({agg}), not per sample",
                    "judge it with min or max, or list an llmspec metric for the task in the suite (metrics = [...])")
        if problem is not None:
            problems.append(problem)
    return problems


def _aggregation(suite: Suite, task: SuiteTask, metric: str, builtin: BuiltinResolver | None) -> str | None:
    """lm-eval's aggregation of a metric of this task that is not a mean of per-sample values; None when llmspec
    computes the metric itself (listed for the task, or the output type's default), lm-eval averages it, or the
    task's config is not knowable here. A max_drop gate needs per-sample values (llmspec.eval.gate_baseline)."""
    from llmspec.eval.taskinfo import LMEVAL_AGGREGATION, metric_name

    base = metric.split(",", 1)[0]
    cfg = _config(suite, task, builtin)
    if cfg is None or base in (task.metrics or default_metrics(str(cfg.get("output_type", "")))):
        return None
    for entry in cfg.get("metric_list") or []:
        if isinstance(entry, dict) and metric_name(entry) == base and entry.get("aggregation") is not None:
            agg = entry["aggregation"]
            return None if agg == "mean" else str(getattr(agg, "name", agg))
    agg = LMEVAL_AGGREGATION.get(base)
    return None if agg in (None, "mean") else agg


def metric_problem(name: str, key: tuple[str | int, ...], suites: list[Suite],
                   builtin: BuiltinResolver | None = None,
                   cache: dict[str, dict[str, bool | None] | None] | None = None,
                   what: str = "gate") -> GateProblem | None:
    """The problem with one "task/metric" name (a gate's, a sweep objective's), or None: its task is one the suites
    run and the task reports the metric (or what it reports is not knowable here)."""
    cache = {} if cache is None else cache
    tasks = {t.task: (s, t) for s in suites for t in s.tasks}
    task, _, metric = name.partition("/")
    if task not in tasks:
        names = sorted(tasks)
        return GateProblem(
            key, f"{what} {name!r} names task {task!r}, which none of the suites "
                 f"({', '.join(s.name for s in suites) or 'none'}) runs",
            f"{_suggest(task, names)}tasks: {', '.join(names) or 'none'}")
    if task not in cache:
        try:
            cache[task] = reported(*tasks[task], builtin)
        except TaskYamlError as e:
            cache[task] = None
            return GateProblem(key, f"{what} {name!r}: {e}", "fix the task YAML")
    names_of = cache[task]
    if names_of is None or metric in names_of:
        return None
    listed = sorted(names_of)
    return GateProblem(key, f"{what} {name!r}: task {task!r} does not report metric {metric!r}",
                       f"{_suggest(metric, listed)}{task} reports: {', '.join(listed)}")


def check_lines(spec) -> list[str]:
    """``file:line:col: problem; fix`` for ``llmspec check``: local task YAMLs always; lm-eval's built-in tasks
    when a gate names one and lm-eval is installed (its task index takes seconds to build)."""
    if spec.eval is None or not spec.eval.gates:
        return []
    suites, problems = spec_suites(spec)
    builtin_named = {t.task for s in suites for t in s.tasks if t.path is None} & {
        g.metric.split("/", 1)[0] for g in spec.eval.gates}
    resolver = None
    if builtin_named:
        from importlib.util import find_spec

        if find_spec("lm_eval") is not None:
            from lm_eval.tasks import TaskManager

            index = TaskManager(include_defaults=True).task_index

            def resolver(name: str) -> dict[str, Any] | None:
                entry = index.get(name)
                return dict(entry.cfg) if entry is not None and isinstance(getattr(entry, "cfg", None), dict) else None
    lines = []
    for p in problems + gate_problems(spec, suites, resolver):
        loc = spec.source.locate(p.key) if spec.source is not None else None
        where = f"{loc.file}:{loc.line}:{loc.col}: " if loc else ""
        lines.append(f"{where}{p.message}; {p.fix}")
    return lines
