"""A run whose configuration differs from its spec: the difference is one plain line (warned, recorded, and shown
by `calibrate`), or the run stops before its first step with on_mismatch="fail". Real HF Trainer runs on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from integ_helpers import SPEC, run_cli, train_hf

pytest.importorskip("transformers", reason="needs the eval extra (pip install -e '.[eval]')")

LINE = "spec says training.micro_batch_size 4, run has 8"


def _line_of(text: str) -> int:
    return next(n for n, line in enumerate(SPEC.read_text(encoding="utf-8").splitlines(), 1) if line.startswith(text))


def test_a_differing_run_warns_records_and_calibrate_says_so(tmp_path) -> None:
    from llmspec.integrations.recorder import RunConfigWarning

    out = tmp_path / "run-record.json"
    with pytest.warns(RunConfigWarning) as caught:
        train_hf(out, per_device_train_batch_size=8, max_steps=1)
    # one warning per differing key, at the key's line in the spec; max_steps differs too (the spec says 3)
    shown = sorted((Path(w.filename).resolve(), w.lineno, str(w.message))
                   for w in caught if issubclass(w.category, RunConfigWarning))
    assert shown == sorted([(SPEC, _line_of("micro_batch_size ="), LINE),
                            (SPEC, _line_of("max_steps ="), "spec says training.max_steps 3, run has 1")])

    record = json.loads(out.read_text(encoding="utf-8"))
    assert {m["key"]: (m["spec"], m["run"]) for m in record["mismatches"]} == {
        "training.micro_batch_size": (4, 8), "training.max_steps": (3, 1)}
    where = next(m["location"] for m in record["mismatches"] if m["key"] == "training.micro_batch_size")
    assert where.endswith(f"tiny-train.toml:{_line_of('micro_batch_size =')}:1")
    assert record["steps"][0]["tokens"] == 8 * 32

    result = run_cli("calibrate", str(out))
    assert result.code == 0, result.err
    assert f"  differs: {LINE}" in result.out.splitlines()
    assert "the run differed from the spec in 2 key(s)" in result.out


def test_on_mismatch_fail_stops_before_the_first_step(tmp_path) -> None:
    from llmspec.integrations.recorder import SpecMismatchError

    out = tmp_path / "run-record.json"
    with pytest.raises(SpecMismatchError, match=f"tiny-train.toml:{_line_of('micro_batch_size =')}:1: {LINE}"):
        train_hf(out, on_mismatch="fail", per_device_train_batch_size=8)
    record = json.loads(out.read_text(encoding="utf-8"))  # what ran so far is written before stopping
    assert record["steps"] == [] and record["on_mismatch"] == "fail"
    assert [m["message"] for m in record["mismatches"]] == [LINE]


def test_seq_len_is_checked_from_the_batches(tmp_path) -> None:
    """TrainingArguments has no sequence length: the callback reads it from the input_ids the model receives."""
    from llmspec.integrations.recorder import RunConfigWarning

    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.read_text(encoding="utf-8").replace("seq_len = 32", "seq_len = 64"), encoding="utf-8")
    with pytest.warns(RunConfigWarning, match="spec says training.seq_len 64, run has 32"):
        train_hf(tmp_path / "run-record.json", spec=spec, max_steps=3)


def test_lightning_accumulation_differs_from_the_spec(tmp_path) -> None:
    """A real Lightning fit accumulating 2 micro-batches per optimizer step where the spec says 1."""
    pytest.importorskip("lightning", reason="needs lightning (pip install -e '.[integrations-lightning]')")
    from integ_helpers import train_lightning

    from llmspec.integrations.recorder import RunConfigWarning

    out = tmp_path / "run-record.json"
    with pytest.warns(RunConfigWarning, match="spec says training.gradient_accumulation 1, run has 2"):
        train_lightning(out, max_steps=2, accumulate_grad_batches=2)
    record = json.loads(out.read_text(encoding="utf-8"))
    assert [m["key"] for m in record["mismatches"]] == ["training.gradient_accumulation", "training.max_steps"]
    # one step record per optimizer step, each with both micro-batches' tokens
    assert [(s["step"], s["tokens"]) for s in record["steps"]] == [(1, 2 * 4 * 32), (2, 2 * 4 * 32)]
    assert record["run_config"]["training.micro_batch_size"] == 4
