"""Eval integrity (issue 11, finding 7): SIGTERM ends a run like Ctrl-C, --output is checked before the model
loads, and a corrupt response cache or built model is rebuilt (or named) instead of breaking every later run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from eval_helpers import ROOT, run_llmspec
from test_eval_exit_codes import one_line, write_spec

pytestmark = pytest.mark.eval


@pytest.mark.parametrize("kind", ["file", "under-a-file", "empty", "unwritable"])
def test_bad_output_is_one_line_exit_2_before_the_model(tmp_path, kind):
    (tmp_path / "afile").write_text("x")
    output = {"file": str(tmp_path / "afile"), "under-a-file": str(tmp_path / "afile" / "sub" / "dir"),
              "empty": "", "unwritable": "/proc/llmspec-results"}[kind]
    # the model does not exist: had the model been looked at first, this would be "model not found" (exit 3)
    spec = write_spec(tmp_path, weights="./no/such/checkpoint")
    run = run_llmspec("eval", str(spec), "-q", "--output", output)
    line = one_line(run)
    assert run.code == 2, run.stdout + run.stderr
    assert "model not found" not in run.stderr
    if kind == "empty":  # refused by the option's own type (cli/_options.PathParam), as a click usage error
        assert "Invalid value for '--output': the path is empty" in line
        return
    assert line.startswith("llmspec eval: --output")
    assert {"file": "is a file", "under-a-file": "is a file", "unwritable": "--output /proc/llmspec-results"}[kind] in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to a folder without write permission")
def test_output_in_a_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    spec = write_spec(tmp_path, weights="./no/such/checkpoint")
    run = run_llmspec("eval", str(spec), "-q", "--output", str(ro / "out"))
    assert run.code == 2 and "is not writable" in one_line(run)


def _private_cache(tmp_path, tiny_models, name="tiny-base"):
    """A cache folder of our own holding a copy of a built tiny model (the shared cache stays untouched)."""
    cache = tmp_path / "cache"
    src = tiny_models[name]
    shutil.copytree(src, cache / "models" / src.name)
    return cache, cache / "models" / src.name


def test_truncated_response_cache_is_deleted_and_rebuilt(tmp_path, tiny_models):
    cache, _ = _private_cache(tmp_path, tiny_models)
    env = {"LLMSPEC_CACHE": str(cache)}
    spec = write_spec(tmp_path)
    first = run_llmspec("eval", str(spec), "-q", "--limit", "2", out=tmp_path / "o1", env=env)
    assert first.code in (0, 1), first.stdout + first.stderr
    dbs = sorted((cache / "lm-eval").rglob("*_rank0.db"))
    assert dbs, "lm-eval wrote its response cache"
    db = dbs[0]
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    second = run_llmspec("eval", str(spec), "-q", "--limit", "2", out=tmp_path / "o2", env=env)
    assert "Traceback" not in second.stdout + second.stderr
    assert f"warning: {db}: the response cache was corrupt" in second.stderr
    assert second.code == first.code and second.stdout == first.stdout
    assert json.loads((tmp_path / "o2" / "results.json").read_text())["run"].get("incomplete") is None


def test_truncated_built_model_is_rebuilt(tmp_path, tiny_models):
    cache, model = _private_cache(tmp_path, tiny_models)
    original = (model / "model.safetensors").read_bytes()
    (model / "model.safetensors").write_bytes(original[: len(original) // 3])
    spec = write_spec(tmp_path)
    run = run_llmspec("eval", str(spec), "-q", "--limit", "1", out=tmp_path / "o", env={"LLMSPEC_CACHE": str(cache)})
    assert run.code in (0, 1), run.stdout + run.stderr
    assert f"warning: {model} is corrupt" in run.stderr and "rebuilding it" in run.stderr
    assert (model / "model.safetensors").read_bytes() == original  # the build is deterministic


def test_truncated_user_checkpoint_is_named(tmp_path, tiny_models):
    model = tmp_path / "ckpt"
    shutil.copytree(tiny_models["tiny-base"], model)
    data = (model / "model.safetensors").read_bytes()
    (model / "model.safetensors").write_bytes(data[: len(data) // 2])
    spec = write_spec(tmp_path, weights=str(model))
    run = run_llmspec("eval", str(spec), "-q", out=tmp_path / "o")
    assert run.code == 3
    assert one_line(run).startswith(f"llmspec eval: cannot load model {model}: model.safetensors is not a complete "
                                    f"safetensors file")


BLOCKING_TASK = """task: blocking
custom_dataset: !function blocker.load
test_split: test
output_type: loglikelihood
doc_to_text: "{{q}}"
doc_to_target: " a"
metric_list:
  - metric: acc
"""

BLOCKER = """import pathlib, time


def load(**kwargs):
    pathlib.Path({ready!r}).write_text("ready")
    time.sleep(600)  # until the test sends SIGTERM
"""


def test_sigterm_keeps_partial_results_and_writes_every_report(tmp_path, tiny_models):
    ready = tmp_path / "ready"
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "blocking.yaml").write_text(BLOCKING_TASK)
    (tasks / "blocker.py").write_text(BLOCKER.format(ready=str(ready)))
    suite = tmp_path / "suite.toml"
    suite.write_text(f'name = "two"\n[[tasks]]\ntask = "kb_mc"\npath = "{ROOT}/suites/smoke/kb_mc.yaml"\n'
                     f'[[tasks]]\ntask = "blocking"\npath = "tasks/blocking.yaml"\n')
    spec = write_spec(tmp_path, suites=f'"{suite}"',
                      extra='trust_suite_code = true\n[[eval.gates]]\nmetric = "blocking/acc"\nmin = 0.5\n')
    out = tmp_path / "o"
    proc = subprocess.Popen([sys.executable, "-m", "llmspec", "eval", str(spec), "-q", "--limit", "2",
                             "--trust-suite-code", "--output", str(out)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(6000):  # wait for the second task to start (the first has finished by then)
            if ready.exists() or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert ready.exists(), proc.communicate()
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, stdout + stderr
    assert "Traceback" not in stdout + stderr
    assert stdout.startswith("llmspec eval: INCOMPLETE: interrupted (1 of 2 tasks finished")
    results = json.loads((out / "results.json").read_text())
    assert results["run"]["incomplete"].startswith("interrupted")
    assert list(results["tasks"]) == ["kb_mc"]
    assert results["gates"][0]["status"] == "error"  # judged on what finished, never passed
    assert (out / "junit.xml").is_file()
    assert "Incomplete run" in (out / "summary.md").read_text()
