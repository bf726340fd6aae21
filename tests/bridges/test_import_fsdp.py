"""`fsdp` / `fsdp_config` of HF TrainingArguments in a `trl sft` config -> hardware.sharding / offload and
activation checkpointing.

Fixtures (sources noted in each file): fsdp_trl_full_shard.yaml, fsdp_trl_offload.yaml (+ fsdp_config.json it
names) and fsdp_trl_hybrid.yaml, after transformers' docs/source/en/fsdp.md on trl 1.16.0's CLI config format.
TRL's own parser (`trl sft`'s TrlParser, unknown keys fatal) accepts each of them.
"""

from __future__ import annotations

import tomllib

import pytest
from bridge_helpers import FIXTURES, run_cli

ROOT = FIXTURES.parents[2]
FSDP = sorted(FIXTURES.glob("fsdp_trl_*.yaml"))
EXPECTED = {  # fixture -> (sharding, offload, activation_checkpointing)
    "fsdp_trl_full_shard": ("fsdp", "none", True),  # fsdp_config activation_checkpointing replaces gradient_checkpointing
    "fsdp_trl_offload": ("zero2", "optimizer+params", True),  # shard_grad_op ~ ZeRO-2; TRL's gradient_checkpointing default
    "fsdp_trl_hybrid": ("none", "none", True),  # hybrid_shard: reported unsupported, nothing guessed
}


@pytest.fixture
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # fsdp_trl_offload names its fsdp_config JSON relative to the repository, as HF reads it


def test_three_fsdp_fixtures():
    assert len(FSDP) >= 3


@pytest.mark.parametrize("config", FSDP, ids=lambda p: p.stem)
def test_trls_own_parser_accepts_the_fixture(at_root, config, monkeypatch):
    # no GPU here: TrainingArguments raises on bf16 unless a bf16 device exists, so that capability check is patched
    # to say yes (the only mock, as in test_export_trl.py; the fixture is never changed to use_cpu)
    import transformers.training_args as ta
    from trl.scripts.sft import make_parser

    monkeypatch.setattr(ta, "is_torch_bf16_gpu_available", lambda *a, **k: True)
    _, training_args, _, _ = make_parser().parse_args_and_config(["--config", str(config)], fail_with_unknown_args=True)
    assert training_args.fsdp  # TrainingArguments parsed the fsdp options


@pytest.mark.parametrize("config", FSDP, ids=lambda p: p.stem)
def test_import_maps_fsdp(at_root, tmp_path, config):
    out = tmp_path / "spec.toml"
    rel = str(config.relative_to(ROOT))
    result = run_cli("import", rel, "-o", str(out))
    assert result.code == 0, result.err
    spec = tomllib.loads(out.read_text())
    hw = spec.get("hardware", {})
    assert (hw.get("sharding", "none"), hw.get("offload", "none"), spec["training"]["activation_checkpointing"]) == \
        EXPECTED[config.stem]
    assert run_cli("check", str(out)).code == 0


def test_every_fsdp_config_key_is_mapped_or_reported(at_root, tmp_path):
    result = run_cli("import", "tests/bridges/fixtures/fsdp_trl_offload.yaml", "-o", str(tmp_path / "s.toml"))
    text = (FIXTURES / "fsdp_config.json").read_text().splitlines()
    for line_no, line in enumerate(text, 1):
        if line.strip().startswith('"fsdp_'):
            key = line.strip().split('"')[1].removeprefix("fsdp_")
            if key != "activation_checkpointing":  # mapped
                assert f"tests/bridges/fixtures/fsdp_config.json:{line_no}:5: unmapped: {key} (FSDP config" in result.err


def test_hybrid_sharding_is_reported_unsupported(at_root, tmp_path):
    result = run_cli("import", "tests/bridges/fixtures/fsdp_trl_hybrid.yaml", "-o", str(tmp_path / "s.toml"))
    assert "fsdp_trl_hybrid.yaml:9:1: unsupported: fsdp option 'hybrid_shard'" in result.err


def test_both_checkpointing_switches_on_is_refused_as_hf_refuses_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.yaml").write_text(
        "model_name_or_path: meta-llama/Llama-2-7b-hf\nmax_length: 1024\ngradient_checkpointing: true\n"
        "fsdp: full_shard auto_wrap\nfsdp_config:\n  activation_checkpointing: true\n")
    result = run_cli("import", "train.yaml")
    assert result.code == 2
    assert result.err.startswith("train.yaml:6:3: activation_checkpointing and gradient_checkpointing (train.yaml:3:1) "
                                 "are both on, which the HF Trainer refuses")


def test_lint_points_at_the_fsdp_key(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.yaml").write_text("model_name_or_path: meta-llama/Llama-2-7b-hf\nmax_length: 1024\n"
                                         "fsdp: full_shard auto_wrap\n")
    result = run_cli("lint", "-f", "concise", "train.yaml", "--set", "hardware.accelerator=A100-80GB")
    assert "train.yaml:3:1: HW005 [warning] sharding = 'fsdp' with a data-parallel degree of 1" in result.out
