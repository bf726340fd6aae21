"""The fast path gives the same verdicts as full `check` + `lint` of the same points written out as spec files.

Sampled points of a space built to produce every verdict: invalid values (a value no key refuses alone:
an unknown accelerator), training that does not fit (MEM001), serving that does not fit (MEM003), and runs over
their GPU-hour, cost and wall-clock budgets (BUD001-BUD003), and a knob its stack cannot run with (MEM004, an
error-level rule the fast path runs on the points that pass memory and budget).
"""

from __future__ import annotations

from collections import Counter

import pytest
from click.testing import CliRunner
from sweep_helpers import EXAMPLE

from llmspec.cli import cli
from llmspec.lint import Options, lint_paths
from llmspec.spec.loader import load_spec
from llmspec.sweep.fast import FAST_CODES, FastPath, with_overrides
from llmspec.sweep.space import points
from llmspec.sweep.toml_out import dumps

EXTRA = '''
[sweep.parameters."training.lora.dropout"]
values = [0.0, 0.1, 0.5]

[sweep.parameters."hardware.accelerator"]
values = ["A100-80GB", "L4", "H100-SXM", "NO-SUCH-GPU"]

[sweep.parameters."training.epochs"]
distribution = "uniform"
low = 0.5
high = 4.0

[sweep.parameters."inference.batch_size"]
values = [1, 64, 512]

[sweep.parameters."training.stack"]
values = ["hf-trainer", "torchtune", "litgpt", "pytorch"]

[sweep.parameters."training.optimizer_in_backward"]
values = [true, false]
'''


@pytest.fixture
def space_spec(tmp_path, example_text):
    text = example_text.replace('method = "grid"', 'method = "random"').replace("cost = 4000", "cost = 4000\nmax_trials = 120")
    text = text.replace("price_per_gpu_hour = 2.0", "price_per_gpu_hour = 2.0\nbudget_usd = 12\nbudget_hours = 6")
    text = text.replace("[eval]", "[inference]\nprecision = \"bf16\"\nseq_len = 4096\n\n[eval]")
    path = tmp_path / "space.toml"
    path.write_text(text + EXTRA, encoding="utf-8")
    return path


def test_fast_path_matches_check_and_lint(tmp_path, space_spec) -> None:
    spec = load_spec(space_spec)
    assert spec.sweep is not None
    fast = FastPath(spec)
    pts = list(points(spec.sweep, fast.values))
    verdicts = [fast.evaluate(i, p) for i, p in enumerate(pts)]
    files = []
    for i, p in enumerate(pts):
        path = tmp_path / f"point{i:03d}.toml"
        path.write_text(dumps(with_overrides(fast.doc, p)), encoding="utf-8")
        files.append(path)
    runner = CliRunner()
    checked = [runner.invoke(cli, ["check", "-q", str(f)]) for f in files]
    linted = lint_paths([str(f) for f in files], Options(jobs=1))
    by_file: dict[str, set[str]] = {str(f): set() for f in files}
    errors: dict[str, set[str]] = {str(f): set() for f in files}
    for finding in linted.findings:
        if finding.severity == "error" and (finding.code in FAST_CODES or finding.code.startswith("SPC")):
            by_file[finding.file].add("SPC002" if finding.code.startswith("SPC") else finding.code)
        if finding.severity == "error":
            errors[finding.file].add(finding.code)
    for v, f, c in zip(verdicts, files, checked, strict=True):
        assert (c.exit_code == 2) == (v.status == "invalid"), (v.overrides, c.output, v.messages)
        # feasible exactly when full check + lint find no error at all
        assert v.feasible == (c.exit_code == 0 and not errors[str(f)]), (v.overrides, errors[str(f)], v.codes)
        if v.status == "lint-error":
            assert set(v.codes) == errors[str(f)], (v.overrides, errors[str(f)], v.codes)
            continue
        assert by_file[str(f)] == set(v.codes), (v.overrides, by_file[str(f)], v.codes)
        if v.status == "invalid":
            for message in v.messages:  # the same words as check, which adds file:line:col
                assert message in c.output, (message, c.output)
    seen = Counter(code for v in verdicts for code in v.codes)
    for code in ("SPC002", "MEM001", "MEM003", "BUD001", "BUD002", "BUD003", "MEM004"):
        assert seen[code] > 0, f"the sampled points never produced {code}: {dict(seen)}"
    assert any(v.feasible for v in verdicts)


def test_written_point_round_trips(tmp_path, example_text) -> None:
    spec = load_spec(EXAMPLE)
    fast = FastPath(spec)
    point = {"training.learning_rate": 3e-4, "training.lora.rank": 64, "model.name": 'quote " and \\ back'}
    path = tmp_path / "p.toml"
    path.write_text(dumps(with_overrides(fast.doc, point)), encoding="utf-8")
    again = load_spec(path)
    assert again.training is not None and again.training.lora is not None
    assert again.training.learning_rate == 3e-4 and again.training.lora.rank == 64
    assert again.model.name == 'quote " and \\ back'
    assert again.sweep is None
    assert again.eval is not None and again.eval.gates[0].metric == "kb_mc/acc"
