from __future__ import annotations

import re

from llmspec.lint.rule import Rule, iter_strings

_HTTP = re.compile(r"\bhttp://(?!(?:localhost|127\.0\.0\.1|\[::1\]|0\.0\.0\.0)(?:[:/]|$))[^\s\"']+", re.I)


class PlainHttp(Rule):
    """A plain-http URL (not https) in the spec.

    Weights, data, tokenizers or links fetched over http can be read and replaced in transit. Local addresses
    (localhost, 127.0.0.1, [::1]) are allowed.

    Why:
    OWASP Transport Layer Security Cheat Sheet: use TLS for all connections, including internal ones, to
    protect integrity as well as confidentiality. Model files are code-equivalent for pickle formats (SEC002),
    so an on-path attacker who swaps them gets code execution.

    Bad:
    ```toml
    [model]
    name = "m"
    weights = "http://models.example.com/m.safetensors"
    ```

    Good:
    ```toml
    [model]
    name = "m"
    weights = "https://models.example.com/m.safetensors"
    ```
    """

    code = "SEC004"
    name = "plain-http-url"
    severity = "warning"

    def check(self, ctx):
        for path, value in iter_strings(ctx.source.raw):
            match = _HTTP.search(value)
            if match:
                yield self.finding(
                    ctx, path, f"plain-http URL {match.group(0)!r}: its content can be read and swapped in transit",
                    fix="use https://",
                )


RULE = PlainHttp
