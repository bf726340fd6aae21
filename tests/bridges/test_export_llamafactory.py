"""`llmspec export --to llamafactory`: the written YAML passes LLaMA-Factory's own get_train_args (in its own venv
with its pinned transformers; bf16-capability check patched, see peer_parse.py), and import(export(spec)) keeps the run."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from bridge_helpers import run_cli
from peer_helpers import accepted, peer_parse_all
from test_export_axolotl import FULL, KEPT, LORA_KEPT, SPECS

from llmspec.bridges.tables import table
from llmspec.project import load_spec

ROOT = Path(__file__).resolve().parents[2]
CASES = [(SPECS[0], ()), (SPECS[1], ()), (SPECS[0], FULL), (SPECS[0], ("--set", "training.method=full"))]
IDS = ["lora", "qlora", "full-pure-bf16", "full-bf16-mixed"]


def _export(tmp_path: Path, spec: Path, *extra: str) -> Path:
    out = tmp_path / "llamafactory.yaml"
    result = run_cli("export", str(spec), "--to", "llamafactory", "-o", str(out), *extra)
    assert result.code == 0, result.err
    return out


@pytest.mark.parametrize("spec, extra", CASES, ids=IDS)
def test_every_exported_key_is_a_llamafactory_key(tmp_path, spec, extra):
    assert set(yaml.safe_load(_export(tmp_path, spec, *extra).read_text())) <= table("llamafactory").known


@pytest.fixture(scope="module")
def parsed_exports(tmp_path_factory):
    """Every case exported, then one LLaMA-Factory process parsing them all."""
    paths = {i: _export(tmp_path_factory.mktemp(i), spec, *extra) for i, (spec, extra) in zip(IDS, CASES)}
    results = peer_parse_all("llamafactory", list(paths.values()))
    return {i: accepted(results, path) for i, path in paths.items()}


@pytest.mark.llamafactory
@pytest.mark.parametrize("spec, extra", CASES, ids=IDS)
def test_export_passes_llamafactorys_own_parser(parsed_exports, request, spec, extra):
    parsed = parsed_exports[request.node.callspec.id]
    t = load_spec(str(spec), extra[1::2]).training
    assert (parsed["per_device_train_batch_size"], parsed["gradient_accumulation_steps"]) == (
        t.micro_batch_size, t.gradient_accumulation)
    # DataArguments.__post_init__ takes one token off cutoff_len when packing ("avoid pad_to_multiple_of")
    assert parsed["cutoff_len"] == t.seq_len - t.packing and parsed["bf16"] is True
    assert parsed["finetuning_type"] == ("full" if t.method == "full" else "lora")
    assert parsed["quantization_bit"] == (4 if t.method == "qlora" else None)
    if t.method != "full":
        assert parsed["lora_rank"] == t.lora.rank


@pytest.mark.parametrize("spec, extra", CASES, ids=IDS)
def test_round_trip_keeps_training_and_memory_keys(tmp_path, spec, extra):
    exported = _export(tmp_path, spec, *extra)
    back = tmp_path / "back.toml"
    hf = ROOT / "llmspec" / "data" / "presets" / "Llama-2-7b-hf.json"  # any architecture: only [training] compared
    result = run_cli("import", str(exported), "-o", str(back), "--hf-config", str(hf))
    assert result.code == 0, result.err
    a, b = load_spec(str(spec), extra[1::2]).training, load_spec(str(back), ()).training
    assert {k: getattr(a, k) for k in KEPT} == {k: getattr(b, k) for k in KEPT}
    if a.method != "full":
        assert {k: getattr(a.lora, k) for k in LORA_KEPT} == {k: getattr(b.lora, k) for k in LORA_KEPT}
    if a.method == "qlora":
        assert (a.lora.quant_format, a.lora.double_quant) == (b.lora.quant_format, b.lora.double_quant)


def test_fsdp_without_an_output_file_is_one_line_exit_2():
    # FSDP needs a second file (the accelerate config): stdout cannot hold both
    result = run_cli("export", str(SPECS[0]), "--to", "llamafactory", "--set", "hardware.sharding=fsdp")
    assert result.code == 2 and result.err.count("\n") == 1
    assert "needs a second file beside its config (*.fsdp_config.yaml); give -o FILE to write both" in result.err


@pytest.mark.parametrize(("offload", "count", "nodes"), [("none", 8, 1), ("optimizer+params", 4, 2)])
def test_fsdp_export_writes_the_accelerate_config_beside_it(tmp_path, offload, count, nodes):
    """LLaMA-Factory 0.9.5 runs FSDP through accelerate (examples/accelerate/fsdp_config.yaml): the export writes
    that config beside the YAML, accelerate's own parser accepts it, and importing both gives the sharding back."""
    from accelerate.commands.config.config_args import ClusterConfig

    out = tmp_path / "lf.yaml"
    sets = ["--set", "hardware.sharding=fsdp", "--set", f"hardware.offload={offload}", "--set",
            f"hardware.count={count}", "--set", f"hardware.nodes={nodes}"]
    result = run_cli("export", str(SPECS[0]), "--to", "llamafactory", "-o", str(out), *sets)
    assert result.code == 0, result.err
    companion = tmp_path / "lf.fsdp_config.yaml"
    assert f"{companion}: written" in result.err
    parsed = ClusterConfig.from_yaml_file(str(companion))
    assert str(parsed.distributed_type) in ("FSDP", "DistributedType.FSDP")
    assert parsed.fsdp_config["fsdp_offload_params"] is (offload == "optimizer+params")
    assert (parsed.num_processes, parsed.num_machines) == (count * nodes, nodes)
    assert "deepspeed" not in yaml.safe_load(out.read_text())
    back = tmp_path / "back.toml"
    hf = ROOT / "llmspec" / "data" / "presets" / "Llama-2-7b-hf.json"
    imported = run_cli("import", str(out), str(companion), "-o", str(back), "--hf-config", str(hf))
    assert imported.code == 0, imported.err
    hw = load_spec(str(back), ()).hardware
    assert (hw.sharding, hw.offload, hw.count, hw.nodes) == ("fsdp", offload, count, nodes)


def test_fsdp_cannot_offload_the_optimizer_alone(tmp_path):
    result = run_cli("export", str(SPECS[0]), "--to", "llamafactory", "-o", str(tmp_path / "lf.yaml"),
                     "--set", "hardware.sharding=fsdp", "--set", "hardware.offload=optimizer")
    assert result.code == 2 and "FSDP offloads parameters and optimizer states together" in result.err
