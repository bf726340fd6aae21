"""Registry facts that depend on the transformers version (issue 9 follow-up: Falcon's attention path changed in
transformers 5.25.0). The version-dependent choice is tested directly, so these tests need neither 5.24 nor 5.25
installed; the measured figures on both versions are in benchmarks/memory_accuracy.md."""

from __future__ import annotations

from importlib import metadata

import pytest

from llmspec.estimate import hfversion
from llmspec.estimate.activations import layer_bytes_per_token, math_attention
from llmspec.spec.families import FAMILIES, preset_spec
from llmspec.spec.models import Architecture, Training


def falcon(name: str) -> Architecture:
    return Architecture(**preset_spec(name)["model"]["architecture"])


@pytest.mark.parametrize("version, math", [("5.24.0", True), ("5.23.1", True), ("4.45.2", True),
                                           ("5.25.0", False), ("5.25.0.dev0", False), ("5.26", False),
                                           ("6.0.0", False)])
def test_falcon_multi_query_takes_the_math_kernel_only_before_5_25(version, math):
    assert math_attention(falcon("Falcon-7B"), "falcon", transformers=version) is math


def test_the_choice_moves_the_estimate_by_the_math_kernel_term():
    arch, tr = falcon("Falcon-7B"), Training(method="full")
    old = layer_bytes_per_token(arch, tr, 2048, family="falcon")
    hfversion.transformers_version.cache_clear()
    try:
        with pytest.MonkeyPatch.context() as mp:  # stands for an installed 5.25 (the choice, not transformers)
            mp.setattr(hfversion.metadata, "version", lambda name: "5.25.0")
            new = layer_bytes_per_token(arch, tr, 2048, family="falcon")
    finally:
        hfversion.transformers_version.cache_clear()
    # 5.24 saves the fp32 scores and probabilities of 71 heads: 4 x n_heads x s + the fp32 q/k/v upcasts
    assert old - new == pytest.approx(4 * 71 * 2048 + 2 * 4544 + 4 * 64 - 4 * 71)


def test_new_decoder_architecture_and_other_families_never_take_it():
    assert not math_attention(falcon("Falcon-40B"), "falcon", transformers="5.24.0")  # 8 K/V heads
    assert not math_attention(falcon("Falcon-7B"), "gpt_neox", transformers="5.24.0")
    assert [f.model_type for f in FAMILIES.values() if f.mqa_math_sdpa_until] == ["falcon"]


def test_the_version_is_the_installed_one_read_without_import():
    hfversion.transformers_version.cache_clear()
    try:
        expected = metadata.version("transformers")
    except metadata.PackageNotFoundError:
        expected = hfversion.ASSUMED
    assert hfversion.transformers_version()[0] == expected


def test_without_transformers_the_assumed_version_is_used_and_said(monkeypatch):
    def missing(name):
        raise metadata.PackageNotFoundError(name)

    hfversion.transformers_version.cache_clear()
    monkeypatch.setattr(hfversion.metadata, "version", missing)  # stands for a core install without transformers
    try:
        assert hfversion.transformers_version() == (hfversion.ASSUMED, False)
        notes = hfversion.attention_version_notes(falcon("Falcon-7B"), "falcon")
        assert notes == [f"FalconForCausalLM attention as in transformers {hfversion.ASSUMED} (assumed: transformers "
                         "is not installed here): sdpa's math kernel for one K/V head (fp32 scores); the class "
                         "changed in 5.25.0"]
        assert hfversion.attention_version_notes(falcon("Falcon-40B"), "falcon") == []
    finally:
        hfversion.transformers_version.cache_clear()


def test_the_estimate_output_names_the_version(tmp_path):
    from click.testing import CliRunner

    from llmspec.cli import cli

    spec = tmp_path / "falcon.toml"
    spec.write_text('extends = "preset:Falcon-7B"\n\n[training]\nmethod = "lora"\nseq_len = 1024\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["estimate", str(spec)])
    assert result.exit_code == 0, result.output
    version, _ = hfversion.transformers_version()
    assert f"FalconForCausalLM attention as in transformers {version}" in result.output


@pytest.mark.parametrize("version, floor, expected", [("5.24.0", "5.25.0", False), ("5.25", "5.25.0", True),
                                                      ("5.25.1", "5.25.0", True), ("10.0", "5.25.0", True),
                                                      ("5.3.0", "5.25.0", False), ("garbage", "5.25.0", False)])
def test_at_least_compares_release_numbers(version, floor, expected):
    assert hfversion.at_least(version, floor) is expected
