from __future__ import annotations

from llmspec.lint.rule import Rule

KEY = ("model", "trust_remote_code")


class TrustRemoteCode(Rule):
    """trust_remote_code = true: loading the model runs Python code shipped with the checkpoint.

    With trust_remote_code, transformers imports the modelling code that comes with the checkpoint and runs it
    with your credentials, on your CI runners and GPU hosts. A compromised or malicious repository executes
    arbitrary code. llmspec eval also requires --trust-remote-code on the command line; this rule makes the
    decision visible in review.

    Why:
    Hugging Face documentation (`from_pretrained`, trust_remote_code): "should only be set to True for
    repositories you trust and in which you have read the code, as it will execute code present on the Hub on
    your local machine." Most architectures are now native to transformers and need no remote code.

    Bad:
    ```toml
    [model]
    name = "custom"
    trust_remote_code = true
    ```

    Good:
    ```toml
    [model]
    name = "custom"
    trust_remote_code = false
    ```
    """

    code = "SEC001"
    name = "trust-remote-code"
    severity = "warning"

    def check(self, ctx):
        if ctx.spec.model.trust_remote_code:
            yield self.finding(
                ctx, KEY,
                "trust_remote_code = true runs the checkpoint's own Python code when it is loaded",
                fix="use a transformers-native architecture; if you must, pin the revision and review its code, "
                    "then suppress with `# llmspec: noqa: SEC001` and a reason",
            )


RULE = TrustRemoteCode
