"""The torchtitan stack preset (llmspec/data/stacks.toml, issue 12): its defaults against torchtitan's own source at
the pinned commit, what it cannot run through the real `llmspec lint`, and the published harness building
torchtitan's blind-set-3 rows on it.

torchtitan is not installed here (nor in CI: it is not on the project's dependency list, and at the pinned commit it
is a source checkout, train.py beside a namespace package); the source checks read an importable checkout of
pytorch/torchtitan@582fe7d1f52ef96987a9d5265b3e2bbefc92d583 as text, never importing it, and are a visible skip
without one. The preset values themselves are asserted unconditionally.
"""

from __future__ import annotations

import importlib.util
import json
import re
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from llmspec.cli import cli
from llmspec.spec import stacks
from llmspec.spec.models import Spec, Training

ROOT = Path(__file__).resolve().parents[2]
PIN = "pytorch/torchtitan@582fe7d1f52ef96987a9d5265b3e2bbefc92d583:"
BLIND3 = ROOT / "benchmarks/published/runs_blind3.toml"

EXPECTED = {"optimizer_impl": "foreach", "paged_optimizer": False, "optimizer_in_backward": False, "loss": "full",
            "compile": False, "activation_offload": False, "activation_checkpointing": True,
            "checkpoint_policy": "every-n", "attention": "sdpa", "tie_embeddings": False, "sync_each_batch": False}


def test_torchtitan_preset_values_cite_the_pinned_commit():
    preset = stacks.stack("torchtitan")
    assert {k: d.value for k, d in preset.defaults.items() if k != "precision"} == EXPECTED
    # FSDP2 MixedPrecisionPolicy(param bf16, reduce fp32) over fp32 sharded weights on several GPUs; no FSDP and no
    # autocast on one: fp32
    assert preset.defaults["precision"].by == "devices"
    assert preset.defaults["precision"].value == {"one": "fp32", "several": "bf16-mixed"}
    assert preset.model_code.value == "torchtitan"  # its own Llama, not the transformers class
    for default in [*preset.defaults.values(), preset.model_code, preset.adapters]:
        assert default.source.startswith(PIN), default.source
    for support in preset.supports.values():
        assert PIN in support.source, support.source
    assert preset.supports["method"].allowed() == ("pretrain", "full")  # no LoRA / QLoRA

    t = Training.model_validate({"stack": "torchtitan", "method": "pretrain"})
    assert (t.precision, t.activation_checkpointing, t.checkpoint_policy, t.checkpoint_every) == \
        ("fp32", True, "every-n", None)  # checkpoint_every unset = 2 (selective_ac_option '2')
    assert t.stack_sources()["checkpoint_policy"].startswith(PIN)
    # activation_checkpoint.mode = 'none': no policy is filled in (and none is reported as the stack's)
    off = Training.model_validate({"stack": "torchtitan", "method": "pretrain", "activation_checkpointing": False})
    assert off.checkpoint_policy is None and "checkpoint_policy" not in off.stack_sources()


def _checkout() -> Path:
    spec = importlib.util.find_spec("torchtitan")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("torchtitan is not installed here; its preset values cite pytorch/torchtitan@582fe7d instead")
    pkg = Path(next(iter(spec.submodule_search_locations)))
    if not (pkg / "config_manager.py").exists() or not (pkg.parent / "train.py").exists():
        pytest.skip(f"the torchtitan at {pkg} is not the 582fe7d source layout (train.py beside torchtitan/)")
    return pkg


def _argument(config: str, name: str) -> str:
    """The add_argument(...) call of one JobConfig option, as text."""
    match = re.search(r'add_argument\(\s*"' + re.escape(name) + r'",(.*?)\n        \)', config, re.S)
    assert match, name
    return match.group(1)


def test_torchtitan_preset_is_its_source_at_the_pinned_commit():
    preset = stacks.stack("torchtitan").defaults  # the values below, each read back from the source
    assert (preset["activation_checkpointing"].value, preset["checkpoint_policy"].value) == (True, "every-n")
    assert (preset["optimizer_impl"].value, preset["loss"].value, preset["attention"].value) == ("foreach", "full", "sdpa")
    assert preset["tie_embeddings"].value is False and preset["compile"].value is False
    pkg = _checkout()
    config = (pkg / "config_manager.py").read_text(encoding="utf-8")
    assert 'default="selective"' in _argument(config, "--activation_checkpoint.mode")
    assert 'default="2"' in _argument(config, "--activation_checkpoint.selective_ac_option")
    assert 'default="bfloat16"' in _argument(config, "--training.mixed_precision_param")
    assert 'default="float32"' in _argument(config, "--training.mixed_precision_reduce")
    assert "default=-1" in _argument(config, "--training.data_parallel_shard_degree")
    for flag in ("--optimizer.fused", "--optimizer.early_step_in_backward", "--training.compile",
                 "--float8.enable_float8_linear"):
        assert 'action="store_true"' in _argument(config, flag), flag  # off unless asked
    assert not re.search(r"lora|peft|adapter|gradient_accumulation|accumulation_steps", config, re.I)  # no LoRA, no gradient accumulation option
    optimizer = (pkg / "optimizer.py").read_text(encoding="utf-8")
    assert '"fused": fused,' in optimizer and '"foreach": not fused,' in optimizer
    train = (pkg.parent / "train.py").read_text(encoding="utf-8")
    assert "cross_entropy(\n            pred.flatten(0, 1).float(), labels.flatten(0, 1)" in train
    model = (pkg / "models/llama/model.py").read_text(encoding="utf-8")
    assert "F.scaled_dot_product_attention(xq, xk, xv, is_causal=True)" in model
    assert "self.output = nn.Linear(model_args.dim, model_args.vocab_size, bias=False)" in model
    assert "self.tok_embeddings = nn.Embedding(model_args.vocab_size, model_args.dim)" in model
    assert "self.output.weight = self.tok_embeddings.weight" not in model  # never tied
    parallelize = (pkg / "parallelisms/parallelize_llama.py").read_text(encoding="utf-8")
    assert "MixedPrecisionPolicy(param_dtype=param_dtype, reduce_dtype=reduce_dtype)" in parallelize
    assert "parallel_dims.dp_shard_enabled or parallel_dims.cp_enabled" in parallelize  # FSDP on several GPUs only
    assert "autocast" not in train and "autocast" not in parallelize


SPEC = """
[model]
name = "Llama-3.1-8B"
family = "llama"
[model.architecture]
n_layers = 32
d_model = 4096
n_heads = 32
n_kv_heads = 8
ffn_dim = 14336
vocab_size = 128256
context_length = 131072
[training]
stack = "torchtitan"
method = "{method}"
precision = "{precision}"
micro_batch_size = 2
seq_len = 8192
activation_checkpointing = true
checkpoint_policy = "selective-op"
{extra}
[hardware]
accelerator = "H100-SXM"
count = 8
sharding = "fsdp"
"""


def _mem004(tmp_path: Path, method: str = "pretrain", extra: str = "", precision: str = "bf16-mixed") -> list[dict]:
    path = tmp_path / "torchtitan.toml"
    path.write_text(SPEC.format(method=method, extra=extra, precision=precision), encoding="utf-8")
    result = CliRunner().invoke(cli, ["lint", str(path), "--select", "MEM004", "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.output)


def test_torchtitan_runs_selective_op_checkpointing_without_mem004(tmp_path):
    # before the preset, stack = "torchtitan" did not validate, and the blind-3 rows built on hf-trainer got MEM004
    assert _mem004(tmp_path) == []


@pytest.mark.parametrize(("method", "extra", "precision", "key"), [
    ("lora", "", "bf16-mixed", "training.method"),
    ("qlora", "", "bf16-mixed", "training.method"),
    ("pretrain", 'loss = "chunked"', "bf16-mixed", "training.loss"),
    ("pretrain", "activation_offload = true", "bf16-mixed", "training.activation_offload"),
    ("pretrain", "", "fp16-mixed", "training.precision"),
])
def test_torchtitan_cannot_run_is_mem004_through_lint(tmp_path, method, extra, precision, key):
    findings = _mem004(tmp_path, method, extra, precision)
    assert [f["key"] for f in findings] == [key], findings
    assert "stack 'torchtitan'" in findings[0]["message"] and PIN.split(":")[0] in findings[0]["message"]


def _bench():
    spec = importlib.util.spec_from_file_location("published_memory", ROOT / "benchmarks/published_memory.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_harness_builds_torchtitan_rows_on_the_torchtitan_stack(monkeypatch):
    """Blind set 3 is scored (diagnosis only): its torchtitan rows are built, never estimated here."""
    import llmspec.estimate as est

    monkeypatch.setattr(est, "training_memory", lambda *_a, **_k: pytest.fail("not estimated"))
    bench = _bench()
    models = bench.load_models()
    runs = {r["id"]: r for r in tomllib.loads(BLIND3.read_text(encoding="utf-8"))["run"]
            if r["stack"] == "torchtitan" and not r.get("exclude")}
    assert len(runs) == 14
    for run in runs.values():
        spec: Spec = bench.build_spec(run, models)
        assert spec.training is not None and spec.training.stack == "torchtitan", run["id"]
        policy = "selective-op" if "selective_ac_op" in run["needs"] else "full"  # mode 'op', else mode 'full'
        assert (spec.training.activation_checkpointing, spec.training.checkpoint_policy) == (True, policy), run["id"]
    # pipeline microbatches defer FSDP2's reduce-scatter to the last one (the preset's sync_each_batch)
    pp = bench.build_spec(runs["torchtitan-llama-3.1-405b-512gpu-1f1b"], models)
    assert pp.training is not None and pp.training.sync_each_batch is False
    assert "torchtitan" in bench.preset_stacks()
