"""Test-wide settings: no network, one torch thread, a shared cache for the tiny models."""

from __future__ import annotations

import importlib.util
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


# Modules of the optional extras. A test that fails only because one of them is not installed is a skip with the
# install command (the core install has none of them); with the extra installed nothing changes.
OPTIONAL_MODULES = {"numpy": "eval", "scipy": "eval", "torch": "eval", "transformers": "eval", "lm_eval": "eval",
                    "peft": "eval", "matplotlib": "report", "optuna": "sweep-optuna", "ray": "sweep-ray",
                    "lightning": "integrations-lightning"}


def _skip_if_extra_missing(exc: BaseException) -> None:
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return
    top = exc.name.split(".")[0]
    if top in OPTIONAL_MODULES and importlib.util.find_spec(top) is None:
        pytest.skip(f"needs {top} (pip install -e '.[{OPTIONAL_MODULES[top]}]')")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    try:
        return (yield)
    except ModuleNotFoundError as exc:
        _skip_if_extra_missing(exc)
        raise


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    try:
        return (yield)
    except ModuleNotFoundError as exc:
        _skip_if_extra_missing(exc)
        raise


class _ModuleNeedingExtras(pytest.Module):
    """A test module that imports an optional extra at module level is one skip naming the extra, not an error."""

    def collect(self):
        try:
            return super().collect()
        except self.CollectError as exc:
            if exc.__cause__ is not None:
                _skip_if_extra_missing(exc.__cause__)
            raise


def pytest_pycollect_makemodule(module_path: Path, parent):
    if module_path.name == "__init__.py":
        return None
    return _ModuleNeedingExtras.from_parent(parent, path=module_path)


def pytest_collection_modifyitems(config, items):
    """tests/eval/ runs `llmspec eval` and lm-eval: without the eval extra its tests are skips naming the extra."""
    missing = [m for m in ("numpy", "torch", "transformers", "lm_eval") if importlib.util.find_spec(m) is None]
    if not missing:
        return
    skip = pytest.mark.skip(reason=f"needs the eval extra ({', '.join(missing)} missing: pip install -e '.[eval]')")
    for item in items:
        if (ROOT / "tests" / "eval") in Path(str(item.path)).parents:
            item.add_marker(skip)
