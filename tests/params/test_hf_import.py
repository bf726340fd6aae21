"""Importing Hugging Face config.json files: each family's quirks, and the errors for what a spec cannot say."""

from __future__ import annotations

import pytest
from params_checkpoints import CHECKPOINTS, CONFIGS, load

from llmspec.spec.hf_import import HFConfigError, architecture_from_hf, families, supported_model_types
from llmspec.spec.models import Architecture


def imported(stem: str) -> dict:
    return architecture_from_hf(load(stem))[1]


def imported_with(stem: str, change: dict) -> dict:
    return architecture_from_hf({**load(stem), **change})[1]


@pytest.mark.parametrize("stem", sorted(CHECKPOINTS))
def test_every_checkpoint_imports_to_a_valid_architecture(stem):
    family, arch = architecture_from_hf(load(stem))
    assert family == load(stem)["model_type"]
    Architecture(**arch)


def test_supported_model_types_cover_the_brief():
    assert set(supported_model_types()) >= {
        "llama", "mistral", "mixtral", "qwen2", "qwen3", "qwen3_moe", "gemma", "gemma2", "phi3", "gpt2",
        "gpt_neox", "falcon", "opt", "olmo"}


@pytest.mark.parametrize(
    "stem, expected",
    [
        ("falcon-7b", {"n_kv_heads": 1, "norms_per_layer": 1, "parallel_attention": True, "ffn_dim": 4 * 4544,
                       "norm": "layernorm", "tie_embeddings": True, "qkv_bias": False}),
        ("falcon-40b", {"n_kv_heads": 8, "norms_per_layer": 2, "parallel_attention": True}),
        ("gemma-2-9b", {"norms_per_layer": 4, "head_dim": 256, "activation": "geglu", "tie_embeddings": True}),
        ("gemma-7b", {"head_dim": 256, "activation": "geglu", "tie_embeddings": True}),
        ("Qwen3-8B", {"qk_norm": True, "n_kv_heads": 8, "qkv_bias": False}),
        ("Qwen2.5-0.5B", {"qkv_bias": True, "attn_out_bias": False, "tie_embeddings": True, "n_kv_heads": 2}),
        ("OLMo-1B-hf", {"norm": "nonparametric", "tie_embeddings": True}),
        ("gpt2", {"position": "learned", "learned_positions": 1024, "d_model": 768, "ffn_dim": 3072,
                  "activation": "gelu_new", "qkv_bias": True, "attn_out_bias": True, "mlp_bias": True}),
        ("opt-1.3b", {"position": "learned", "learned_positions": 2050, "context_length": 2048,
                      "activation": "relu", "final_norm": True, "mlp_bias": True}),
        ("pythia-1.4b", {"parallel_attention": True, "norm": "layernorm", "tie_embeddings": False,
                         "qkv_bias": True, "mlp_bias": True, "activation": "gelu"}),
        ("Phi-3-mini-4k-instruct", {"activation": "swiglu", "tie_embeddings": False, "n_kv_heads": 32}),
        ("Mixtral-8x7B-v0.1", {"moe": {"n_experts": 8, "experts_per_token": 2}}),
        ("Qwen3-30B-A3B", {"head_dim": 128, "qk_norm": True,
                           "moe": {"n_experts": 128, "experts_per_token": 8, "expert_ffn_dim": 768}}),
        ("Qwen1.5-MoE-A2.7B", {"qkv_bias": True, "moe": {
            "n_experts": 60, "experts_per_token": 4, "expert_ffn_dim": 1408, "shared_experts": 1,
            "shared_expert_ffn_dim": 5632, "shared_expert_gate": True}}),
    ],
)
def test_family_quirks(stem, expected):
    arch = imported(stem)
    assert {key: arch.get(key) for key in expected} == expected


def test_head_dim_only_written_when_it_differs_from_d_model_over_heads():
    assert "head_dim" not in imported("Qwen3-8B")  # 128 == 4096 / 32
    assert imported("Qwen3-30B-A3B")["head_dim"] == 128  # 2048 / 32 = 64


def test_missing_keys_take_the_transformers_defaults():
    arch = architecture_from_hf({"model_type": "mistral"})[1]
    assert (arch["n_layers"], arch["n_kv_heads"], arch["context_length"]) == (32, 8, 131072)
    assert architecture_from_hf({"model_type": "qwen3"})[1]["qk_norm"] is True


def test_falcon_sequential_block_has_two_norms_and_alibi():
    config = {**load("falcon-7b"), "parallel_attn": False, "alibi": True, "multi_query": False}
    arch = architecture_from_hf(config)[1]
    assert (arch["norms_per_layer"], arch["position"], arch["n_kv_heads"]) == (2, "alibi", 71)


def test_opt_without_pre_norm_has_no_final_norm():
    config = {**load("opt-1.3b"), "do_layer_norm_before": False}
    assert architecture_from_hf(config)[1]["final_norm"] is False


def test_unknown_model_type_is_one_line_listing_the_supported_ones():
    with pytest.raises(HFConfigError) as info:
        architecture_from_hf({"model_type": "bert"})
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("unsupported model_type 'bert'; supported: ")
    assert "llama" in message and "olmo" in message


def test_missing_model_type():
    with pytest.raises(HFConfigError, match="unsupported model_type None"):
        architecture_from_hf({"hidden_size": 8})


def test_opt_350m_projection_cannot_be_expressed():
    config = {**load("opt-1.3b"), "hidden_size": 1024, "word_embed_proj_dim": 512, "num_attention_heads": 16}
    with pytest.raises(HFConfigError, match="word_embed_proj_dim \\(512\\) differs from hidden_size \\(1024\\)"):
        architecture_from_hf(config)


@pytest.mark.parametrize(
    "change, dense",
    [
        ({"mlp_only_layers": [0, 1]}, 2),
        ({"decoder_sparse_step": 2}, 24),  # layers 0, 2, ..., 46: (i + 1) % 2 != 0
        ({"decoder_sparse_step": 2, "mlp_only_layers": [0, 1, 3, 47]}, 27),  # 24 even + 1, 3, 47
        ({"decoder_sparse_step": 3}, 32),
        ({"mlp_only_layers": [5, 5, 48, 100]}, 1),  # indices past num_hidden_layers (48) build nothing
        ({"mlp_only_layers": [48]}, 0),
        ({"mlp_only_layers": None}, 0),  # Qwen3MoeConfig: None -> []
    ],
)
def test_qwen_moe_dense_layers_are_counted(change, dense):
    moe = imported_with("Qwen3-30B-A3B", change)["moe"]
    assert moe.get("dense_layers", 0) == dense
    assert (moe["n_experts"], moe["expert_ffn_dim"]) == (128, 768)


def test_qwen2_moe_dense_layers_keep_the_shared_expert_on_the_sparse_ones():
    arch = imported_with("Qwen1.5-MoE-A2.7B", {"decoder_sparse_step": 2, "mlp_only_layers": [1]})
    assert arch["ffn_dim"] == 5632  # the dense blocks' MLP width (intermediate_size)
    assert arch["moe"]["dense_layers"] == 13  # 12 even layers of 24, and layer 1
    assert (arch["moe"]["shared_experts"], arch["moe"]["shared_expert_gate"]) == (1, True)


@pytest.mark.parametrize("stem", ["Qwen3-30B-A3B", "Qwen1.5-MoE-A2.7B"])
@pytest.mark.parametrize("change", [{"num_experts": 0}, {"decoder_sparse_step": 100}])
def test_qwen_moe_without_any_sparse_block_is_a_dense_model(stem, change):
    arch = imported_with(stem, change)
    assert "moe" not in arch
    assert arch["ffn_dim"] == load(stem)["intermediate_size"]


@pytest.mark.parametrize(
    "change, match",
    [
        ({"decoder_sparse_step": 0}, "'decoder_sparse_step' must be at least 1"),
        ({"mlp_only_layers": "0,1"}, "'mlp_only_layers' must be a list of layer indices"),
        ({"mlp_only_layers": [0, "1"]}, "'mlp_only_layers' must be a list of layer indices"),
    ],
)
def test_bad_dense_layer_keys_are_clear_errors(change, match):
    with pytest.raises(HFConfigError, match=match):
        architecture_from_hf({**load("Qwen3-30B-A3B"), **change})


def test_qwen2_moe_gate_without_shared_expert_cannot_be_expressed():
    with pytest.raises(HFConfigError, match="shared_expert_intermediate_size = 0"):
        architecture_from_hf({**load("Qwen1.5-MoE-A2.7B"), "shared_expert_intermediate_size": 0})


def test_gpt2_cross_attention_cannot_be_expressed():
    with pytest.raises(HFConfigError, match="add_cross_attention"):
        architecture_from_hf({**load("gpt2"), "add_cross_attention": True})


@pytest.mark.parametrize(
    "change, match",
    [
        ({"hidden_size": "4096"}, "'hidden_size' must be an integer"),
        ({"tie_word_embeddings": "no"}, "'tie_word_embeddings' must be true or false"),
        ({"hidden_act": "mish"}, "hidden_act 'mish'"),
        ({"num_attention_heads": 0}, "imported architecture is invalid: n_heads"),
    ],
)
def test_bad_values_are_clear_errors(change, match):
    with pytest.raises(HFConfigError, match=match):
        architecture_from_hf({**load("Llama-2-7b-hf"), **change})


def test_hf_config_error_is_a_value_error():
    assert issubclass(HFConfigError, ValueError)


@pytest.mark.eval
@pytest.mark.parametrize("family", sorted(families()))
def test_table_defaults_match_transformers(family):
    """Every default in the family registry (llmspec/spec/families.py) is what the transformers config class uses."""
    from transformers import CONFIG_MAPPING

    config = CONFIG_MAPPING[family]()
    for key, value in families()[family].defaults.items():
        if value == "":  # "derived": checked through the meta-device counts instead
            continue
        assert getattr(config, key) == value, (family, key)


def test_spec_with_hf_config_loads_through_the_loader_and_written_keys_win(tmp_path):
    """The loader imports [model] hf_config with this module; architecture keys in the spec override it."""
    from llmspec.spec.loader import load_spec

    (tmp_path / "config.json").write_text((CONFIGS / "Mistral-7B-v0.1.json").read_text())
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text('[model]\nname = "m"\nhf_config = "config.json"\n\n'
                         "[model.architecture]\ncontext_length = 8192\n")
    spec = load_spec(spec_file)
    expected = {**imported("Mistral-7B-v0.1"), "context_length": 8192}
    assert spec.arch == Architecture(**expected)
    assert spec.model.family == "mistral"
