"""Every perplexity and accuracy variant llmspec reports equals lm-eval's own figure, computed by the `lm_eval`
CLI run separately on the same model and the same task YAMLs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from eval_helpers import ROOT

pytestmark = [pytest.mark.eval, pytest.mark.slow]

VARIANTS = {
    "kb_perplexity": ["word_perplexity", "byte_perplexity", "bits_per_byte"],
    "kb_mc": ["acc", "acc_norm"],
    "kb_tickets": ["acc"],
}


def test_llmspec_metrics_equal_lm_eval_cli(demo_runs, tiny_models, tmp_path):
    import tomllib

    out = tmp_path / "lm-eval"
    batch = tomllib.loads((ROOT / "examples" / "tiny-finetuned.toml").read_text())["eval"]["batch_size"]
    cmd = [sys.executable, "-m", "lm_eval", "run", "--model", "hf",
           "--model_args", f"pretrained={tiny_models['tiny-finetuned']},dtype=float32",
           "--device", "cpu", "--batch_size", str(batch), "--tasks", ",".join(VARIANTS),
           "--include_path", str(ROOT / "suites" / "smoke"), "--output_path", str(out)]
    # the spec's batch size and llmspec's one torch thread (for its built-in models), so both runs compute alike
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = list(out.rglob("results_*.json"))
    assert len(files) == 1, files
    theirs = json.loads(files[0].read_text())["results"]
    ours = demo_runs["tiny-finetuned"].results["tasks"]
    checked = 0
    for task, metrics in VARIANTS.items():
        for metric in metrics:
            expected = theirs[task][f"{metric},none"]
            # the plugin's value, recomputed from per-sample records
            assert ours[task]["metrics"][metric]["value"] == pytest.approx(expected, rel=1e-12, abs=0), (task, metric)
            # and lm-eval's own figure from the same run, recorded verbatim
            assert ours[task]["lm_eval"][f"{metric},none"] == pytest.approx(expected, rel=1e-12, abs=0)
            checked += 1
    assert checked == 6
    # macro-F1: the task YAML aggregates lm-eval's (gold, pred) pairs with sklearn's macro average
    assert ours["kb_tickets"]["metrics"]["macro_f1"]["value"] == pytest.approx(theirs["kb_tickets"]["f1,none"],
                                                                               rel=1e-12)
