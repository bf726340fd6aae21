from __future__ import annotations

from llmspec.lint import Rule


class OwnerRule(Rule):
    """The spec does not name an owner ([meta] owner).

    Every spec must say which team or person answers for the run, so that a reviewer, an on-call engineer or
    a cost report knows whom to ask.

    Why:
    Organisation policy (example): runs without an owner cannot be charged back or followed up. Model cards
    (Mitchell et al. 2019, "Model Cards for Model Reporting") likewise start with who developed the model.

    Bad:
    ```toml
    [meta]
    description = "support bot"
    ```

    Good:
    ```toml
    [meta]
    owner = "ml-platform@example.com"
    ```
    """

    code = "ORG001"
    name = "spec-names-owner"
    severity = "warning"
    applies_to = frozenset({"spec"})  # a training tool's YAML has no place for an owner: only specs are checked

    def check(self, ctx):
        meta = ctx.spec.meta
        if meta is None or not (meta.owner or "").strip():
            key = ("meta", "owner") if meta is not None else ("model",)
            yield self.finding(ctx, key, "the spec names no owner", fix='add [meta] owner = "team@example.com"')
