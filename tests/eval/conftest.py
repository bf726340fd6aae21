"""Fixtures for the eval tests: the two tiny models (built once per cache, shared across sessions through
$LLMSPEC_CACHE; the root conftest points it at .llmspec-cache) and one run of each demo spec."""

from __future__ import annotations

from pathlib import Path

import pytest
from eval_helpers import ROOT, CliRun, run_llmspec  # noqa: F401


@pytest.fixture(scope="session")
def tiny_models() -> dict[str, Path]:
    pytest.importorskip("torch")
    pytest.importorskip("lm_eval")
    from llmspec.eval import tinymodel

    return {name: tinymodel.resolve(f"llmspec:{name}") for name in ("tiny-base", "tiny-finetuned")}


@pytest.fixture(scope="session")
def demo_runs(tiny_models, tmp_path_factory) -> dict[str, CliRun]:
    """`llmspec eval examples/tiny-*.toml`, once each per session (the fine-tuned run as in a GitHub Actions
    step: $GITHUB_STEP_SUMMARY names a file that already holds an earlier step's summary)."""
    runs = {}
    for name in ("tiny-base", "tiny-finetuned"):
        out = tmp_path_factory.mktemp(f"demo-{name}")
        env = {}
        if name == "tiny-finetuned":
            step = out.parent / f"{out.name}-step-summary.md"
            step.write_text("previous step\n")
            env["GITHUB_STEP_SUMMARY"] = str(step)
        runs[name] = run_llmspec("eval", f"examples/{name}.toml", *(() if name == "tiny-base" else ("-q",)),
                                 out=out, env=env)
        runs[name].step_summary = env.get("GITHUB_STEP_SUMMARY")
    return runs
