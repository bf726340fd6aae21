"""`llmspec calibrate` on bad input: one line `file:line:col: ...`, exit 2, no traceback. And the package root
imports no framework. These tests need no torch: the records are built with the RunRecord model itself."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from integ_helpers import SPEC, run_cli

from llmspec.integrations.compare import diff
from llmspec.integrations.record import RunRecord
from llmspec.spec.hashing import spec_hash
from llmspec.spec.loader import load_spec


def _record(spec: Path) -> dict:
    return RunRecord(
        llmspec_version="0", created="2026-12-03T00:00:00+00:00",
        spec={"path": str(spec), "hash": spec_hash(load_spec(spec)), "name": "tiny-train"},
        framework={"name": "transformers", "version": "5.24.0", "torch": "2.13.0"},
        device={"type": "cpu", "count": 1}, on_mismatch="warn", run_config={},
        gpu_memory_note="device cpu: torch keeps allocator counters only on CUDA",
        parts={"parameters": 1_088_256, "trainable_parameters": 1_088_256, "weights_bytes": 4_353_024},
        seconds=1.0,
    ).model_dump(mode="json")


@pytest.fixture
def spec(tmp_path) -> Path:
    path = tmp_path / "spec.toml"
    shutil.copy(SPEC, path)
    return path


def _write(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


SCHEMA_VERSION, WEIGHTS_BYTES, HASH = '"schema_version"', '"weights_bytes"', '"hash"'


def _line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def _one_line_error(*args: str) -> str:
    result = run_cli("calibrate", *args)
    assert result.code == 2, (result.code, result.out, result.err)
    assert result.out == "" and result.err.count("\n") == 1 and "Traceback" not in result.err, result.err
    return result.err.strip()


def test_a_good_record_is_read(spec, tmp_path) -> None:
    result = run_cli("calibrate", str(_write(tmp_path / "r.json", _record(spec))))
    assert result.code == 0, result.err
    assert "weights" in result.out and "+0.00%" in result.out


def test_not_json(tmp_path) -> None:
    path = tmp_path / "r.json"
    path.write_text('{\n  "kind": "llmspec-run-record",\n  oops\n}\n', encoding="utf-8")
    assert _one_line_error(str(path)).startswith(f"{path}:3:3: not JSON (")


def test_not_a_record(tmp_path) -> None:
    path = _write(tmp_path / "results.json", {"schema_version": 1, "verdict": "PASSED"})
    assert _one_line_error(str(path)) == (f"{path}:1:1: not an llmspec run record (no \"kind\": \"llmspec-run-record\"); "
                                          "records are written by llmspec.integrations callbacks")


def test_wrong_schema_version(spec, tmp_path) -> None:
    data = _record(spec)
    data["schema_version"] = 2
    path = _write(tmp_path / "r.json", data)
    err = _one_line_error(str(path))
    assert err.startswith(f"{path}:{_line_of(path, SCHEMA_VERSION)}:3: run record schema_version 2 is not 1")


def test_a_field_of_the_wrong_type_points_at_it(spec, tmp_path) -> None:
    data = _record(spec)
    data["parts"]["weights_bytes"] = -5
    path = _write(tmp_path / "r.json", data)
    err = _one_line_error(str(path))
    assert err.startswith(f"{path}:{_line_of(path, WEIGHTS_BYTES)}:5: invalid run record at parts.weights_bytes")


def test_spec_changed_since_the_run(spec, tmp_path) -> None:
    path = _write(tmp_path / "r.json", _record(spec))
    spec.write_text(spec.read_text().replace("micro_batch_size = 4", "micro_batch_size = 2"), encoding="utf-8")
    err = _one_line_error(str(path))
    assert err.startswith(f"{path}:{_line_of(path, HASH)}:5: the run was checked against spec hash sha256:")
    assert err.endswith("pass the spec the run used with --spec")


def test_spec_given_with_spec_option_must_hash_the_same(spec, tmp_path) -> None:
    path = _write(tmp_path / "r.json", _record(spec))
    moved = tmp_path / "moved.toml"
    spec.rename(moved)
    assert "does not exist here; pass it with --spec" in _one_line_error(str(path))
    assert run_cli("calibrate", str(path), "--spec", str(moved)).code == 0


def test_missing_file(tmp_path) -> None:
    assert _one_line_error(str(tmp_path / "nope.json")).endswith("nope.json: no such file; give a run record "
                                                                   "written by an llmspec callback")


def test_diff_is_plain_words() -> None:
    spec = load_spec(SPEC)
    messages = [m.message for m in diff(spec, {"training.micro_batch_size": 8, "training.gradient_accumulation": 1,
                                               "training.activation_checkpointing": True, "hardware.gpus": 8,
                                               "training.seed": 0, "training.method": "full"})]
    # seed: the spec leaves it open; method: "full" is what the spec says
    assert messages == ["spec says training.micro_batch_size 4, run has 8",
                        "spec says training.activation_checkpointing false (default), run has true",
                        "spec says GPUs (hardware.count x hardware.nodes) 1, run has 8"]


def test_importing_the_package_imports_no_framework() -> None:
    code = ("import sys, llmspec.integrations, llmspec.integrations.record, llmspec.integrations.calibrate, "
            "llmspec.cli.calibrate; heavy = {'torch', 'transformers', 'lightning'} & set(sys.modules); "
            "print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_gpu_rows_and_as_run_against_llmspec_estimate(spec, tmp_path) -> None:
    """The CUDA rows' arithmetic and --as-run, checked against `llmspec estimate --format json`. No GPU exists here,
    so the record's CUDA peaks are written by hand (input data for calibrate; torch.cuda is not involved)."""
    data = _record(spec)
    data["device"] = {"type": "cuda", "name": "hand-written, no GPU here", "count": 1}
    data["gpu_memory"] = {"allocated_peak_bytes": 30_000_000, "reserved_peak_bytes": 33_554_432}
    data["gpu_memory_note"] = None
    data["parts"].update(gradients_bytes=4_353_024, optimizer_states_bytes=8_706_256)
    data["mismatches"] = [{"key": "training.micro_batch_size", "spec": 4, "run": 8,
                           "message": "spec says training.micro_batch_size 4, run has 8"},
                          {"key": "hardware.gpus", "spec": 1, "run": 2, "message": "spec says GPUs ... 1, run has 2"}]
    path = _write(tmp_path / "r.json", data)

    def estimated(*sets: str) -> dict:
        result = run_cli("estimate", str(spec), "--format", "json", *sets)
        assert result.code == 0, result.err
        return json.loads(result.out)["memory"]["training"]

    def rows(*flags: str) -> dict:
        result = run_cli("calibrate", str(path), "--format", "json", *flags)
        assert result.code == 0, result.err
        [entry] = json.loads(result.out)["records"]
        return entry | {"rows": {r["part"]: r for r in entry["parts"]}}

    as_spec, as_run = rows(), rows("--as-run")
    for entry, est in ((as_spec, estimated()), (as_run, estimated("--set", "training.micro_batch_size=8"))):
        peak = entry["rows"]["peak_allocated"]
        assert peak["estimate"] == est["per_gpu_bytes"] and peak["measured"] == 30_000_000
        assert peak["error"] == pytest.approx((est["per_gpu_bytes"] - 30_000_000) / 30_000_000)
        assert entry["overall_error"] == peak["error"]
        assert entry["rows"]["peak_reserved"]["estimate"] == int(est["per_gpu_bytes"] * 1.08)
    assert as_run["rows"]["peak_allocated"]["estimate"] > as_spec["rows"]["peak_allocated"]["estimate"]
    assert as_run["as_run"] == ["training.micro_batch_size=8"] and as_spec["as_run"] == []
    assert "--as-run: not applied (no spec value states it): hardware.gpus" in as_run["notes"]
    text = run_cli("calibrate", str(path)).out
    assert "overall: the estimate's peak is" in text and "summary: peak allocated vs estimate over 1 of 1" in text


def test_text_from_a_record_cannot_reach_the_terminal_as_control_characters(spec, tmp_path) -> None:
    data = _record(spec)
    data["device"]["name"] = "A100\x1b]0;owned\x07"
    data["mismatches"] = [{"key": "training.optimizer", "spec": "adamw", "run": "x",
                           "message": "spec says training.optimizer adamw, run has x\nllmspec: all clear\r"}]
    result = run_cli("calibrate", str(_write(tmp_path / "r.json", data)))
    assert result.code == 0, result.err
    assert "\x1b" not in result.out and "\x07" not in result.out and "\r" not in result.out
    assert "run has x\\nllmspec: all clear\\r" in result.out
    assert not any(line.startswith("llmspec: all clear") for line in result.out.splitlines())

    data["schema_version"] = "2\x1b[2J"
    err = _one_line_error(str(_write(tmp_path / "v.json", data)))
    assert "\x1b" not in err and "\\x1b[2J" in err
