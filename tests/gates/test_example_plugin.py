"""The example third-party plugin (plugins/llmspec-metric-example) is found through the entry-point group.

CI installs it (pip install -e plugins/llmspec-metric-example); when it is not installed, this test builds and
installs it into a temporary directory with pip (offline: --no-build-isolation, setuptools from the venv) and
puts that directory on sys.path, so the check runs either way.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution

import pytest

from llmspec.eval.metrics import load_metrics, score

PLUGIN = "llmspec-metric-example"


@pytest.fixture
def installed_plugin(root, tmp_path, monkeypatch):
    try:
        distribution(PLUGIN)
        return "installed"
    except PackageNotFoundError:
        pass
    target = tmp_path / "site"
    source = tmp_path / PLUGIN  # build from a copy: setuptools writes build/ and *.egg-info beside the sources
    shutil.copytree(root / "plugins" / PLUGIN, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
           "--quiet", "--target", str(target), str(source)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    monkeypatch.syspath_prepend(str(target))
    return "temporary"


@pytest.mark.slow
def test_example_plugin_metrics_are_loaded_and_score(installed_plugin):
    metrics = load_metrics()
    assert {"exact_match", "answer_length"} <= set(metrics), installed_plugin
    em, length = metrics["exact_match"], metrics["answer_length"]
    assert type(em).__module__ == "llmspec_metric_example.metrics"
    assert em.higher_is_better is True and em.proportion is True and length.higher_is_better is False
    samples = [{"doc_id": i, "doc": {"i": i}, "target": "two years", "filtered_resps": [p]}
               for i, p in enumerate(["Two years.", "two years from purchase", "five days"])]
    assert score(em, samples, n_boot=50).value == pytest.approx(1 / 3)
    assert score(length, samples, n_boot=50).value == pytest.approx(8 / 3)
