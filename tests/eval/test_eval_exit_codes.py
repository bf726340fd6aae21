"""Every exit code of `llmspec eval`, each with its one-line reason: 0 pass and 1 gate failed are in
test_eval_demo.py; 2 usage/config and 3 infrastructure are here. No traceback ever reaches the terminal."""

from __future__ import annotations

import json
import shutil

import pytest
from eval_helpers import run_llmspec

pytestmark = pytest.mark.eval

SPEC = """
[model]
name = "t"
weights = "{weights}"
[model.architecture]
n_layers = 4
d_model = 128
n_heads = 4
ffn_dim = 512
activation = "gelu_new"
vocab_size = 2048
context_length = 256
tie_embeddings = true
norm = "layernorm"
position = "learned"
[inference]
precision = "fp32"
[eval]
suites = [{suites}]
{extra}
"""


def write_spec(tmp_path, weights="llmspec:tiny-base", suites='"smoke"', extra="", name="spec.toml"):
    path = tmp_path / name
    path.write_text(SPEC.format(weights=weights, suites=suites, extra=extra))
    return path


def one_line(run) -> str:
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert "Traceback" not in run.stderr, run.stderr
    return lines[-1]


def test_missing_spec_file_is_2(tmp_path):
    run = run_llmspec("eval", str(tmp_path / "nope.toml"), out=tmp_path / "o")
    assert run.code == 2
    assert "nope.toml" in one_line(run)


def test_unknown_suite_is_2(tmp_path):
    spec = write_spec(tmp_path)
    run = run_llmspec("eval", str(spec), "--suite", "no-such-suite", out=tmp_path / "o")
    assert run.code == 2
    assert one_line(run).startswith("llmspec eval: suite 'no-such-suite' not found")


def test_gate_on_a_task_no_suite_runs_is_2(tmp_path):
    spec = write_spec(tmp_path, extra='[[eval.gates]]\nmetric = "hellaswag/acc"\nmin = 0.5\n')
    run = run_llmspec("eval", str(spec), out=tmp_path / "o")
    assert run.code == 2
    line = one_line(run)
    assert f"{spec}:" in line and "gate 'hellaswag/acc' names task 'hellaswag'" in line


def test_bad_baseline_is_2(tmp_path):
    spec = write_spec(tmp_path, extra='[[eval.gates]]\nmetric = "kb_mc/acc"\nmax_drop = 0.05\n')
    bad = tmp_path / "base.json"
    bad.write_text("{not json")
    run = run_llmspec("eval", str(spec), "--baseline", str(bad), out=tmp_path / "o")
    assert run.code == 2
    assert "baseline is not valid JSON" in one_line(run)


def test_pickle_weights_are_refused_unless_allowed(tmp_path, tiny_models):
    model = tmp_path / "pickled"
    shutil.copytree(tiny_models["tiny-base"], model)
    (model / "model.safetensors").unlink()
    import torch
    from safetensors.torch import load_file

    torch.save(load_file(tiny_models["tiny-base"] / "model.safetensors"), model / "pytorch_model.bin")
    spec = write_spec(tmp_path, weights=str(model))
    run = run_llmspec("eval", str(spec), out=tmp_path / "o")
    assert run.code == 2
    assert "pickle-format weights (pytorch_model.bin)" in one_line(run) and "--allow-pickle" in one_line(run)


def test_missing_model_is_3(tmp_path):
    spec = write_spec(tmp_path, weights="./no/such/checkpoint")
    run = run_llmspec("eval", str(spec), out=tmp_path / "o")
    assert run.code == 3
    assert one_line(run).startswith("llmspec eval: model not found:")


def test_unloadable_model_is_3(tmp_path, tiny_models):
    empty = tmp_path / "empty-model"
    empty.mkdir()
    (empty / "model.safetensors").write_bytes(b"")
    spec = write_spec(tmp_path, weights=str(empty))
    run = run_llmspec("eval", str(spec), out=tmp_path / "o")
    assert run.code == 3
    assert one_line(run).startswith(f"llmspec eval: cannot load model {empty}")


def test_timeout_keeps_partial_results_and_is_3(tmp_path, tiny_models):
    spec = write_spec(tmp_path, extra='[[eval.gates]]\nmetric = "kb_mc/acc"\nmin = 0.1\n')
    out = tmp_path / "o"
    run = run_llmspec("eval", str(spec), "-q", "--timeout", "0.000001", out=out)
    assert run.code == 3, run.stderr
    assert run.stdout.startswith("llmspec eval: INCOMPLETE: timed out after 1e-06 s (0 of 4 tasks finished")
    res = json.loads((out / "results.json").read_text())
    assert res["run"]["incomplete"].startswith("timed out")
    assert res["gates"][0]["status"] == "error"  # no result for the gate: judged, reported, not silently passed
    assert (out / "junit.xml").is_file() and (out / "summary.md").read_text().count("Incomplete run") == 1


@pytest.mark.slow
def test_task_needing_a_download_offline_is_3_and_names_the_task(tmp_path, tiny_models):
    suite = tmp_path / "online.toml"
    suite.write_text('name = "online"\n[[tasks]]\ntask = "arc_easy"\n')
    spec = write_spec(tmp_path, suites=f'"{suite}"')
    run = run_llmspec("eval", str(spec), "-q", "--limit", "2", out=tmp_path / "o")
    assert run.code == 3, run.stdout + run.stderr
    line = run.stdout.strip().splitlines()[-1]
    assert "task 'arc_easy' needs to download its dataset" in line and "'smoke'" in line


def test_baseline_without_a_baseline_gate_is_a_usage_error(tmp_path):
    """Old code: --baseline with no max_drop gate was ignored without a word (exit 0 after a full run)."""
    spec = write_spec(tmp_path, extra='[[eval.gates]]\nmetric = "kb_mc/acc"\nmin = 0.1\n')
    base = tmp_path / "base.json"
    base.write_text('{"tasks": {}}')
    run = run_llmspec("eval", str(spec), "--baseline", str(base), out=tmp_path / "o")
    assert run.code == 2
    assert "no [[eval.gates]] sets max_drop" in one_line(run)
    assert not (tmp_path / "o" / "results.json").exists()  # refused before any model loads
