"""`llmspec import train.yaml ds_config.json`: DeepSpeed configs -> hardware.sharding / offload / deepspeed.

Fixtures (sources): deepspeed_zero1.json, deepspeed_zero2.json and deepspeed_zero3_offload.json are accelerate's
examples/deepspeed_config_templates/zero_stage1_config.json, zero_stage2_config.json and
zero_stage3_offload_config.json (huggingface/accelerate main), re-indented. They are checked by the real
parsers: transformers' HfTrainerDeepSpeedConfig fills the "auto" values from TrainingArguments and collects the
values that contradict them (the same contradictions our import refuses), and DeepSpeed's own DeepSpeedConfig
(deepspeed 0.19.8, installed on this CPU machine with `DS_BUILD_OPS=0 pip install --no-build-isolation deepspeed`:
no op is built) parses the filled config; that test is skipped where deepspeed is not installed.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
from bridge_helpers import FIXTURES, run_cli

DS = sorted(FIXTURES.glob("deepspeed_*.json"))
EXPECTED = {  # fixture -> (sharding, offload, DeepSpeed optimizer)
    "deepspeed_zero1": ("zero1", "none", None),  # torch_adam: true -> torch's AdamW, no DeepSpeed optimizer
    "deepspeed_zero2": ("zero2", "none", None),
    "deepspeed_zero3_offload": ("zero3", "optimizer+params", "cpu-adam"),  # DS Adam with offload = DeepSpeedCPUAdam
}
# the fixtures enable fp16 and accumulate 1 step: the training config agrees, as the HF Trainer demands
TRAIN = ("model_name_or_path: meta-llama/Llama-2-7b-hf\ndataset_name: trl-lib/Capybara\nmax_length: 1024\n"
         "per_device_train_batch_size: 2\ngradient_accumulation_steps: 1\nfp16: true\noutput_dir: out\n")


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.yaml").write_text(TRAIN)
    return tmp_path


def _import(*configs: str):
    result = run_cli("import", *configs, "-o", "spec.toml")
    return result, (tomllib.loads(Path("spec.toml").read_text()) if result.code == 0 else None)


def test_three_deepspeed_fixtures():
    assert len(DS) >= 3


@pytest.mark.parametrize("config", DS, ids=lambda p: p.stem)
def test_import_maps_sharding_and_reports_every_other_key(here, config):
    result, spec = _import("train.yaml", str(config))
    assert result.code == 0, result.err
    hw = spec["hardware"]
    sharding, offload, optimizer = EXPECTED[config.stem]
    assert (hw["sharding"], hw.get("offload", "none"), hw.get("deepspeed", {}).get("optimizer")) == (sharding, offload, optimizer)
    assert hw["deepspeed"]["reduce_bucket_size"] == "auto"
    assert spec["training"]["precision"] == "fp16-mixed"
    # every key that maps nowhere has its own line at its JSON position
    text = config.read_text().splitlines()
    for key in ("steps_per_print", "wall_clock_breakdown", "gradient_clipping"):
        line = next(i for i, s in enumerate(text, 1) if f'"{key}"' in s)
        assert f"{config}:{line}:5: unmapped: {key} (DeepSpeed; the spec has no field for it)" in result.err
    assert "zero_optimization.overlap_comm (DeepSpeed" in result.err
    check = run_cli("check", "spec.toml")
    assert check.code == 0, check.out + check.err


def test_the_training_config_names_its_deepspeed_file(here):
    (here / "ds.json").write_text((FIXTURES / "deepspeed_zero3_offload.json").read_text())
    (here / "train.yaml").write_text(TRAIN + "deepspeed: ds.json\n")
    result, spec = _import("train.yaml")
    assert result.code == 0, result.err
    assert (spec["hardware"]["sharding"], spec["hardware"]["offload"]) == ("zero3", "optimizer+params")
    # and lint points a finding about the sharding at the DeepSpeed file's own line
    lint = run_cli("lint", "-f", "concise", "train.yaml", "--set", "hardware.accelerator=A100-80GB")
    stage = next(i for i, s in enumerate((here / "ds.json").read_text().splitlines(), 1) if '"stage"' in s)
    assert f"ds.json:{stage}:9: HW005 [warning] sharding = 'zero3' with a data-parallel degree of 1" in lint.out


def test_a_missing_deepspeed_file_is_one_line(here):
    (here / "train.yaml").write_text(TRAIN + "deepspeed: nowhere.json\n")
    result, _ = _import("train.yaml")
    assert result.code == 2 and result.err.startswith("train.yaml:8:1: deepspeed: 'nowhere.json' not found")


def test_a_json_syntax_error_is_file_line_col(here):
    (here / "ds.json").write_text('{\n  "zero_optimization": {"stage": 2,}\n}\n')
    result, _ = _import("train.yaml", "ds.json")
    assert result.code == 2 and result.err.startswith("ds.json:2:36: JSON syntax error"), result.err


@pytest.fixture(autouse=True)
def _no_global_deepspeed_config():
    """transformers keeps the last HfTrainerDeepSpeedConfig in a module-level weakref that every later model build in
    this process reads (is_deepspeed_zero3_enabled); clear it after each test."""
    yield
    import sys

    if "transformers.integrations.deepspeed" in sys.modules:
        sys.modules["transformers.integrations.deepspeed"].unset_hf_deepspeed_config()


def _hf_mismatches(ds: dict, **args) -> list[str]:
    # HfTrainerDeepSpeedConfig needs the deepspeed package (its constructor checks the distribution), and it registers
    # itself in a module-level weakref that transformers reads when it builds any model: unset it afterwards, or a
    # later from_config in the same process asks this object is_zero3()
    pytest.importorskip("deepspeed", reason="DS_BUILD_OPS=0 pip install --no-build-isolation deepspeed")
    from transformers import TrainingArguments
    from transformers.integrations.deepspeed import HfTrainerDeepSpeedConfig, unset_hf_deepspeed_config

    try:
        hf = HfTrainerDeepSpeedConfig(ds)
        hf.trainer_config_process(TrainingArguments(output_dir="out", report_to=[], **args))
        return hf.mismatches
    finally:
        unset_hf_deepspeed_config()


@pytest.mark.parametrize(("ds_value", "refused"), [("auto", False), (2, False), (4, True)])
def test_a_value_that_contradicts_the_training_config_is_refused_as_hf_refuses_it(here, ds_value, refused):
    ds = json.loads((FIXTURES / "deepspeed_zero2.json").read_text())
    ds["train_micro_batch_size_per_gpu"] = ds_value
    (here / "ds.json").write_text(json.dumps(ds, indent=4))
    result, _ = _import("train.yaml", "ds.json")
    assert (result.code == 2) is refused, result.err
    if refused:
        assert "train_micro_batch_size_per_gpu = 4 contradicts per_device_train_batch_size = 2 (train.yaml:4:1)" in result.err
    # transformers' own check (it also needs fp16 to match: the CPU cannot run fp16, so fp16 is left out of it)
    ds["fp16"]["enabled"] = "auto"
    assert bool(_hf_mismatches(ds, per_device_train_batch_size=2, gradient_accumulation_steps=1)) is refused


@pytest.mark.parametrize("config", DS, ids=lambda p: p.stem)
def test_deepspeeds_own_parser_reads_the_fixture_as_we_do(here, config):
    pytest.importorskip("deepspeed", reason="DS_BUILD_OPS=0 pip install --no-build-isolation deepspeed")
    from deepspeed.runtime.config import DeepSpeedConfig
    from transformers import TrainingArguments
    from transformers.integrations.deepspeed import HfTrainerDeepSpeedConfig

    ds = json.loads(config.read_text())
    ds["fp16"]["enabled"] = "auto"  # TrainingArguments(fp16=True) needs a GPU; "auto" takes it from the arguments
    hf = HfTrainerDeepSpeedConfig(ds)
    args = TrainingArguments(output_dir="out", report_to=[], per_device_train_batch_size=2, gradient_accumulation_steps=1)
    hf.trainer_config_process(args)
    hf.trainer_config_finalize(args, SimpleNamespace(config=SimpleNamespace(hidden_size=4096)), 100)
    parsed = DeepSpeedConfig(hf.config)
    _, spec = _import("train.yaml", str(config))
    sharding = {0: "none", 1: "zero1", 2: "zero2", 3: "zero3"}[parsed.zero_optimization_stage]
    offload = parsed.zero_config.offload_optimizer
    params = parsed.zero_config.offload_param
    ours = spec["hardware"]
    assert ours["sharding"] == sharding
    assert ours.get("offload", "none") == ("optimizer+params" if params is not None and params.device != "none" else
                                           "optimizer" if offload is not None and offload.device != "none" else "none")
    assert parsed.train_micro_batch_size_per_gpu == spec["training"]["micro_batch_size"]
