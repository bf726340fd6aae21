"""results.json's run.versions names llmspec's own version (its distribution is llmspec-cli, so a lookup of the
distribution "llmspec" found nothing and every results.json said null)."""

from __future__ import annotations

from llmspec import __version__
from llmspec.eval.runner import _versions


def test_versions_name_llmspec() -> None:
    versions = _versions()
    assert versions["llmspec"] == __version__
    assert set(versions) >= {"python", "llmspec", "lm_eval", "torch", "transformers"}
