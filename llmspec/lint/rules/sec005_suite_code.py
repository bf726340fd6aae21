from __future__ import annotations

from pathlib import Path

from llmspec.lint.rule import Rule


class SuiteCode(Rule):
    """A user eval suite carries code (!function, a metric script, or a template reaching Python internals).

    lm-eval runs a task YAML's `!function module.fn` while its YAML loader parses the file (importing
    `module.py` beside the YAML), fetches and runs a metric script for a metric name it does not know, and renders
    prompt templates in an unsandboxed Jinja2 environment. A suite is therefore code, however it is reached
    (also through `../`). llmspec's own suites are trusted; `llmspec eval` runs a user suite's code only with
    `[eval].trust_suite_code = true` and `--trust-suite-code`, and refuses it otherwise.

    Why:
    lm-eval 0.4.13: lm_eval/tasks/_yaml_loader.py (`_import_func_in_yml`, called by the `!function` constructor),
    lm_eval/api/registry.py (`get_metric` falls back to `evaluate.load`), lm_eval/utils.py (`env` is a plain
    `jinja2.Environment`). Jinja2's documentation: "the sandboxed environment ... for untrusted templates".

    Bad:
    ```toml
    [eval]
    suites = ["data/suites/custom.toml"]
    ```

    Good:
    ```toml
    [eval]
    suites = ["smoke"]
    ```
    """

    code = "SEC005"
    name = "suite-carries-code"
    severity = "warning"

    def check(self, ctx):
        from llmspec.eval.suite import SuiteError, find_suite, load_suite
        from llmspec.eval.trust import CONSENT, suite_code

        ev = ctx.spec.eval
        if ev is None:
            return
        spec_dir = Path(ctx.source.path).parent if ctx.source is not None else Path.cwd()
        for i, ref in enumerate(ev.suites):
            try:
                suite = load_suite(find_suite(ref, spec_dir))
            except SuiteError:  # a missing or broken suite is eval's error to report, with its own message
                continue
            uses = suite_code(suite)
            if not uses:
                continue
            more = f" (and {len(uses) - 1} more)" if len(uses) > 1 else ""
            consent = " (the spec consents with trust_suite_code = true)" if ev.trust_suite_code else ""
            outside = "" if suite.file is None or suite.file.is_relative_to(spec_dir.resolve()) else \
                " (outside the spec's folder)"
            yield self.finding(
                ctx, ("eval", "suites", i),
                f"suite {ref!r}{outside} runs code: {uses[0]}{more}{consent}",
                fix=f"{CONSENT}; or use a suite without !function and with lm-eval's own metrics",
            )


RULE = SuiteCode
