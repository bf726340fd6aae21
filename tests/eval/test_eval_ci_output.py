"""CI friction: -q is quiet on a terminal, relative paths in a user's suite resolve from the suite, and the model
cache does not depend on the working directory."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from eval_helpers import ROOT, run_llmspec

from llmspec.eval import tinymodel

pytestmark = pytest.mark.eval


def test_cache_root_is_per_user_and_overridable(monkeypatch, tmp_path):
    """Old code: `.llmspec-cache` in the working directory, so a run from another folder rebuilt the models."""
    monkeypatch.delenv("LLMSPEC_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert tinymodel.cache_root() == tmp_path / "home" / ".cache" / "llmspec"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert tinymodel.cache_root() == tmp_path / "xdg" / "llmspec"
    monkeypatch.setenv("LLMSPEC_CACHE", str(tmp_path / "mine"))
    assert tinymodel.cache_root() == tmp_path / "mine"


def _on_a_terminal(*args: str) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal (where tqdm draws its bars): (exit code, stderr, stdout)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "llmspec", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=follower, stdin=subprocess.DEVNULL)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    out, _ = proc.communicate(timeout=600)
    os.close(leader)
    return proc.returncode, b"".join(chunks).decode(errors="replace"), out.decode()


def test_quiet_prints_no_progress_bars_on_a_terminal(tiny_models, tmp_path):
    """Old code: with stderr on a terminal, -q still let lm-eval's tqdm bars through (on this machine, at
    --limit 2, what they leave behind is nine bare line breaks); -q now writes nothing at all to stderr."""
    code, err, out = _on_a_terminal("eval", "examples/tiny-finetuned.toml", "--limit", "2", "-q",
                                    "--output", str(tmp_path / "quiet"))
    assert code in (0, 1), err + out
    assert err == "", repr(err[-2000:])
    assert out.startswith("llmspec eval: ") and len(out.strip().splitlines()) == 1


SUITE = """
name = "mine"
[[tasks]]
task = "my_mc"
path = "tasks/my_mc.yaml"
metrics = ["acc"]
"""
TASK = """
task: my_mc
dataset_path: json
dataset_kwargs:
  data_files:
    test: ../data/my_mc.jsonl
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{question}}\\nAnswer:"
doc_to_choice: "{{choices}}"
doc_to_target: gold
metadata:
  version: 1.0
"""


def test_relative_data_files_resolve_from_the_task_yaml(tiny_models, tmp_path):
    """Old code: a relative data_files path failed with exit 3 and no hint unless run from the YAML's folder."""
    proj = tmp_path / "proj"
    (proj / "tasks").mkdir(parents=True)
    (proj / "data").mkdir()
    (proj / "mine.toml").write_text(SUITE)
    (proj / "tasks" / "my_mc.yaml").write_text(TASK)
    rows = [{"question": f"Which number is {i}?", "choices": [str(i), str(i + 1)], "gold": 0} for i in range(6)]
    (proj / "data" / "my_mc.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = (ROOT / "examples" / "tiny-finetuned.toml").read_text()
    spec = spec.split("[eval]")[0] + '[eval]\nsuites = ["mine.toml"]\n[[eval.gates]]\nmetric = "my_mc/acc"\nmin = 0.0\n'
    (proj / "spec.toml").write_text(spec)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = run_llmspec("eval", str(proj / "spec.toml"), "-q", out=tmp_path / "o", cwd=elsewhere)
    assert run.code == 0, run.stdout + run.stderr
    assert run.results["tasks"]["my_mc"]["metrics"]["acc"]["n"] == 6
    assert Path.cwd() != proj / "tasks"
