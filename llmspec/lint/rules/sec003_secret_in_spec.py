from __future__ import annotations

from llmspec.lint.redact import find_secrets
from llmspec.lint.rule import Rule


class SecretInSpec(Rule):
    """A secret token is written in the spec (Hugging Face, OpenAI, AWS or GitHub token patterns).

    Specs are committed, reviewed and copied into reports; a token in one is leaked. The whole text is
    scanned, comments included. The token itself is never printed: every llmspec output format redacts it to
    its public prefix ("hf_[REDACTED]").

    Why:
    Token formats: Hugging Face user access tokens start with `hf_`; OpenAI secret keys with `sk-`; AWS
    access key ids with `AKIA` (long-term) or `ASIA` (temporary); GitHub tokens with `ghp_`, `gho_`, `ghu_`,
    `ghs_`, `ghr_` or `github_pat_` (each vendor's documentation; GitHub secret scanning uses the same
    prefixes). OWASP's Secrets Management Cheat Sheet: never store secrets in source files.

    Bad:
    ```toml
    [model]
    name = "m"
    weights = "hf_abcdefghijklmnopqrstuvwxyz0123456789"
    ```

    Good:
    ```toml
    [model]
    name = "m"
    weights = "org/model"   # the token comes from the HF_TOKEN environment variable
    ```
    """

    code = "SEC003"
    name = "secret-in-spec"
    severity = "error"

    def check(self, ctx):
        for file, text in ctx.source.texts.items():
            for match in find_secrets(text):
                line = text.count("\n", 0, match.start) + 1
                col = match.start - (text.rfind("\n", 0, match.start) + 1) + 1
                yield self.at(
                    file, line, col,
                    f"{'an' if match.name[0] in 'AEIOU' else 'a'} {match.name} is written in the spec (redacted here); "
                    "anyone who can read the spec can use it",
                    fix="remove it, revoke and rotate the token, and pass it through the environment (HF_TOKEN, "
                        "OPENAI_API_KEY, AWS_* variables) instead",
                )


RULE = SecretInSpec
