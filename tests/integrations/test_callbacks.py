"""Real runs of the tiny demo model on CPU: an HF Trainer run and a Lightning run, each with the llmspec callback,
each writing a run record that the JSON Schema accepts and that `llmspec calibrate` reads.

What cannot run here: this machine has no GPU, so the CUDA peak counters are exercised only by
test_cuda_peaks_are_recorded, which runs the real HF Trainer on CUDA where one exists and is skipped otherwise.
torch.cuda is never mocked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from integ_helpers import EXAMPLES, SEQ, run_cli, train_hf, train_lightning

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("transformers", reason="needs the eval extra (pip install -e '.[eval]')")


@pytest.fixture(scope="module")
def hf_record(tmp_path_factory) -> Path:
    """The worked example of docs/integrations.md, run as a user runs it."""
    where = tmp_path_factory.mktemp("hf")
    run = subprocess.run([sys.executable, str(ROOT / "examples" / "run-records" / "train_hf.py"), "--cpu",
                          "-o", "run-record.json"], cwd=where, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "RunConfigWarning" not in run.stderr, run.stderr  # the example runs what its spec says
    return where / "run-record.json"


@pytest.fixture(scope="module")
def lightning_record(tmp_path_factory) -> Path:
    pytest.importorskip("lightning", reason="needs lightning (pip install -e '.[integrations-lightning]')")
    out = tmp_path_factory.mktemp("pl") / "run-record.json"
    train_lightning(out)
    return out


def _schema_validator():
    schema = json.loads((ROOT / "schemas" / "run-record.schema.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@pytest.mark.parametrize("which", ["hf_record", "lightning_record"])
def test_a_real_run_writes_a_record_of_what_ran(which, request) -> None:
    path = request.getfixturevalue(which)
    record = json.loads(path.read_text(encoding="utf-8"))
    _schema_validator().validate(record)  # the checked-in schema, by a validator that is not pydantic
    assert record["framework"]["name"] == ("transformers" if which == "hf_record" else "lightning")
    assert record["mismatches"] == [], record["mismatches"]
    assert record["spec"]["hash"].startswith("sha256:")
    # three optimizer steps of 4 sequences x 32 tokens
    assert [s["step"] for s in record["steps"]] == [1, 2, 3]
    assert [s["tokens"] for s in record["steps"]] == [4 * SEQ] * 3
    assert record["tokens"] == 3 * 4 * SEQ <= EXAMPLES * SEQ
    assert record["tokens_per_second"] > 0
    assert record["run_config"]["training.seq_len"] == SEQ
    assert record["run_config"]["training.micro_batch_size"] == 4
    # CPU: what exists is recorded and what does not is null, with the reason
    assert record["device"]["type"] == "cpu"
    assert record["gpu_memory"] is None and all(s["gpu_memory"] is None for s in record["steps"])
    assert "cpu" in record["gpu_memory_note"] and "CUDA" in record["gpu_memory_note"]
    assert record["process_rss_peak_bytes"] > 0
    # the parts are counted from the run's tensors: 1,088,256 fp32 parameters (GPT-2 4x128, tied head)
    parts = record["parts"]
    assert parts["parameters"] == parts["trainable_parameters"] == 1_088_256
    assert parts["weights_bytes"] == 4 * 1_088_256
    assert parts["gradients_bytes"] == 4 * 1_088_256
    # AdamW: exp_avg and exp_avg_sq in fp32, plus one 4-byte step counter per parameter tensor
    n_tensors = int(record["run_config"]["model.architecture.n_layers"]) * 12 + 4
    assert parts["optimizer_states_bytes"] == 8 * 1_088_256 + 4 * n_tensors


def test_calibrate_reads_both_records(hf_record, lightning_record) -> None:
    result = run_cli("calibrate", str(hf_record), str(lightning_record))
    assert result.code == 0, result.err
    text = result.out
    assert text.count("on cpu, 3 steps") == 2
    assert "transformers" in text and "lightning" in text
    for line in (line for line in text.splitlines() if line.strip().startswith("weights")):
        assert line.split()[-1] == "+0.00%", line  # the estimate's fp32 weights are exactly the run's
    # no GPU figure is made up on CPU: the peak is said to be not measured, and no peak row appears
    assert text.count("overall: not measured (no GPU peak in this record)") == 2
    assert "GPU memory was not measured (device cpu" in text
    assert "peak_allocated" not in text

    data = json.loads(run_cli("calibrate", str(hf_record), "--format", "json").out)
    [entry] = data["records"]
    assert entry["gpu_memory_measured"] is False and entry["overall_error"] is None
    rows = {row["part"]: row for row in entry["parts"]}
    assert rows["parameters"]["estimate"] == rows["parameters"]["measured"] == 1_088_256
    assert rows["weights"]["error"] == 0.0
    # the optimizer estimate has no term for AdamW's per-tensor step counters: a few hundred bytes under
    assert -0.001 < rows["optimizer_states"]["error"] < 0
    assert "peak_allocated" not in rows


@pytest.mark.skipif("not __import__('torch').cuda.is_available()",
                    reason="needs a CUDA GPU: torch keeps peak allocated/reserved counters only on CUDA, and this "
                           "machine has none (torch.cuda is never mocked)")
def test_cuda_peaks_are_recorded(tmp_path) -> None:
    out = tmp_path / "run-record.json"
    train_hf(out, use_cpu=False)
    record = json.loads(out.read_text(encoding="utf-8"))
    assert record["device"]["type"] == "cuda" and record["device"]["name"]
    peaks = [s["gpu_memory"] for s in record["steps"]]
    assert all(p["reserved_peak_bytes"] >= p["allocated_peak_bytes"] > record["parts"]["weights_bytes"] for p in peaks)
    assert record["gpu_memory"]["allocated_peak_bytes"] == max(p["allocated_peak_bytes"] for p in peaks)
    result = run_cli("calibrate", str(out))
    assert result.code == 0 and "peak_allocated" in result.out and "overall: the estimate's peak is" in result.out


def test_the_documented_output_is_what_calibrate_prints(hf_record) -> None:
    """docs/integrations.md shows real output: its deterministic lines (everything but throughput and RSS) are
    what `calibrate` prints for the example run."""
    doc = (ROOT / "docs" / "integrations.md").read_text(encoding="utf-8")
    section = doc[doc.index("## Record runs and calibrate"):]
    block = section[section.index("$ llmspec calibrate run-record.json\n"):].split("```")[0]
    expected = [line for line in block.splitlines()[1:]
                if line.strip() and "tokens/s" not in line and "RSS" not in line]
    result = run_cli("calibrate", str(hf_record))
    assert result.code == 0, result.err
    shown = [line.replace(str(hf_record), "run-record.json") for line in result.out.splitlines()]
    shown = [line.split(", spec ")[0] if line.startswith("run-record.json:") else line for line in shown]
    expected = [line.split(", spec ")[0] if line.startswith("run-record.json:") else line for line in expected]
    assert len(expected) >= 8
    assert [line for line in expected if line not in shown] == []


def test_a_lora_run_is_checked_and_counted(tmp_path) -> None:
    """A real HF Trainer run of peft LoRA adapters on c_attn: method and adapter settings are checked, and only the
    adapters have gradients and optimizer states."""
    pytest.importorskip("peft", reason="needs the eval extra (pip install -e '.[eval]')")
    from integ_helpers import SPEC_LORA

    out = tmp_path / "run-record.json"
    train_hf(out, spec=SPEC_LORA, max_steps=2,
             lora={"r": 8, "lora_alpha": 16, "target_modules": ["c_attn"], "lora_dropout": 0.0, "fan_in_fan_out": True})
    record = json.loads(out.read_text(encoding="utf-8"))
    assert [m["message"] for m in record["mismatches"]] == ["spec says training.max_steps 3, run has 2"]
    assert {k: v for k, v in record["run_config"].items() if k.startswith(("training.method", "training.lora"))} == {
        "training.method": "lora", "training.lora.rank": 8, "training.lora.alpha": 16, "training.lora.dropout": 0.0}
    adapters = 4 * (128 * 8 + 8 * 384)  # A and B of c_attn (128 -> 384) in 4 layers
    parts = record["parts"]
    assert parts["trainable_parameters"] == adapters and parts["parameters"] == 1_088_256 + adapters
    assert parts["gradients_bytes"] == 4 * adapters

    rows = {r["part"]: r for r in json.loads(run_cli("calibrate", str(out), "--format", "json").out)["records"][0]["parts"]}
    assert rows["parameters"]["error"] == rows["trainable_parameters"]["error"] == rows["weights"]["error"] == 0.0
