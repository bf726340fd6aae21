"""EVL005 runs on a core install (no numpy, no eval extra): the built-in metric table it needs
(llmspec/eval/metricnames.py) imports nothing from the scientific stack. The lint runs in a subprocess in which
numpy cannot be imported (``sys.modules["numpy"] = None``), as on a core install."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NO_NUMPY = ("import sys; sys.modules['numpy'] = None; sys.argv = ['llmspec', *sys.argv[1:]]; "
            "from llmspec.cli import main; main()")

SPEC = """[model]
name = "t"
family = "gpt2"
[model.architecture]
n_layers = 4
d_model = 128
n_heads = 4
ffn_dim = 512
vocab_size = 2048
context_length = 256
[eval]
suites = ["smoke"]
[[eval.gates]]
metric = "kb_mc/{metric}"
min = 0.5
"""


def _lint_without_numpy(tmp_path: Path, metric: str) -> list[dict]:
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.format(metric=metric))
    p = subprocess.run([sys.executable, "-c", NO_NUMPY, "lint", "-f", "json", "--select", "EVL005", str(spec)],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert "internal error" not in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert p.returncode in (0, 1), p.stderr
    return json.loads(p.stdout)


def test_evl005_finds_an_unknown_metric_without_numpy(tmp_path):
    found = _lint_without_numpy(tmp_path, "accuracy")
    assert [f["code"] for f in found] == ["EVL005"]
    assert "kb_mc/accuracy" in found[0]["message"]


def test_evl005_knows_the_builtin_metrics_without_numpy(tmp_path):
    assert _lint_without_numpy(tmp_path, "acc") == []  # acc: a built-in the smoke suite lists


def test_the_metric_table_imports_no_numpy():
    code = ("import sys; sys.modules['numpy'] = None; from llmspec.eval.metricnames import direction, "
            "default_metrics; print(direction('acc'), direction('word_perplexity'), default_metrics('generate_until'))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.stdout.split() == ["True", "False", "['f1']"], p.stderr
