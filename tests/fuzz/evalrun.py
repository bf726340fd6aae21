"""The eval family of the fuzz harness: real `llmspec eval` runs of the tiny demo model (issue 11, finding 4, 5, 7
and 10's eval.seed), in this process, on crafted inputs.

Each example combines a checkpoint (the built demo model, the same with a truncated model.safetensors, or a copy
of it whose weights are a pickle that writes a canary file when unpickled, reached by file name, a decoy
safetensors in a subfolder, shards named ``optimizer-*.bin``, an index naming ``weights.data``, or config.json's
``transformers_weights``), a suite (the project's smoke suite, or a user suite whose ``!function`` module, Jinja
template or metric name would run code and write the canary), a response cache (as left by earlier examples, or
truncated), an ``eval.seed`` and an ``--output``. The cache is a private copy of the built demo model, kept
across examples (so a cache left corrupt by one run meets the next), in a folder of its own.

Invariants, on top of harness.violations (exit code 0/1/2/3, no "internal error" or traceback, no hang; one
seed instead sends the run SIGTERM mid-run, in a subprocess, so a signal that kills it shows as exit -15):
- the canary never appears: no pickle is unpickled and no suite code runs without consent;
- a refused run (exit 2) says why in one line (stderr holds one line that is not a warning);
- a run that reaches a verdict writes results.json (strict JSON), junit.xml (parses) and summary.md; a run cut
  short (exit 3 after it started) writes all three too, and results.json says it is incomplete;
- the demo model with the project's suite and a spec that `check` accepts reaches a verdict (exit 0 or 1):
  nothing that check lets through, and no damaged file in llmspec's own cache, makes the run fail.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from harness import Example, _strict_json, fuzz_settings, run, violations
from hypothesis import strategies as st

CHECKPOINTS = ["built", "built-truncated", "pickle-bin", "decoy-subfolder", "optimizer-shards", "index-data",
               "config-weights"]
SUITES = ["smoke", "function", "template", "unknown-metric"]
SEEDS = [None, 0, 1234, 2**32 - 1, 2**32, 2**63, 2**64]
OUTPUTS = ["o", "o", "afile", "afile/x", ""]
HANG = int(os.environ.get("LLMSPEC_FUZZ_EVAL_HANG", "600"))  # one eval of the tiny model takes seconds

SPEC = """[model]
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
{seed}
"""

TASK = """task: fuzz_t
dataset_path: json
dataset_kwargs:
  data_files: {data}
test_split: train
output_type: loglikelihood
doc_to_text: "{template}"
doc_to_target: answer
metric_list:
  - metric: {metric}
"""


@dataclass(frozen=True)
class EvalCase:
    checkpoint: str = "built"
    suite: str = "smoke"
    truncate_cache: bool = False
    seed: int | None = None
    output: str = "o"
    sigterm: bool = False
    """Run in a subprocess and send it SIGTERM once lm-eval has opened its response cache (mid-run)."""


CASES = st.builds(EvalCase, st.sampled_from(CHECKPOINTS), st.sampled_from(SUITES), st.booleans(),
                  st.sampled_from(SEEDS), st.sampled_from(OUTPUTS))
# the inputs, one at a time on the intact run (which comes first and fills the response cache)
EVAL_SEEDS = [EvalCase()] + [EvalCase(checkpoint=c) for c in CHECKPOINTS[1:]] + [
    EvalCase(suite=s) for s in SUITES[1:]] + [EvalCase(truncate_cache=True), EvalCase(seed=2**64),
                                              EvalCase(output="afile"), EvalCase(output="afile/x"),
                                              EvalCase(sigterm=True)]


class _Payload:
    """Unpickling this writes ``canary``."""

    def __init__(self, canary: Path):
        self.canary = str(canary)

    def __reduce__(self):
        return (exec, (f"open({self.canary!r}, 'w').write('pickle ran')",))


def _built_model() -> Path:
    from llmspec.eval import tinymodel

    return tinymodel.resolve("llmspec:tiny-base")


def _checkpoint(kind: str, cwd: Path, model: Path, canary: Path) -> str:
    if kind in ("built", "built-truncated"):
        return "llmspec:tiny-base"
    ckpt = cwd / "ckpt"
    shutil.copytree(model, ckpt)
    payload = pickle.dumps(_Payload(canary))
    if kind != "config-weights":
        (ckpt / "model.safetensors").unlink()
    if kind == "pickle-bin":
        (ckpt / "pytorch_model.bin").write_bytes(payload)
    elif kind == "decoy-subfolder":
        (ckpt / "decoy").mkdir()
        shutil.copy(model / "model.safetensors", ckpt / "decoy" / "model.safetensors")
        (ckpt / "pytorch_model.bin").write_bytes(payload)
    elif kind == "optimizer-shards":
        (ckpt / "optimizer-00001-of-00001.bin").write_bytes(payload)
        (ckpt / "pytorch_model.bin.index.json").write_text(json.dumps(
            {"metadata": {}, "weight_map": {"transformer.wte.weight": "optimizer-00001-of-00001.bin"}}))
    elif kind == "index-data":
        (ckpt / "weights.data").write_bytes(payload)
        (ckpt / "model.safetensors.index.json").write_text(json.dumps(
            {"metadata": {}, "weight_map": {"transformer.wte.weight": "weights.data"}}))
    elif kind == "config-weights":
        (ckpt / "adapter_model.bin").write_bytes(payload)
        config = json.loads((ckpt / "config.json").read_text())
        config["transformers_weights"] = "adapter_model.bin"
        (ckpt / "config.json").write_text(json.dumps(config))
    return str(ckpt)


def _suite(kind: str, cwd: Path, canary: Path) -> str:
    if kind == "smoke":
        return '"smoke"'
    d = cwd / "mine"
    d.mkdir()
    (d / "data.jsonl").write_text(json.dumps({"question": "2+2", "answer": " 4"}) + "\n")
    template, metric, extra = "Q: {{question}}", "acc", ""
    if kind == "function":
        (d / "fuzz_utils.py").write_text(f"open({str(canary)!r}, 'w').write('suite code ran')\n"
                                         "def process(dataset):\n    return dataset\n")
        extra = "process_docs: !function fuzz_utils.process\n"
    elif kind == "template":
        template = "{{ cycler.__init__.__globals__.os.makedirs('" + str(canary) + "') }}{{question}}"
    elif kind == "unknown-metric":
        metric = "llmspec_fuzz_no_such_metric"
    (d / "t.yaml").write_text(TASK.format(data=d / "data.jsonl", template=template, metric=metric) + extra)
    (cwd / "mine.toml").write_text('name = "mine"\n[[tasks]]\ntask = "fuzz_t"\npath = "mine/t.yaml"\n')
    return f'"{cwd / "mine.toml"}"'


def _stderr_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not line.startswith("warning:")]


def eval_problems(case: EvalCase, ex: Example, res, cwd: Path, canary: Path) -> list[str]:
    out = violations(ex, res, cwd)
    if canary.exists():
        what = "a template ran Python" if canary.is_dir() else canary.read_text()
        out.append(f"eval: {what} without consent ({case.checkpoint}, {case.suite})")
    if out:
        return out
    if res.code == 2 and len(_stderr_lines(res.err)) != 1:
        out.append("eval: a refusal (exit 2) without exactly one line saying why")
    target = cwd / case.output
    if res.code == 3 and (target / "results.json").is_file():  # a run that started and was cut short
        missing = [n for n in ("junit.xml", "summary.md") if not (target / n).is_file()]
        if missing or not _strict_json((target / "results.json").read_text())["run"].get("incomplete"):
            out.append("eval: an interrupted run left reports missing or unmarked")
    if res.code in (0, 1):
        try:
            results = _strict_json((target / "results.json").read_text())
            ET.parse(target / "junit.xml")
            (target / "summary.md").read_text()
            if results["run"].get("incomplete"):
                out.append("eval: an incomplete run exits 0/1")
        except (OSError, ValueError, ET.ParseError, KeyError) as exc:
            out.append(f"eval: a run with a verdict left a report missing or unparseable ({type(exc).__name__})")
    intact = case.checkpoint in ("built", "built-truncated") and case.suite == "smoke" and case.output == "o" \
        and not case.sigterm
    if intact and res.code not in (0, 1) and run(["check", "spec.toml"], cwd).code == 0:
        out.append(f"eval: the demo model and suite, with a spec check accepts, end in exit {res.code}")
    return out


def _terminated(args: list[str], cwd: Path, root: Path):
    """``llmspec ARGS`` in a subprocess (a signal must not reach this process), sent SIGTERM when lm-eval creates
    its response cache in a cache of its own (the model has loaded and the first task runs): an event, not a
    time. A run that finishes first is fine too: the invariants hold for every ending."""
    import signal
    import subprocess
    import sys
    import time

    from harness import Outcome

    cache = root / "cache-sigterm"
    shutil.rmtree(cache, ignore_errors=True)
    shutil.copytree(Path(os.environ["LLMSPEC_CACHE"]) / "models", cache / "models")
    env = {**os.environ, "LLMSPEC_CACHE": str(cache)}
    proc = subprocess.Popen([sys.executable, "-m", "llmspec", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        while proc.poll() is None and not any((cache / "lm-eval").rglob("*.db")):
            time.sleep(0.05)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=HANG)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return Outcome(-1, out, err, hung=True)
    return Outcome(proc.returncode, out, err)


def fuzz_eval(n: int, report) -> None:
    """Run the seeds and ``n`` generated eval cases; ``report(problems, case, outcome)`` gets each one's broken
    invariants."""
    import harness
    from hypothesis import example, given

    root = Path(tempfile.mkdtemp(prefix="llmspec-fuzz-eval-"))
    shared = _built_model()
    cache = root / "cache"
    (cache / "models").mkdir(parents=True)
    model = cache / "models" / shared.name
    shutil.copytree(shared, model)
    pristine = (model / "model.safetensors").read_bytes()
    import lm_eval.evaluator  # noqa: F401  (imported once, before any alarm: an import is not a hang)
    import transformers  # noqa: F401

    def prop(case: EvalCase):
        cwd = root / "w"
        shutil.rmtree(cwd, ignore_errors=True)
        cwd.mkdir()
        (cwd / "afile").write_text("")
        canary = root / "canary"
        shutil.rmtree(canary, ignore_errors=True) if canary.is_dir() else canary.unlink(missing_ok=True)
        (model / "model.safetensors").write_bytes(pristine[: len(pristine) // 3] if case.checkpoint ==
                                                  "built-truncated" else pristine)
        if case.truncate_cache:
            for db in (cache / "lm-eval").rglob("*.db") if (cache / "lm-eval").is_dir() else []:
                db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
        seed = "" if case.seed is None else f"seed = {case.seed}"
        (cwd / "spec.toml").write_text(SPEC.format(weights=_checkpoint(case.checkpoint, cwd, shared, canary),
                                                   suites=_suite(case.suite, cwd, canary), seed=seed))
        args = ["eval", "-q", "--limit", "1", "--output", case.output, "spec.toml"]
        old_cache, old_hang = os.environ.get("LLMSPEC_CACHE"), harness.HANG_SECONDS
        os.environ["LLMSPEC_CACHE"], harness.HANG_SECONDS = str(cache), HANG
        try:
            res = _terminated(args, cwd, root) if case.sigterm else run(args, cwd)
        finally:
            harness.HANG_SECONDS = old_hang
            if old_cache is None:
                os.environ.pop("LLMSPEC_CACHE", None)
            else:
                os.environ["LLMSPEC_CACHE"] = old_cache
        ex = Example("eval", args, output=case.output)
        report(eval_problems(case, ex, res, cwd, canary), case, res)

    for case in reversed(EVAL_SEEDS):
        prop = example(case)(prop)
    fuzz_settings(n)(given(CASES)(prop))()
    shutil.rmtree(root, ignore_errors=True)
