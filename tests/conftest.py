"""Test-wide settings: no network, one torch thread, a shared cache for the tiny models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# No hub access exists here; every test runs offline (set before anything imports huggingface_hub).
for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
    os.environ[_var] = "1"
os.environ.setdefault("OMP_NUM_THREADS", "1")  # tiny models: one thread is 10-50x faster on 2 busy cores
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("LLMSPEC_CACHE", str(ROOT / ".llmspec-cache"))
os.environ.setdefault("HF_HOME", str(ROOT / ".llmspec-cache" / "hf"))
os.environ.pop("GITHUB_STEP_SUMMARY", None)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return ROOT / "examples"
