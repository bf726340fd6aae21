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


LLAMA2_7B_MODEL = """
[model]
name = "llama-2-7b"
family = "llama"

[model.architecture]
n_layers = 32
d_model = 4096
n_heads = 32
ffn_dim = 11008
vocab_size = 32000
context_length = 4096
"""
"""Llama-2-7B's [model] tables (6,738,415,616 parameters); a test's spec adds its own tables after them."""


@pytest.fixture
def write_spec(tmp_path: Path):
    """Writes a spec's text to a file in the test's directory and returns its path."""
    def write(text: str, name: str = "spec.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def load_text(write_spec):
    """A spec's text written to a file and loaded through the real loader, with overrides (``--set`` strings)."""
    from llmspec.spec.loader import load_spec

    def load(text: str, *overrides: str):
        return load_spec(write_spec(text), overrides)

    return load


# Modules of the optional extras. A test that fails only because one of them is not installed is a skip with the
# install command (the core install has none of them); with the extra installed nothing changes.
OPTIONAL_MODULES = {"numpy": "eval", "scipy": "eval", "torch": "eval", "transformers": "eval", "lm_eval": "eval",
                    "peft": "eval", "matplotlib": "report", "optuna": "sweep-optuna", "ray": "sweep-ray",
                    "lightning": "integrations-lightning", "accelerate": "eval"}


def _skip_if_extra_missing(exc: BaseException) -> None:
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return
    top = exc.name.split(".")[0]
    if top in OPTIONAL_MODULES and importlib.util.find_spec(top) is None:
        pytest.skip(f"needs {top} (pip install -e '.[{OPTIONAL_MODULES[top]}]')")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    # @pytest.mark.needs("matplotlib"): a test whose result (not only its imports) depends on an optional module;
    # @pytest.mark.eval: the eval extra. Each is a skip naming the extra when the module is missing.
    wanted = [m for mark in item.iter_markers("needs") for m in mark.args]
    if item.get_closest_marker("eval") is not None:
        wanted += ["lm_eval", "torch"]
    for module in wanted:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"needs {module} (pip install -e '.[{OPTIONAL_MODULES.get(module, 'eval')}]')")
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
