"""The published-runs evidence set (benchmarks/published/runs.toml) is well-formed and scores every run."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNS = tomllib.loads((ROOT / "benchmarks/published/runs.toml").read_text(encoding="utf-8"))["run"]
CITE = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{7,40}:[\w./-]+")
NEEDS = {"compile", "chunked_ce", "fused_linear_ce", "optimizer_fused", "optimizer_in_backward", "paged_optimizer",
         "activation_offload", "adapter_fp32", "lora_on_head", "dora", "qlora_adapted_only", "quant_format",
         "quantised_head", "bnb_saved_inputs", "prompt_length", "attention_kernel", "fsdp_no_sync"}


def _bench():
    spec = importlib.util.spec_from_file_location("published_memory", ROOT / "benchmarks/published_memory.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("run", RUNS, ids=[r["id"] for r in RUNS])
def test_run_records_what_the_issue_asks(run):
    assert CITE.match(run["cite"]), run["cite"]
    assert run["unit"] in ("GB", "GiB")
    assert run["counter"] in ("allocated", "reserved", "active", "nvidia-smi", "unstated")
    assert run["source"] in ("litgpt", "torchtune", "peft", "hf-docs", "torchao", "unsloth")
    assert set(run["needs"]) <= NEEDS
    assert run.get("exclude") or isinstance(run["measured"], float)
    if run.get("exclude"):
        assert re.match(r"^E[1-6]: ", run["exclude"])


def test_evidence_set_size_and_sources():
    scored = [r for r in RUNS if not r.get("exclude")]
    assert len(scored) >= 40
    assert len({r["source"] for r in scored}) >= 4
    assert len({r["id"] for r in RUNS}) == len(RUNS)


def test_every_scored_run_gets_an_estimate():
    rows = _bench().run_all()
    scored = [r for r in rows if "error" in r]
    assert len(scored) == sum(1 for r in RUNS if not r.get("exclude"))
    assert all(r["estimate"] > 0 and r["measured_bytes"] > 0 for r in scored)


# --- blind set 2 (benchmarks/published/runs_blind2.toml): validated here, never scored by a test ---------------
BLIND2 = ROOT / "benchmarks/published/runs_blind2.toml"


def test_blind2_rows_validate_without_an_estimate(monkeypatch):
    """--validate builds every scored row's spec; the estimator must not be called (the set stays blind)."""
    import llmspec.estimate as est

    def refuse(*_a, **_k):
        raise AssertionError("the blind set must not be estimated")

    monkeypatch.setattr(est, "training_memory", refuse)
    monkeypatch.setattr(est, "inference_memory", refuse)
    assert _bench().validate(BLIND2) == []
    assert _bench().main(["--validate", str(BLIND2)]) == 0


def test_blind2_records_what_the_issue_asks():
    runs = tomllib.loads(BLIND2.read_text(encoding="utf-8"))["run"]
    for run in runs:
        assert CITE.match(run["cite"]), run["cite"]
        assert run["counter"] in ("allocated", "reserved", "active", "nvidia-smi", "unstated")
        assert set(run["needs"]) <= NEEDS
        if run.get("exclude"):
            assert re.match(r"^E(1|2|7|8|9|10|11): ", run["exclude"])
        else:
            assert run["counter"] != "unstated"
    scored = [r for r in runs if not r.get("exclude")]
    assert len(scored) >= 25
    old = {r["id"] for r in RUNS}
    assert not old & {r["id"] for r in runs}


# --- blind set 3 (benchmarks/published/runs_blind3.toml): frozen, validated here, never scored by a test --------
BLIND3 = ROOT / "benchmarks/published/runs_blind3.toml"


def test_blind3_rows_validate_without_an_estimate(monkeypatch):
    """Every blind-3 row builds a valid spec (models_blind3.toml included) and the estimator is never called."""
    import llmspec.estimate as est

    def refuse(*_a, **_k):
        raise AssertionError("the blind set must not be estimated")

    monkeypatch.setattr(est, "training_memory", refuse)
    monkeypatch.setattr(est, "inference_memory", refuse)
    assert _bench().validate(BLIND3) == []


def test_blind3_records_what_the_issue_asks():
    runs = tomllib.loads(BLIND3.read_text(encoding="utf-8"))["run"]
    for run in runs:
        assert CITE.match(run["cite"]), run["cite"]
        assert run["unit"] in ("GB", "GiB")
        assert run["counter"] in ("allocated", "reserved", "active", "nvidia-smi", "unstated")
        if run.get("exclude"):
            assert re.match(r"^E([1-5]|8|9|11|12): ", run["exclude"]), run["exclude"]
        else:
            assert run["counter"] != "unstated" and isinstance(run["measured"], float)
    scored = [r for r in runs if not r.get("exclude")]
    assert len(scored) >= 40 and len({r["source"] for r in scored}) >= 4
    earlier = RUNS + tomllib.loads((ROOT / "benchmarks/published/runs_blind2.toml").read_text(encoding="utf-8"))["run"]
    assert not {r["id"] for r in earlier} & {r["id"] for r in runs}
    assert not {r["cite"] for r in earlier} & {r["cite"] for r in scored}
    assert len({r["id"] for r in runs}) == len(runs)


# --- blind set 4 (benchmarks/published/runs_blind4.toml): frozen, validated here, never scored by a test --------
BLIND4 = ROOT / "benchmarks/published/runs_blind4.toml"


def test_blind4_rows_validate_without_an_estimate(monkeypatch):
    """Every blind-4 row builds a valid spec (models_blind4.toml included) and the estimator is never called."""
    import llmspec.estimate as est

    def refuse(*_a, **_k):
        raise AssertionError("the blind set must not be estimated")

    monkeypatch.setattr(est, "training_memory", refuse)
    monkeypatch.setattr(est, "inference_memory", refuse)
    assert _bench().validate(BLIND4) == []


def test_blind4_records_what_the_issue_asks():
    runs = tomllib.loads(BLIND4.read_text(encoding="utf-8"))["run"]
    for run in runs:
        assert CITE.match(run["cite"]), run["cite"]
        assert run["unit"] in ("GB", "GiB")
        assert run["counter"] in ("allocated", "reserved", "active", "nvidia-smi", "unstated")
        if run.get("exclude"):
            assert re.match(r"^E([1-5]|7|8|9|11|12): ", run["exclude"]), run["exclude"]
        else:
            assert run["counter"] != "unstated" and isinstance(run["measured"], float)
    scored = [r for r in runs if not r.get("exclude")]
    assert len(scored) >= 40 and len({r["source"] for r in scored}) >= 3
    earlier = RUNS + [r for f in ("runs_blind2.toml", "runs_blind3.toml")
                      for r in tomllib.loads((ROOT / "benchmarks/published" / f).read_text(encoding="utf-8"))["run"]]
    assert not {r["id"] for r in earlier} & {r["id"] for r in runs}
    assert not {r["cite"] for r in earlier} & {r["cite"] for r in scored}
    assert len({r["id"] for r in runs}) == len(runs)


def test_validate_reports_a_bad_row_on_one_line(tmp_path):
    bad = tmp_path / "runs.toml"
    bad.write_text('[[run]]\nid = "x"\nsource = "litgpt"\nstack = "litgpt"\nunit = "GB"\nmeasured = 1.0\n'
                   '[run.spec]\nmodel = "llama-2-7b"\ntraining = { method = "lora", micro_batch_size = 0 }\n',
                   encoding="utf-8")
    problems = _bench().validate(bad)
    assert len(problems) == 1 and "run x: training.micro_batch_size" in problems[0]
    assert _bench().main(["--validate", str(bad)]) == 1


def test_runs_mode_scores_a_given_file_into_its_own_section(tmp_path, capsys):
    """--runs FILE --fold-name NAME on a copy of one runs.toml row (already scored, not blind); --no-write."""
    text = (ROOT / "benchmarks/published/runs.toml").read_text(encoding="utf-8")
    first = text[text.index('[[run]]\nid = "peft-lora-rank32"'):text.index('[[run]]\nid = "peft-lora-rank64"')]
    runs = tmp_path / "one.toml"
    runs.write_text(first, encoding="utf-8")
    assert _bench().main(["--runs", str(runs), "--fold-name", "Trial fold", "--no-write"]) == 0
    out = capsys.readouterr().out
    assert "## Trial fold" in out and "`peft-lora-rank32`" in out and "| counter reserved | 1 |" in out
    assert not runs.with_suffix(".json").exists()
    with pytest.raises(SystemExit):
        _bench().main(["--runs", str(runs), "--no-write"])


def test_runs_mode_refuses_a_second_scoring(tmp_path, monkeypatch):
    mod = _bench()
    (tmp_path / "published_memory.md").write_text("# x\n\n## Blind set 2\n\nscored\n", encoding="utf-8")
    monkeypatch.setattr(mod, "HERE", tmp_path)
    monkeypatch.setattr(mod, "run_all", lambda *_a: pytest.fail("must not score"))
    assert mod.main(["--runs", str(BLIND2), "--fold-name", "Blind set 2"]) == 1
    assert (tmp_path / "published_memory.md").read_text(encoding="utf-8").count("## Blind set 2") == 1


# --- E-floor (computed by published_memory.state_floor for every run file) -----------------------------------------
# LitGPT's phi-3/full.yaml row (Lightning-AI/litgpt@00af8b0d:config_hub/finetune/README.md; full.yaml: devices 1,
# bf16-true, torch.optim.AdamW): 17.01 GB, under 3.82B parameters x (2 + 2 + 2 x 2) bytes = 30.6 GB.
FLOOR_ROW = """[[run]]
id = "floor-trial"
source = "litgpt"
stack = "litgpt"
cite = "Lightning-AI/litgpt@00af8b0d9b43eaa3f8c812e3e8bd53ef38cbb49d:config_hub/finetune/README.md: row phi-3/full.yaml"
measured = {measured}
unit = "GB"
counter = "allocated"
gpu = "1 x A10G"
setup = "phi-3/full.yaml: bf16-true, micro-batch 4, max_seq_length 512, torch.optim.AdamW, 1 device"
needs = []
[run.spec]
model = "phi-3-mini-4k"
training = {{ method = "full", precision = "bf16", optimizer = "adamw", micro_batch_size = 4, seq_len = 512, packing = false }}
hardware = {{ accelerator = "A10G", memory = "24GB" }}
"""


def test_e_floor_excludes_a_full_finetune_below_its_weights_grads_and_states(tmp_path):
    runs = tmp_path / "runs.toml"
    runs.write_text(FLOOR_ROW.format(measured=17.01), encoding="utf-8")
    mod = _bench()
    (row,) = mod.run_all(runs)
    assert row["exclude"].startswith("E-floor: 17.01 GB is below") and "error" not in row
    assert 30.5e9 < row["floor"] < 30.7e9  # 3,821,079,552 x 8 bytes
    assert "| `floor-trial` | litgpt | 17.01 | E-floor: " in mod.report(mod.run_all() + [row])
    assert "- `floor-trial`: E-floor: " in mod.fold_section([row], "Trial", runs)
    # above the floor the same row is scored
    runs.write_text(FLOOR_ROW.format(measured=31.0), encoding="utf-8")
    (row,) = mod.run_all(runs)
    assert not row.get("exclude") and "error" in row


def test_e_floor_bound_follows_sharding_and_leaves_lora_alone():
    from llmspec.spec.models import Spec

    mod = _bench()
    model = mod.load_models()["phi-3-mini-4k"]
    one = Spec.model_validate({"model": model, "training": {"method": "full", "precision": "bf16"},
                               "hardware": {"accelerator": "A10G"}})
    four = Spec.model_validate({"model": model, "training": {"method": "full", "precision": "bf16"},
                                "hardware": {"accelerator": "A10G", "count": 4, "sharding": "fsdp"}})
    mixed = Spec.model_validate({"model": model, "training": {"method": "full", "precision": "bf16-mixed"}})
    lora = Spec.model_validate({"model": model, "training": {"method": "lora", "precision": "bf16"}})
    assert mod.state_floor(four) == mod.state_floor(one) / 4
    assert mod.state_floor(mixed) == 2 * mod.state_floor(one)  # 4 + 4 + 2 x 4 bytes
    assert mod.state_floor(lora) is None


def test_no_in_sample_run_is_below_its_floor():
    assert not [r["id"] for r in _bench().run_all() if str(r.get("exclude", "")).startswith("E-floor")]


def test_selective_ac_op_rows_take_the_checkpoint_policy():
    """A row whose `needs` has selective_ac_op (torchtitan's default per-op checkpointing) is estimated with
    training.checkpoint_policy = "selective-op" (NEEDS_KNOBS); the frozen row itself says activation_checkpointing =
    false. Diagnosis after blind set 3 was scored (not blind): before the knob the estimate assumed no checkpointing,
    +92% and MEM001 "does not fit" on a run that ran."""
    bench = _bench()
    runs = {r["id"]: r for r in tomllib.loads(BLIND3.read_text(encoding="utf-8"))["run"]}
    run = runs["torchtitan-llama-3.1-8b-8gpu-fsdp"]
    assert run["spec"]["training"]["activation_checkpointing"] is False  # the frozen row is not edited
    spec = bench.build_spec(run, bench.load_models())
    assert spec.training.activation_checkpointing and spec.training.checkpoint_policy == "selective-op"
    row = bench.evaluate(run, bench.load_models())
    assert not row["mem001_false"] and abs(row["error"]) < 0.25 and "selective_ac_op" not in row["missing"]


def test_each_figure_is_compared_with_what_its_counter_shows():
    """The counter rule (llmspec.estimate.counters.counter_bytes): an allocated figure against the allocated peak, a
    reserved one against the reserved peak (2 MiB segments + the estimate's fragmentation term), an nvidia-smi one
    against that plus the CUDA context and workspaces. In-sample rows only."""
    from llmspec.estimate import inference_memory, training_memory
    from llmspec.estimate.counters import counter_bytes

    bench = _bench()
    models = bench.load_models()
    runs = {r["id"]: r for r in RUNS}
    for rid in ("torchao-quant-llama-2-7b-bf16", "peft-lora-rank32", "litgpt-hub-llama-2-7b-lora"):
        run = runs[rid]
        spec = bench.build_spec(run, models)
        est = (inference_memory if run.get("mode") == "inference" else training_memory)(spec)
        row = bench.evaluate(run, models)
        measured = row["measured_bytes"]
        assert row["allocated"] == est.per_gpu_bytes
        assert row["error_allocated"] == pytest.approx(est.per_gpu_bytes / measured - 1)
        assert row["estimate"] == counter_bytes(est, run["counter"])
        assert row["error"] == pytest.approx(counter_bytes(est, run["counter"]) / measured - 1)
        if run["counter"] == "allocated":
            assert row["error"] == row["error_allocated"]
        else:
            assert row["error"] > row["error_allocated"]
    nvsmi = dict(runs["torchao-quant-llama-2-7b-bf16"], counter="nvidia-smi")
    row = bench.evaluate(nvsmi, models)
    est = inference_memory(bench.build_spec(nvsmi, models))
    assert est.total_bytes <= row["estimate"] < est.total_bytes + 2**21
