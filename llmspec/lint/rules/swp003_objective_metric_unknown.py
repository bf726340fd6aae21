from __future__ import annotations

from pathlib import Path

from llmspec.lint.rule import Rule

KEY = ("sweep", "objective", "metric")


class ObjectiveMetricUnknown(Rule):
    """The sweep's objective names a task its validation suite does not run, or a metric that task does not report.

    The validation suite is [sweep.objective] suite, else the spec's [eval] suites. The held-out suite
    (holdout_suite) must run the same task, or have a single task, and report the metric too. The check reads the
    suites and local task YAMLs as EVL005 does (no code runs, no lm-eval import); a task only lm-eval knows is
    checked when the run starts.

    Why:
    `llmspec sweep run` would find out only after the first trial has trained, and the held-out suite only after
    the whole sweep.

    Bad:
    ```toml
    [eval]
    suites = ["smoke"]

    [sweep.objective]
    metric = "kb_mc/accuracy"

    [sweep.parameters."training.learning_rate"]
    values = [1e-4, 3e-4]
    ```

    Good:
    ```toml
    [eval]
    suites = ["smoke"]

    [sweep.objective]
    metric = "kb_mc/acc"

    [sweep.parameters."training.learning_rate"]
    values = [1e-4, 3e-4]
    ```
    """

    code = "SWP003"
    name = "sweep-objective-metric-unknown"
    severity = "error"

    def check(self, ctx):
        sweep = ctx.spec.sweep
        if sweep is None or sweep.objective is None:
            return
        from llmspec.eval.gatecheck import GateProblem, metric_problem, spec_suites
        from llmspec.eval.suite import Suite, SuiteError, find_suite, load_suite

        objective = sweep.objective
        spec_dir = Path(ctx.spec.source.path).parent if ctx.spec.source is not None else Path.cwd()
        problems: list[GateProblem] = []

        def suite_at(ref: str, field: str) -> Suite | None:
            try:
                return load_suite(find_suite(ref, spec_dir))
            except SuiteError as e:
                problems.append(GateProblem(("sweep", "objective", field), str(e), "fix the suite name or file"))
                return None

        if objective.suite is not None:
            found = suite_at(objective.suite, "suite")
            suites = [found] if found is not None else []
        else:
            suites, problems = spec_suites(ctx.spec)
        if suites:
            problem = metric_problem(objective.metric, KEY, suites, what="the sweep objective")
            problems += [problem] if problem is not None else []
        if objective.holdout_suite is not None:
            holdout = suite_at(objective.holdout_suite, "holdout_suite")
            if holdout is not None:
                task, _, metric = objective.metric.partition("/")
                names = [t.task for t in holdout.tasks]
                # the engine's rule (llmspec.sweep.engine._holdout_metric): the same task, or the suite's only one
                name = objective.metric if task in names or len(names) != 1 else f"{names[0]}/{metric}"
                problem = metric_problem(name, ("sweep", "objective", "holdout_suite"), [holdout],
                                         what="the held-out objective")
                problems += [problem] if problem is not None else []
        for p in problems:
            yield self.finding(ctx, p.key, p.message, fix=p.fix)


RULE = ObjectiveMetricUnknown
