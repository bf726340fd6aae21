from __future__ import annotations

from llmspec.lint.rule import Rule


class GateMetricUnknown(Rule):
    """An eval gate names a task that none of the spec's suites runs, or a metric that task does not report.

    `llmspec eval` would find out only after loading the model and running every task. The task must be one
    the spec's `[eval].suites` run, and the metric one that task reports: an llmspec metric the suite lists for
    it (or, without `metrics =`, the defaults for its output type), or any metric lm-eval reports for it, as
    `name,filter` or, for the "none" filter, the bare name. Local task YAMLs are read without running their
    code (`!function` stays unexecuted, `include:` is resolved). lm-eval's built-in tasks are checked by
    `llmspec eval --dry-run` instead: lint never imports lm-eval.

    Why:
    A gate on a name the run never produces cannot pass or fail; it can only stop the run late with exit 2.

    Bad:
    ```toml
    [eval]
    suites = ["smoke"]

    [[eval.gates]]
    metric = "kb_mc/accuracy"
    min = 0.5
    ```

    Good:
    ```toml
    [eval]
    suites = ["smoke"]

    [[eval.gates]]
    metric = "kb_mc/acc"
    min = 0.5
    ```
    """

    code = "EVL005"
    name = "gate-metric-unknown"
    severity = "error"

    def check(self, ctx):
        if ctx.spec.eval is None or not ctx.spec.eval.gates:
            return
        from llmspec.eval.gatecheck import gate_problems, spec_suites

        suites, problems = spec_suites(ctx.spec)
        for p in problems + gate_problems(ctx.spec, suites):
            yield self.finding(ctx, p.key, p.message, fix=p.fix)


RULE = GateMetricUnknown
