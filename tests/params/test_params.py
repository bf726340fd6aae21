"""Exact parameter counts: published totals, breakdowns, MoE active counts and LoRA adapters, checked against
transformers models built on the meta device and against PEFT."""

from __future__ import annotations

import subprocess
import sys

import pytest
from params_checkpoints import CHECKPOINTS, load

from llmspec.estimate.params import ParamCount, count_params, lora_shapes
from llmspec.spec.hf_import import architecture_from_hf
from llmspec.spec.models import Architecture, Training


def arch_of(stem: str) -> tuple[str, Architecture]:
    family, arch = architecture_from_hf(load(stem))
    return family, Architecture(**arch)


def lora(rank: int, targets: list[str], method: str = "lora") -> Training:
    return Training(method=method, lora={"rank": rank, "targets": targets})


# Published totals: GPT-2 (Radford et al. 2019 / HF model card, 124M), Llama-2-7B and Mistral-7B (safetensors
# metadata of the hub checkpoints), Llama-3-8B (8.03B) and Mixtral-8x7B (46.7B total, 12.9B active per token).
PUBLISHED = {
    "gpt2": 124_439_808,
    "Llama-2-7b-hf": 6_738_415_616,
    "Mistral-7B-v0.1": 7_241_732_096,
    "Meta-Llama-3-8B": 8_030_261_248,
    "Mixtral-8x7B-v0.1": 46_702_792_704,
}


@pytest.mark.parametrize("stem, total", sorted(PUBLISHED.items()))
def test_published_totals(stem, total):
    assert count_params(arch_of(stem)[1]).total == total


def test_moe_active_parameters():
    mixtral = count_params(arch_of("Mixtral-8x7B-v0.1")[1])
    assert round(mixtral.active / 1e9, 1) == 12.9  # Mistral AI: "12.9B active parameters per token"
    qwen3 = count_params(arch_of("Qwen3-30B-A3B")[1])
    assert round(qwen3.total / 1e9, 1) == 30.5  # Qwen3 model card: 30.5B total, 3.3B activated
    assert 3.3e9 <= qwen3.active < 3.4e9


def test_dense_active_equals_total_and_full_training_trains_everything():
    count = count_params(arch_of("Llama-2-7b-hf")[1], Training(method="full"))
    assert count.active == count.total == count.trainable
    assert count.lora == 0


def test_breakdown_is_ordered_and_sums_to_total():
    count = count_params(arch_of("gpt2")[1])
    assert list(count.breakdown) == ["embeddings", "position_embeddings", "attention", "mlp", "norms", "head"]
    assert sum(count.breakdown.values()) == count.total
    assert count.breakdown["head"] == 0  # tied
    assert count.breakdown["position_embeddings"] == 1024 * 768
    moe = count_params(arch_of("Qwen1.5-MoE-A2.7B")[1])
    assert list(moe.breakdown) == ["embeddings", "attention", "experts", "router", "shared_experts", "norms", "head"]
    assert moe.breakdown["router"] == 24 * 2048 * 60
    assert moe.breakdown["shared_experts"] == 24 * (3 * 2048 * 5632 + 2048)  # + shared_expert_gate


# Qwen3-MoE / Qwen2-MoE with dense blocks (mlp_only_layers, decoder_sparse_step): no published checkpoint of
# these families has any, so the real configs are changed; transformers builds them (see the meta-device tests).
DENSE_VARIANTS = {
    "qwen3-moe-25-dense": ("Qwen3-30B-A3B", {"mlp_only_layers": [0, 47], "decoder_sparse_step": 2}),
    "qwen2-moe-16-dense": ("Qwen1.5-MoE-A2.7B", {"mlp_only_layers": [0], "decoder_sparse_step": 3}),
}


def variant(name: str) -> tuple[str, Architecture]:
    stem, change = DENSE_VARIANTS[name]
    family, arch = architecture_from_hf({**load(stem), **change})
    return family, Architecture(**arch)


def test_dense_layers_split_total_active_and_lora_by_hand():
    # Qwen3-30B-A3B with 25 dense blocks (the 24 even ones and 47) and 23 MoE blocks: d 2048, ffn_dim 6144,
    # 128 experts of 768, top-8 (Qwen3MoeDecoderLayer: Qwen3MoeMLP(intermediate_size) on dense blocks).
    family, arch = variant("qwen3-moe-25-dense")
    assert arch.moe.dense_layers == 25
    count = count_params(arch, lora(8, ["down_proj", "gate"]), family=family)
    assert list(count.breakdown) == ["embeddings", "attention", "mlp", "experts", "router", "norms", "head"]
    assert count.breakdown["mlp"] == 25 * 3 * 2048 * 6144
    assert count.breakdown["experts"] == 23 * 128 * 3 * 2048 * 768
    assert count.breakdown["router"] == 23 * 2048 * 128
    assert count.active == count.total - 23 * (128 - 8) * 3 * 2048 * 768
    # PEFT's conversion makes down_proj a target parameter of the 23 sparse blocks' experts: the 25 dense blocks'
    # down_proj linears get no adapter (test_dense_layers_lora_trainable_equals_peft)
    assert count.trainable == 8 * (23 * 128 * (768 + 2048) + 23 * (2048 + 128))
    assert count.unmatched_targets == ()


def test_qwen2_moe_dense_layers_have_no_shared_expert():
    _, arch = variant("qwen2-moe-16-dense")  # 24 blocks: sparse iff (i + 1) % 3 == 0 and i != 0 -> 8 sparse
    count = count_params(arch)
    assert count.breakdown["mlp"] == 16 * 3 * 2048 * 5632
    assert count.breakdown["shared_experts"] == 8 * (3 * 2048 * 5632 + 2048)
    assert count.breakdown["router"] == 8 * 2048 * 60


def test_all_blocks_dense_counts_as_the_dense_model():
    _, arch = arch_of("Qwen3-30B-A3B")
    dense = arch.model_copy(update={"moe": None})
    for n in (48, 60):  # dense_layers past n_layers: every block is dense
        all_dense = arch.model_copy(update={"moe": arch.moe.model_copy(update={"dense_layers": n})})
        count = count_params(all_dense, lora(4, ["gate", "down_proj"]))
        assert count.to_dict() == {**count_params(dense, lora(4, ["gate", "down_proj"])).to_dict(),
                                   "unmatched_targets": ["gate"]}


def test_to_dict_is_json_ready():
    import json

    data = count_params(arch_of("Mixtral-8x7B-v0.1")[1], lora(8, ["q_proj", "nope"])).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["unmatched_targets"] == ["nope"]
    assert isinstance(count_params(arch_of("gpt2")[1]), ParamCount)


def test_lora_by_hand_llama2_q_v():
    # LoRA paper (Hu et al. 2021) section 7: r x (d_in + d_out) per adapted matrix; Llama-2-7B q,v at r=8:
    # 32 layers x 2 matrices x 8 x (4096 + 4096) = 4,194,304.
    count = count_params(arch_of("Llama-2-7b-hf")[1], lora(8, ["q_proj", "v_proj"]))
    assert count.trainable == count.lora == 4_194_304
    assert count.total == 6_738_415_616


def test_lora_gqa_uses_kv_width_and_qlora_counts_the_same():
    _, arch = arch_of("Mistral-7B-v0.1")  # 8 kv heads x 128 = 1024 wide k/v
    count = count_params(arch, lora(16, ["k_proj"]))
    assert count.trainable == 32 * 16 * (4096 + 1024)
    assert count_params(arch, lora(16, ["k_proj"], method="qlora")).trainable == count.trainable


def test_lora_moe_adapts_every_expert():
    _, arch = arch_of("Mixtral-8x7B-v0.1")
    shapes = lora_shapes(arch, ["down_proj"])
    assert [(s.role, s.d_in, s.d_out, s.copies) for s in shapes] == [("expert.down", 14336, 4096, 32 * 8)]
    assert lora_shapes(arch, ["w2"]) == [type(shapes[0])("w2", "expert.down", 14336, 4096, 256)]


def test_lora_fused_families_use_their_module_names():
    family, arch = arch_of("Phi-3-mini-4k-instruct")
    assert {s.role for s in lora_shapes(arch, ["all-linear"], family)} == {"qkv", "o", "gate_up", "down"}
    assert count_params(arch, lora(8, ["q_proj"]), family=family).unmatched_targets == ("q_proj",)
    family, arch = arch_of("gpt2")
    assert [s.role for s in lora_shapes(arch, ["c_proj"], family)] == ["o", "down"]


def test_importing_params_does_not_import_torch():
    code = (
        "import sys, llmspec.estimate.params, llmspec.estimate, llmspec.spec.hf_import; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'lm_eval')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# --- against the real thing: transformers models on the meta device, and PEFT -------------------------------


def meta_model(stem: str, change: dict | None = None):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = {**load(stem), **(change or {})}
    model_type = config.pop("model_type")
    with torch.device("meta"):  # no memory allocated: shapes only
        return AutoModelForCausalLM.from_config(AutoConfig.for_model(model_type, **config))


@pytest.mark.eval
@pytest.mark.parametrize("stem", sorted(CHECKPOINTS))
def test_count_equals_transformers_meta_model(stem):
    model = meta_model(stem)
    assert count_params(arch_of(stem)[1]).total == sum(p.numel() for p in model.parameters())


@pytest.mark.eval
@pytest.mark.parametrize("name", sorted(DENSE_VARIANTS))
def test_dense_layers_count_equals_transformers_meta_model(name):
    model = meta_model(*DENSE_VARIANTS[name])
    assert count_params(variant(name)[1]).total == sum(p.numel() for p in model.parameters())


def peft_trainable(stem: str, rank: int, targets, change: dict | None = None) -> int:
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=targets, fan_in_fan_out=stem == "gpt2")  # Conv1D
    model = get_peft_model(meta_model(stem, change), config)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@pytest.mark.eval
@pytest.mark.parametrize(
    "stem, targets",
    [
        ("Llama-2-7b-hf", ["q_proj", "v_proj"]),
        ("Llama-2-7b-hf", "all-linear"),
        ("Mistral-7B-v0.1", "all-linear"),  # GQA
        ("Qwen3-8B", ["k_proj", "o_proj", "gate_proj"]),
        ("Phi-3-mini-4k-instruct", "all-linear"),  # fused qkv_proj / gate_up_proj
        ("gpt2", "all-linear"),  # Conv1D
        ("pythia-1.4b", "all-linear"),
        ("falcon-7b", "all-linear"),  # multi-query fused query_key_value
        ("opt-1.3b", "all-linear"),
        ("Mixtral-8x7B-v0.1", ["w2"]),  # one adapter per expert (PEFT: 3-D expert parameters)
        ("Mixtral-8x7B-v0.1", ["gate"]),  # the router
        ("Qwen3-30B-A3B", ["down_proj", "q_proj"]),
        ("Qwen1.5-MoE-A2.7B", ["q_proj", "shared_expert_gate"]),
    ],
)
def test_lora_trainable_equals_peft(stem, targets):
    family, arch = arch_of(stem)
    listed = [targets] if isinstance(targets, str) else targets
    expected = count_params(arch, lora(8, listed), family=family).trainable
    assert expected == peft_trainable(stem, 8, targets)


@pytest.mark.eval
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # PEFT's note on its own rank_pattern for the fused parameter
def test_peft_fuses_mixtral_w1_w3_on_transformers_5():
    """On transformers 5 the experts' w1/w3 are one fused gate_up_proj parameter, and PEFT gives it one rank-2r
    adapter (r x E x 2 x (d + 2f)) instead of two rank-r ones (2 x r x E x (d + f)). llmspec counts what PEFT builds
    (the registry's peft_experts = "fused"); it used to count the transformers-4 adapters, 2 x r x E x f fewer per
    layer."""
    family, arch = arch_of("Mixtral-8x7B-v0.1")
    ours = count_params(arch, lora(8, ["all-linear"]), family=family).trainable
    assert peft_trainable("Mixtral-8x7B-v0.1", 8, "all-linear") == ours


@pytest.mark.eval
@pytest.mark.parametrize(
    "name, targets",
    [
        ("qwen3-moe-25-dense", ["gate", "q_proj"]),  # the router only on the 23 MoE blocks
        ("qwen2-moe-16-dense", ["shared_expert_gate", "o_proj"]),  # the shared gate only on the 8 MoE blocks
        # PEFT 0.21 on transformers 5 turns an MLP name into a target parameter of the fused experts
        # (peft/utils/transformers_weight_conversion.py, _convert_peft_config_moe): on Qwen3-MoE the dense blocks'
        # linears of that name get no adapter, under "all-linear" too; Qwen2-MoE has no conversion
        ("qwen3-moe-25-dense", ["down_proj", "q_proj"]),
        ("qwen3-moe-25-dense", ["gate_proj", "up_proj"]),
        ("qwen3-moe-25-dense", "all-linear"),
        ("qwen2-moe-16-dense", ["gate_proj", "up_proj"]),
        ("qwen2-moe-16-dense", "all-linear"),
    ],
)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # PEFT's note on its own rank_pattern for the fused parameter
def test_dense_layers_lora_trainable_equals_peft(name, targets):
    stem, change = DENSE_VARIANTS[name]
    family, arch = variant(name)
    listed = [targets] if isinstance(targets, str) else targets
    assert count_params(arch, lora(8, listed), family=family).trainable == peft_trainable(stem, 8, targets, change)




# Dotted targets (issue 9): PEFT matches a target against each module path, exact or ending in "." + target
# (peft==0.21.2:peft/tuners/tuners_utils.py:check_target_module_exists), so a dotted suffix selects the modules of
# that path only. lora_shapes used to look the whole dotted string up in the layout and count no adapter for it.
DOTTED = [
    ("Llama-2-7b-hf", ["self_attn.q_proj", "self_attn.v_proj"], ["q_proj", "v_proj"]),
    ("Llama-2-7b-hf", ["mlp.down_proj", "model.layers.0.self_attn.o_proj"], None),  # a layer index: one block
    ("Llama-2-7b-hf", ["q_proj", "self_attn.q_proj", "layers.3.self_attn.q_proj"], ["q_proj"]),  # counted once
    ("Qwen3-8B", ["self_attn.k_proj", "mlp.gate_proj", "o_proj"], ["k_proj", "gate_proj", "o_proj"]),
    ("gpt2", ["attn.c_proj"], None),  # the attention's c_proj only, not the MLP's
    ("gpt2", ["attn.c_attn", "mlp.c_fc", "mlp.c_proj"], None),  # Conv1D; the MLP's c_proj only
    ("gpt2", ["attn.c_attn", "attn.c_proj", "mlp.c_proj"], ["c_attn", "c_proj"]),  # both c_proj, dotted
    ("Qwen1.5-MoE-A2.7B", ["shared_expert.gate_proj", "self_attn.q_proj"], None),  # the shared expert's only
    ("Mixtral-8x7B-v0.1", ["self_attn.v_proj", "mlp.gate"], None),
]


@pytest.mark.eval
@pytest.mark.parametrize("stem, dotted, undotted", DOTTED, ids=[f"{s}-{'-'.join(d)}" for s, d, _ in DOTTED])
def test_dotted_lora_targets_equal_peft(stem, dotted, undotted):
    """A dotted target adapts what PEFT adapts for it, and, where it selects the same modules as its last name,
    estimates exactly like the undotted spelling."""
    family, arch = arch_of(stem)
    ours = count_params(arch, lora(8, dotted), family=family)
    assert ours.unmatched_targets == ()
    assert ours.trainable == peft_trainable(stem, 8, dotted)
    if undotted is not None:
        assert ours.trainable == count_params(arch, lora(8, undotted), family=family).trainable
