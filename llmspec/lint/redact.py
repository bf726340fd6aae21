"""Secret patterns, and redaction applied to every text llmspec prints about a spec.

The patterns are data (:data:`PATTERNS`): name, regular expression, and where the format is documented.
Redaction keeps only the public prefix of the format ("hf_[REDACTED]") so a reader can tell which kind of
token it was, and nothing of the secret part.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple


class Pattern(NamedTuple):
    name: str
    regex: re.Pattern[str]
    keep: int
    source: str


PATTERNS: tuple[Pattern, ...] = (
    Pattern("Hugging Face token", re.compile(r"\bhf_[A-Za-z0-9]{30,}"), 3,
            "huggingface.co/docs/hub/security-tokens (user access tokens start with hf_)"),
    Pattern("OpenAI API key", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"), 3,
            "platform.openai.com/docs/api-reference/authentication (secret keys start with sk-)"),
    Pattern("AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), 4,
            "docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html (AKIA long-term, ASIA temporary)"),
    Pattern("GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})"), 4,
            "docs.github.com/en/authentication/keeping-your-account-and-data-secure/about-authentication-to-github"),
)

_ANY = re.compile("|".join(f"(?:{p.regex.pattern})" for p in PATTERNS))


class Match(NamedTuple):
    name: str
    start: int
    end: int


def find_secrets(text: str) -> Iterator[Match]:
    """Every secret-looking token in ``text``."""
    if not _ANY.search(text):  # one pass for the common case: no secret at all
        return
    for pattern in PATTERNS:
        for m in pattern.regex.finditer(text):
            yield Match(pattern.name, m.start(), m.end())


def _mask(token: str) -> str:
    for pattern in PATTERNS:
        if pattern.regex.fullmatch(token):
            return token[: pattern.keep] + "[REDACTED]"
    return "[REDACTED]"


def redact(text: str) -> str:
    """``text`` with every secret-looking token replaced by its prefix and "[REDACTED]"."""
    if not text:
        return text
    return _ANY.sub(lambda m: _mask(m.group(0)), text)
