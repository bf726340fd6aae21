"""`llmspec import train.yaml accelerate.yaml`: accelerate's `--config_file` YAML given beside the training config.

Fixtures (sources, huggingface/accelerate main, examples/config_yaml_templates/): accelerate_deepspeed.yaml
(deepspeed.yaml, its DeepSpeed file pointed at the zero_stage1 fixture), accelerate_fsdp.yaml (fsdp.yaml),
accelerate_multi_node.yaml (multi_node.yaml plus compute_environment and mixed_precision). Each is read by
accelerate's own parser (ClusterConfig.from_yaml_file, accelerate 1.16.0, which refuses unknown keys).
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest
from bridge_helpers import FIXTURES, run_cli

from llmspec.bridges.sharding import ACCELERATE_KEYS

ROOT = FIXTURES.parents[2]
ACC = sorted(FIXTURES.glob("accelerate_*.yaml"))
TRAIN = ("model_name_or_path: meta-llama/Llama-2-7b-hf\ndataset_name: trl-lib/Capybara\nmax_length: 1024\n"
         "per_device_train_batch_size: 2\noutput_dir: out\n")
EXPECTED = {  # fixture -> (sharding, count per node, nodes, precision)
    "accelerate_deepspeed": ("zero1", 2, None, "fp16-mixed"),  # fp16 from the DeepSpeed file it names
    "accelerate_fsdp": ("fsdp", 2, None, "bf16-mixed"),
    "accelerate_multi_node": ("none", 4, 2, "bf16-mixed"),  # num_processes is the total over num_machines
}


@pytest.fixture
def at_root(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the deepspeed fixture names its DeepSpeed file relative to the repository
    train = tmp_path / "train.yaml"
    train.write_text(TRAIN)
    return train


def test_three_accelerate_fixtures():
    assert len(ACC) >= 3


@pytest.mark.parametrize("config", ACC, ids=lambda p: p.stem)
def test_accelerates_own_parser_accepts_the_fixture(config):
    from accelerate.commands.config.config_args import ClusterConfig

    parsed = ClusterConfig.from_yaml_file(str(config))
    assert parsed.num_processes in (2, 8)


def test_our_key_list_is_accelerates():
    from accelerate.commands.config.config_args import ClusterConfig

    assert ACCELERATE_KEYS == {f.name for f in dataclasses.fields(ClusterConfig)}


@pytest.mark.parametrize("config", ACC, ids=lambda p: p.stem)
def test_import_with_the_accelerate_config_beside(at_root, config, tmp_path):
    out = tmp_path / "spec.toml"
    result = run_cli("import", str(at_root), str(config.relative_to(ROOT)), "-o", str(out))
    assert result.code == 0, result.err
    spec = tomllib.loads(out.read_text())
    sharding, count, nodes, precision = EXPECTED[config.stem]
    hw = spec["hardware"]
    assert (hw.get("sharding", "none"), hw["count"], hw.get("nodes"), spec["training"]["precision"]) == \
        (sharding, count, nodes, precision)
    for line_no, line in enumerate(config.read_text().splitlines(), 1):
        key = line.split(":", 1)[0]
        if line and not line.startswith((" ", "#")) and key in ("machine_rank", "rdzv_backend", "same_network"):
            assert f"{config.relative_to(ROOT)}:{line_no}:1: unmapped: {key} (accelerate" in result.err
    check = run_cli("check", str(out))
    assert check.code == 0, check.out + check.err


def test_fsdp_keys_of_accelerate_are_each_reported(at_root, tmp_path):
    config = "tests/bridges/fixtures/accelerate_fsdp.yaml"
    result = run_cli("import", str(at_root), config, "-o", str(tmp_path / "spec.toml"))
    for key in ("fsdp_auto_wrap_policy", "fsdp_backward_prefetch", "fsdp_state_dict_type", "fsdp_use_orig_params"):
        assert f"unmapped: fsdp_config.{key} (accelerate" in result.err
    assert "fsdp_offload_params" not in result.err and "fsdp_sharding_strategy" not in result.err  # both mapped


@pytest.mark.parametrize(("text", "expected"), [
    ("distributed_type: MULTI_GPU\nnum_processes: 2\nnum_gpus: 2\n", "acc.yaml:3:1: accelerate 1.16.0 has no key 'num_gpus'"),
    ("distributed_type: MULTI_GPU\nnum_processes: 3\nnum_machines: 2\n", "acc.yaml:2:1: num_processes = 3 is not a multiple of num_machines = 2"),
    ("distributed_type: TPU\nnum_processes: 8\n", "acc.yaml:1:1: unsupported: distributed_type = 'TPU'"),
    ("name: CI\non: push\n", "acc.yaml:1:1: not an accelerate, DeepSpeed or FSDP config"),
    ("distributed_type: [1\n", "acc.yaml:2:1: YAML syntax error"),
])
def test_bad_accelerate_configs(at_root, tmp_path, text, expected):
    acc = tmp_path / "acc.yaml"
    acc.write_text(text)
    result = run_cli("import", str(at_root), str(acc), "-o", str(tmp_path / "spec.toml"))
    assert expected in result.err.replace(str(tmp_path) + "/", ""), result.err
    if "unsupported" not in expected:
        assert result.code == 2 and len(result.err.strip().splitlines()) == 1, result.err


def test_accelerate_precision_that_contradicts_the_training_config(at_root, tmp_path):
    Path(at_root).write_text(TRAIN + "fp16: true\n")
    result = run_cli("import", str(at_root), "tests/bridges/fixtures/accelerate_fsdp.yaml", "-o", str(tmp_path / "s.toml"))
    assert result.code == 2
    assert "accelerate_fsdp.yaml:5:1: mixed_precision = 'bf16' contradicts fp16 = True" in result.err


def test_lint_with_the_accelerate_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.yaml").write_text(TRAIN)
    (tmp_path / "fsdp.yaml").write_text((FIXTURES / "accelerate_fsdp.yaml").read_text())
    named = run_cli("lint", "-f", "concise", "train.yaml", "fsdp.yaml")
    assert named.code == 2 and named.err.startswith("fsdp.yaml:3:1: an accelerate config, not a training config; "
                                                    "lint the training config with --sharding-config fsdp.yaml")
    result = run_cli("lint", "-f", "concise", "train.yaml", "--sharding-config", "fsdp.yaml",
                     "--set", "hardware.accelerator=A100-80GB")
    assert result.code in (0, 1), result.out + result.err
    assert "memory checked on 2x A100-80GB" in result.out  # num_processes: 2 from the accelerate config
