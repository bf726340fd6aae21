from __future__ import annotations

from llmspec.lint.rule import Rule

KEY = ("sampling", "temperature")


class TemperatureForTask(Rule):
    """A high temperature for a task with one right answer (classification, extraction).

    Classification labels and extracted fields should not vary between runs of the same input. Above the
    threshold, sampling makes the answer change from call to call and lowers accuracy.

    Why:
    OpenAI's API reference: "higher values like 0.8 will make the output more random, while lower values like
    0.2 will make it more focused and deterministic". Chen et al. 2021 (Codex), section 3: the best temperature
    for a single answer (pass@1) was 0.2, against 0.8 when many samples are drawn.

    Thresholds:
    max_temperature = 0.3 (OpenAI guidance; Codex pass@1 optimum 0.2); tasks = ["classification",
    "extraction"].

    Bad:
    ```toml
    [sampling]
    task = "extraction"
    temperature = 0.9
    ```

    Good:
    ```toml
    [sampling]
    task = "extraction"
    temperature = 0.1
    ```
    """

    code = "SMP005"
    name = "temperature-too-high-for-task"
    severity = "warning"
    thresholds = {"max_temperature": 0.3, "tasks": ["classification", "extraction"]}

    def check(self, ctx):
        s = ctx.spec.sampling
        limit = float(self.t["max_temperature"])
        if s is not None and s.task in self.t["tasks"] and s.temperature > limit:
            yield self.finding(
                ctx, KEY,
                f"temperature = {s.temperature:g} for a {s.task} task; above {limit:g} the answer varies between "
                "calls of the same input",
                fix=f"set temperature to {limit:g} or less (0 for fully deterministic output)",
            )


RULE = TemperatureForTask
