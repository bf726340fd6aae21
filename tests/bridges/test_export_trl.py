"""`llmspec export --to trl`: the written YAML goes through TRL's own parser exactly as `trl sft --config FILE`
builds it (trl.scripts.sft.make_parser, parse_args_and_config), and import(export(spec)) keeps the run."""

from __future__ import annotations

from pathlib import Path

import pytest
from bridge_helpers import run_cli

from llmspec.project import load_spec

ROOT = Path(__file__).resolve().parents[2]
SPECS = [ROOT / "examples" / "llama2-7b-lora-a100.toml", ROOT / "examples" / "llama3-8b-qlora-rtx4090.toml"]
# what a run trains with and what memory depends on (llmspec.estimate reads these)
KEPT = ["method", "precision", "micro_batch_size", "gradient_accumulation", "seq_len", "packing",
        "activation_checkpointing", "learning_rate", "epochs", "max_steps", "lr_schedule", "optimizer", "weight_decay",
        "max_grad_norm", "warmup_ratio", "warmup_steps", "seed", "attention", "compile", "stack"]
LORA_KEPT = ["rank", "alpha", "dropout", "targets", "dora"]


def _export(tmp_path: Path, spec: Path) -> Path:
    out = tmp_path / "trl.yaml"
    result = run_cli("export", str(spec), "--to", "trl", "-o", str(out))
    assert result.code == 0, result.err
    return out


def _trl_parse(config: Path, monkeypatch):
    """TRL's parser as `trl sft` builds it. This machine has no GPU: transformers' TrainingArguments raises on
    bf16=True unless a bf16-capable device exists, so the capability check is patched to say yes (the only mock;
    the exported config itself is never changed to use_cpu)."""
    import transformers.training_args as ta
    from trl.scripts.sft import make_parser

    monkeypatch.setattr(ta, "is_torch_bf16_gpu_available", lambda *a, **k: True, )
    return make_parser().parse_args_and_config(["--config", str(config)], fail_with_unknown_args=True)


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_export_passes_trls_own_parser(tmp_path, monkeypatch, spec):
    script_args, training_args, model_args, _ = _trl_parse(_export(tmp_path, spec), monkeypatch)
    t = load_spec(str(spec), ()).training
    assert training_args.per_device_train_batch_size == t.micro_batch_size
    assert training_args.gradient_accumulation_steps == t.gradient_accumulation
    assert training_args.max_length == t.seq_len and training_args.bf16 is True
    assert model_args.use_peft is True and model_args.lora_r == t.lora.rank
    assert model_args.load_in_4bit is (t.method == "qlora")
    assert script_args.dataset_name == (t.data.train if t.data else None)


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_round_trip_keeps_training_and_memory_keys(tmp_path, spec):
    exported = _export(tmp_path, spec)
    back = tmp_path / "back.toml"
    original = load_spec(str(spec), ())
    hf = ROOT / "llmspec" / "data" / "presets" / "Llama-2-7b-hf.json"  # any architecture: only [training] compared
    result = run_cli("import", str(exported), "-o", str(back), "--hf-config", str(hf))
    assert result.code == 0, result.err
    again = load_spec(str(back), ())
    a, b = original.training, again.training
    assert {k: getattr(a, k) for k in KEPT} == {k: getattr(b, k) for k in KEPT} | {"stack": a.stack}
    assert {k: getattr(a.lora, k) for k in LORA_KEPT} == {k: getattr(b.lora, k) for k in LORA_KEPT}
    if a.method == "qlora":
        assert (a.lora.quant_format, a.lora.double_quant) == (b.lora.quant_format, b.lora.double_quant)


def test_precision_trl_cannot_express_is_one_line_exit_2(tmp_path):
    spec = SPECS[0]
    result = run_cli("export", str(spec), "--to", "trl", "--set", "training.precision=fp8-mixed")
    assert result.code == 2 and "training.precision = \"fp8-mixed\" has no TRL equivalent" in result.err
    assert result.err.count("\n") == 1


def test_value_without_a_trl_spelling_is_not_dropped(tmp_path):
    result = run_cli("export", str(SPECS[0]), "--to", "trl", "--set", "training.optimizer=adam")
    assert result.code == 2 and "training.optimizer = \"adam\" has no TRL optim equivalent" in result.err


def _leaves(tree, prefix):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _leaves(value, f"{prefix}.{key}")
    else:
        yield prefix, tree


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_every_training_key_survives_the_round_trip_or_is_named(tmp_path, spec):
    """Nothing is left out silently: each [training] key the spec's author wrote either comes back from
    import(export(spec)) with its value, or export named it on stderr at its own line."""
    out = tmp_path / "trl.yaml"
    exported = run_cli("export", str(spec), "--to", "trl", "-o", str(out))
    assert exported.code == 0, exported.err
    hf = ROOT / "llmspec" / "data" / "presets" / "Llama-2-7b-hf.json"
    back = tmp_path / "back.toml"
    assert run_cli("import", str(out), "-o", str(back), "--hf-config", str(hf)).code == 0
    original, again = load_spec(str(spec), ()), load_spec(str(back), ())
    named = {line.split(": not exported: ")[1].split(" ")[0]
             for line in exported.err.splitlines() if ": not exported: " in line}
    written = dict(_leaves(original.source.raw["training"], "training"))
    assert written
    for key, _ in written.items():
        field = key.split(".")[1:]
        a, b = original, again
        for part in ["training", *field]:
            a, b = getattr(a, part), getattr(b, part, None)
        if key == "training.stack":
            continue  # TRL's own stack after the trip; a different stack would be named
        assert a == b or key in named, f"{key}: {a!r} came back as {b!r} and export did not name it"
    lines = original.source.texts[str(spec)].splitlines()
    for line in exported.err.splitlines():
        if ": not exported: training." in line:
            where, rest = line.split(": not exported: ")
            key = rest.split(" ")[0].rsplit(".", 1)[-1]
            assert lines[int(where.split(":")[-2]) - 1].lstrip().startswith(key), line


def test_a_stack_trl_does_not_run_on_is_named(tmp_path):
    result = run_cli("export", str(SPECS[0]), "--to", "trl", "--set", "training.stack=torchtune")
    assert result.code == 0
    assert "<--set training.stack>:1:1: not exported: training.stack" in result.err


def test_export_writes_activation_checkpointing_not_the_deprecated_alias(tmp_path, monkeypatch):
    """transformers 5.24 renamed TrainingArguments.gradient_checkpointing to activation_checkpointing (the old name
    is a deprecated alias that raises a FutureWarning, removed in v6): the export writes the new name, and TRL's
    parser reads it without the warning."""
    import warnings

    out = _export(tmp_path, SPECS[0])
    text = out.read_text()
    assert "activation_checkpointing: true" in text and "gradient_checkpointing" not in text
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*gradient_checkpointing.*deprecated", category=FutureWarning)
        _, training_args, _, _ = _trl_parse(out, monkeypatch)
    assert training_args.activation_checkpointing is True


@pytest.mark.parametrize(("keys", "expected"), [
    ("gradient_checkpointing: false\n", False),  # the old name alone still imports (transformers still reads it)
    ("activation_checkpointing: false\n", False),
    ("activation_checkpointing: false\ngradient_checkpointing: true\n", False),  # the new name wins, as in TA
])
def test_import_reads_both_checkpointing_keys(tmp_path, monkeypatch, keys, expected):
    config = tmp_path / "trl.yaml"
    config.write_text("model_name_or_path: meta-llama/Llama-2-7b-hf\nmax_length: 512\noutput_dir: out\n" + keys)
    _, training_args, _, _ = _trl_parse(config, monkeypatch)
    assert training_args.activation_checkpointing is expected  # what TRL itself makes of the keys
    result = run_cli("import", str(config), "-o", str(tmp_path / "s.toml"))
    assert result.code == 0, result.err
    assert load_spec(str(tmp_path / "s.toml"), ()).training.activation_checkpointing is expected
    if "gradient" in keys and "activation" in keys:
        assert "unmapped: gradient_checkpointing (a deprecated alias of activation_checkpointing" in result.err


@pytest.mark.parametrize(("sharding", "offload", "reshard", "cpu_offload"), [
    ("fsdp", "none", True, False), ("zero2", "optimizer+params", False, True)])
def test_fsdp_export_passes_trls_parser_and_comes_back(tmp_path, monkeypatch, sharding, offload, reshard, cpu_offload):
    out = tmp_path / "trl.yaml"
    result = run_cli("export", str(SPECS[0]), "--to", "trl", "-o", str(out), "--set", f"hardware.sharding={sharding}",
                     "--set", f"hardware.offload={offload}")
    assert result.code == 0, result.err
    _, training_args, _, _ = _trl_parse(out, monkeypatch)
    assert training_args.fsdp  # transformers 5.24: fsdp=True, the strategy in fsdp_config
    assert training_args.fsdp_config["reshard_after_forward"] is reshard
    assert bool(training_args.fsdp_config.get("cpu_offload", False)) is cpu_offload
    back = tmp_path / "back.toml"
    hf = ROOT / "llmspec" / "data" / "presets" / "Llama-2-7b-hf.json"
    assert run_cli("import", str(out), "-o", str(back), "--hf-config", str(hf)).code == 0
    hw = load_spec(str(back), ()).hardware
    assert (hw.sharding, hw.offload) == (sharding, offload)


def test_paged_optimizer_round_trip(tmp_path, monkeypatch):
    out = tmp_path / "trl.yaml"
    result = run_cli("export", str(SPECS[0]), "--to", "trl", "-o", str(out), "--set", "training.optimizer=adamw_8bit",
                     "--set", "training.paged_optimizer=true")
    assert result.code == 0, result.err
    _, training_args, _, _ = _trl_parse(out, monkeypatch)
    assert str(training_args.optim.value) == "paged_adamw_8bit"
    back = tmp_path / "back.toml"
    hf = ROOT / "llmspec" / "data" / "presets" / "Llama-2-7b-hf.json"
    assert run_cli("import", str(out), "-o", str(back), "--hf-config", str(hf)).code == 0
    t = load_spec(str(back), ()).training
    assert (t.optimizer, t.paged_optimizer) == ("adamw_8bit", True)


@pytest.mark.parametrize("fixture", sorted((ROOT / "tests" / "bridges" / "fixtures").glob("trl_*.yaml")),
                         ids=lambda p: p.name)
def test_trl_fixtures_pass_trls_own_parser(fixture, monkeypatch):
    """The TRL fixtures the import tests read are configs `trl sft --config FILE` accepts."""
    pytest.importorskip("trl", reason="the trl extra is not installed")
    args = _trl_parse(fixture, monkeypatch)
    assert args[1].per_device_train_batch_size >= 1  # (script, training, model) dataclasses, as `trl sft` gets them
