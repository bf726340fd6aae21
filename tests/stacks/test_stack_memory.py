"""The stack and its knobs change the memory estimate the way their sources say, through the real loader and CLI."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from llmspec.cli import cli
from llmspec.estimate import training_memory
from llmspec.spec.loader import load_spec
from tests.conftest import LLAMA2_7B_MODEL

LLAMA2_7B = LLAMA2_7B_MODEL + """
[training]
micro_batch_size = 1
seq_len = 4096
activation_checkpointing = true

[hardware]
accelerator = "A100-80GB"
"""
N = 6_738_415_616


@pytest.fixture
def load(load_text):
    return lambda *overrides: load_text(LLAMA2_7B, *overrides)


def test_hf_trainer_default_is_fused_adamw_with_no_step_buffer(load):
    # AMP full fine-tune at the optimizer step: 4 weights + 4 grads + 8 states; foreach adds a 4-byte sqrt buffer
    fused = training_memory(load())
    foreach = training_memory(load("training.optimizer_impl=foreach"))
    assert fused.phases["optimizer"] == 16 * N
    assert foreach.phases["optimizer"] == 20 * N
    assert any("stack hf-trainer: optimizer_impl=fused" in a for a in fused.assumptions)
    assert any("set by the spec: optimizer_impl=foreach" in a for a in foreach.assumptions)


def test_optimizer_in_backward_leaves_one_gradient_live(load):
    est = training_memory(load("training.stack=torchtune", "training.optimizer_in_backward=true",
                               "training.precision=bf16"))
    assert 6 * N < est.phases["optimizer"] < 6.1 * N  # weights 2 + two bf16 states 4 + one tensor's gradient
    assert est.breakdown.get("gradients", 0) < 32000 * 4096 * 2 + 1


def test_paged_optimizer_states_leave_torchs_counters(load):
    est = training_memory(load("training.paged_optimizer=true"))
    assert "optimizer_states" not in est.breakdown
    assert any("outside torch's allocated/reserved counters" in a for a in est.assumptions)


def test_chunked_and_fused_linear_losses_shrink_the_loss_buffers(load):
    full = training_memory(load("training.activation_checkpointing=false"))
    chunked = training_memory(load("training.activation_checkpointing=false", "training.loss=chunked",
                                   "training.loss_chunks=8"))
    fused = training_memory(load("training.activation_checkpointing=false", "training.loss=fused-linear"))
    tokens = 4096
    # the chunked loss's backward: the larger of its start (4 B log-probs kept, one chunk's 8 B) and the second chunk's
    # head backward (two head-sized bf16 gradients, seven chunks' bf16 logits gradients: estimate.loss_backward)
    chunked_loss = max((4 + 8 / 8) * 32000 * tokens, 2 * 2 * 32000 * 4096 + 7 / 8 * 2 * 32000 * tokens)
    assert full.phases["backward"] - chunked.phases["backward"] == pytest.approx(12 * 32000 * tokens - chunked_loss,
                                                                                   rel=1e-6)
    assert fused.phases["backward"] < chunked.phases["backward"]


def test_activation_offload_keeps_about_two_layers(load):
    on = training_memory(load("training.activation_checkpointing=false", "training.activation_offload=true"))
    off = training_memory(load("training.activation_checkpointing=false"))
    assert off.breakdown["activations"] > 25e9  # 32 layers x 4096 tokens saved
    assert off.phases["forward"] - on.phases["forward"] > 0.9 * off.breakdown["activations"]


def test_compile_is_labelled_assumed(load):
    est = training_memory(load("training.compile=true"))
    assert any("ASSUMED" in a and "torch.compile" in a for a in est.assumptions)


def test_qlora_adapted_only_keeps_other_linears_16_bit(load):
    base = ("training.method=qlora", 'training.lora.targets=["q_proj", "v_proj"]')
    every = training_memory(load(*base))
    adapted = training_memory(load(*base, "training.lora.quantize=adapted"))
    # q and v are 2/ (4 attention + 3 MLP matrices of 11008) of the block linears; the rest go from 4 to 16 bits
    assert adapted.breakdown["weights"] > every.breakdown["weights"] + 8e9


def test_torchtune_qlora_default_quantises_every_block_linear_of_llama_and_the_adapted_ones_of_qwen2(load):
    # torchtune 0.6.1: lora_llama3_self_attention makes an unadapted q/k/v/output projection a FrozenNF4Linear and
    # llama3_mlp(quantize_base) the MLP; lora_qwen2 keeps them nn.Linear (tests/stacks/test_presets.py reads both).
    # The preset used to say "adapted" for every family: k, o and the MLP counted 16-bit on Llama.
    base = ("training.stack=torchtune", "training.precision=bf16", "training.method=qlora",
            'training.lora.targets=["q_proj", "v_proj"]')
    llama = load(*base)
    assert llama.training.lora.quantize == "all-linear"
    assert "quantize" not in llama.training.lora.model_fields_set  # the stack's, not the user's
    assert "lora_llama3_self_attention" in llama.training.stack_sources()["qlora_quantize"]
    est = training_memory(llama)
    every = training_memory(load(*base, "training.lora.quantize=all-linear"))
    adapted = training_memory(load(*base, "training.lora.quantize=adapted"))
    assert est.breakdown["weights"] == every.breakdown["weights"] < adapted.breakdown["weights"] - 8e9
    assert any("qlora_quantize=all-linear from its preset" in a for a in est.assumptions)
    assert not any("set by the spec" in a and "qlora_quantize" in a for a in est.assumptions)

    qwen = load(*base, "model.family=qwen2")
    assert qwen.training.lora.quantize == "adapted"
    assert "lora_qwen2" in qwen.training.stack_sources()["qlora_quantize"]
    unknown = load(*base, "model.family=gpt2")  # no torchtune QLoRA builder: the knob's own default
    assert unknown.training.lora.quantize is None and "qlora_quantize" not in unknown.training.stack_sources()
    assert load(*base, "training.lora.quantize=adapted").training.lora.quantize == "adapted"  # the spec wins


def test_fp32_adapters_double_the_trainable_bytes(load):
    base = ("training.method=lora", "training.precision=bf16")
    half = training_memory(load(*base, "training.lora.dtype=bf16"))
    full = training_memory(load(*base, "training.lora.dtype=fp32"))
    assert full.breakdown["optimizer_states"] == 2 * half.breakdown["optimizer_states"]


def test_deepspeed_auto_buckets_follow_hidden_size(load):
    z = ("hardware.count=8", "hardware.sharding=zero3")
    auto = training_memory(load(*z, "hardware.deepspeed.optimizer=fused-adam"))
    big = training_memory(load(*z, "hardware.deepspeed.reduce_bucket_size=500000000"))
    assert big.breakdown["gathered_layers"] - auto.breakdown["gathered_layers"] == 2 * (500_000_000 - 4096 * 4096)


def test_estimate_json_names_the_stack_sources(write_spec):
    path = write_spec(LLAMA2_7B.replace("[training]\n", '[training]\nstack = "torchtune"\n'))
    result = CliRunner().invoke(cli, ["estimate", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    notes = json.loads(result.output)["memory"]["training"]["assumptions"]
    assert any(n.startswith("stack torchtune: ") and "loss=chunked" in n for n in notes)


def test_unknown_stack_is_one_line_with_did_you_mean_exit_2(write_spec):
    path = write_spec(LLAMA2_7B.replace("[training]\n", '[training]\nstack = "torchtun"\n'))
    for command in (["check", str(path)], ["estimate", str(path)]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 2
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and "did you mean 'torchtune'?" in lines[0] and f"{path}:15:1:" in lines[0]


def test_fsdp_no_sync_keeps_unsharded_block_gradients_under_lora_only_where_blocks_hold_the_adapters(load):
    # accelerate (per-block FSDP1 wrap, adapters in the block's flat parameter) skips the reduce-scatter on
    # accumulation micro-batches and keeps each block's whole bf16 gradient, frozen weights included; LitGPT
    # (FSDP2, adapters sharded per parameter) keeps only the adapters' (tests/stacks/test_fsdp_deferred_sync.py
    # checks both against real FSDP)
    from llmspec.estimate.shapes import layout
    from llmspec.spec.models import Architecture

    lora = ("training.method=lora", "training.precision=bf16", "hardware.count=2", "hardware.sharding=fsdp",
            "training.gradient_accumulation=8")
    blocks = 32 * layout(Architecture(n_layers=32, d_model=4096, n_heads=32, ffn_dim=11008, vocab_size=32000,
                                      context_length=4096)).layer_params * 2
    deferred = training_memory(load("training.stack=accelerate", *lora))
    synced = training_memory(load("training.stack=accelerate", *lora, "training.sync_each_batch=true"))
    assert deferred.per_gpu_bytes - synced.per_gpu_bytes > 0.95 * blocks
    assert any("FSDP no_sync" in a and "each block's whole gradient" in a for a in deferred.assumptions)
    assert any("sync_each_batch=false" in a for a in deferred.assumptions)
    lit = training_memory(load("training.stack=litgpt", *lora))
    lit_synced = training_memory(load("training.stack=litgpt", *lora, "training.sync_each_batch=true"))
    assert any("only the adapters' gradients" in a for a in lit.assumptions)
    assert 0 <= lit.per_gpu_bytes - lit_synced.per_gpu_bytes < 0.01 * blocks
    # torchtune reduce-scatters every micro-batch; one micro-batch has nothing to defer
    tt = training_memory(load("training.stack=torchtune", *lora))
    assert not any("FSDP no_sync" in a for a in tt.assumptions)
    single = training_memory(load("training.stack=litgpt", *lora[:-1]))
    assert not any("FSDP no_sync" in a for a in single.assumptions)


def test_plain_mlp_saves_half_the_gated_mlp_activations():
    # fc -> gelu -> proj keeps the activation's input and output (f-wide each; LoRA: only its input, the frozen proj
    # needs none); a gated MLP keeps gate, up, act(gate) and the product (LoRA: three of them)
    from llmspec.estimate.activations import layer_bytes_per_token
    from llmspec.spec.models import Architecture, Lora, Training

    dims = dict(n_layers=4, d_model=2048, n_heads=32, ffn_dim=8192, vocab_size=51200, context_length=2048)
    gated, plain = Architecture(**dims, activation="swiglu"), Architecture(**dims, activation="gelu")
    lora = Training(stack="litgpt", method="lora", precision="bf16", lora=Lora(targets=["q_proj", "v_proj"]))
    full = Training(stack="litgpt", method="full", precision="bf16")
    for tr, fewer in ((lora, 4), (full, 4)):
        assert layer_bytes_per_token(gated, tr, 1024) - layer_bytes_per_token(plain, tr, 1024) == fewer * 8192


def test_stacks_with_their_own_model_classes_skip_the_transformers_class_fit():
    # the registry's gpt_neox fit was measured on transformers' GPTNeoXLayer; LitGPT trains its own Block
    from llmspec.estimate.activations import layer_bytes_per_token
    from llmspec.spec.models import Architecture, Lora, Training

    neox = Architecture(n_layers=4, d_model=4096, n_heads=32, ffn_dim=16384, vocab_size=50688, context_length=4096,
                        activation="gelu", norm="layernorm", parallel_attention=True)
    lo = Lora(targets=["query_key_value"], dtype="bf16")  # both stacks' adapters in bf16: no fp32 input copy
    hf = layer_bytes_per_token(neox, Training(method="lora", precision="bf16", lora=lo), 1024, family="gpt_neox")
    lit = layer_bytes_per_token(neox, Training(stack="litgpt", method="lora", precision="bf16", lora=lo), 1024,
                                family="gpt_neox")
    assert lit - hf == 8 * 4096  # the fit's -8 x d_model for transformers' class; the MLP term is the same 2 x f


def test_estimate_says_lora_targets_came_from_peft(load):
    est = training_memory(load("training.method=lora"))
    assert any("lora.targets = ['q_proj', 'v_proj']: PEFT's default for model_type llama" in a for a in est.assumptions)
    told = training_memory(load("training.method=lora", 'training.lora.targets=["q_proj","k_proj"]'))
    assert not any("PEFT's default" in a for a in told.assumptions)


def test_lightning_quantises_the_head_from_fp16_and_old_bitsandbytes_keeps_inputs(load):
    # LitGPT's BitsandbytesPrecision: every nn.Linear 4-bit (the head too), quantised from fp16 (two transients of
    # the dequantised head: fp16 and its bf16 cast); bitsandbytes < 0.43.2 kept each 4-bit matmul's input
    qlora = ("training.stack=litgpt", "training.method=qlora", "training.precision=bf16", "training.seq_len=512",
             "training.activation_checkpointing=false", "training.lora.double_quant=false")
    lit = training_memory(load(*qlora))
    hf_layout = training_memory(load(*qlora, "training.lora.quantize=all-linear"))
    head = 32000 * 4096
    assert lit.breakdown["weights"] == pytest.approx(hf_layout.breakdown["weights"] - head * (2 - 4.5 / 8), abs=2)
    assert lit.breakdown["dequant_buffer"] == head * 4
    old_bnb = training_memory(load(*qlora, "training.lora.quant_saves_input=true"))
    saved = 2 * (2 * 4096 + 4096 + 11008) * 32 * 512
    assert old_bnb.breakdown["activations"] - lit.breakdown["activations"] == saved


def test_bitsandbytes_4bit_inference_scales_head_and_dequant_buffer(tmp_path):
    # LitGPT generate with quantize=bnb.nf4(-dq): every nn.Linear NF4 (head included), an absmax per 64 weights,
    # and the dequantised head (fp16 + its bf16 cast) live in the head's matmul
    from llmspec.estimate import inference_memory
    from llmspec.estimate.shapes import layout
    from llmspec.spec.models import Architecture

    path = tmp_path / "serve.toml"
    path.write_text(LLAMA2_7B.replace("[training]\nmicro_batch_size = 1\nseq_len = 4096\nactivation_checkpointing = true\n",
                                      '[inference]\nprecision = "int4"\nseq_len = 56\n'), encoding="utf-8")
    blocks = layout(Architecture(n_layers=32, d_model=4096, n_heads=32, ffn_dim=11008, vocab_size=32000,
                                 context_length=4096)).block_linear_numel
    head = 32000 * 4096
    groups = inference_memory(load_spec(path))
    nf4 = inference_memory(load_spec(path, ["inference.quant_format=nf4", "inference.quantize_head=true"]))
    dq = inference_memory(load_spec(path, ["inference.quant_format=nf4", "inference.quantize_head=true",
                                           "inference.double_quant=true"]))
    assert nf4.breakdown["quant_scales"] == round((blocks + head) * 4 / 64)
    assert dq.breakdown["quant_scales"] == round((blocks + head) * (1 / 64 + 4 / (64 * 256)))
    assert groups.breakdown["weights"] - nf4.breakdown["weights"] == pytest.approx(head * 1.5, abs=2)
    assert nf4.breakdown["dequant_buffer"] == head * 4
    assert "dequant_buffer" not in groups.breakdown


def test_fsdp_root_unit_stays_unsharded_through_forward_and_backward(load):
    # torch does not reshard the root FSDP unit after forward (FSDP1 _post_forward_reshard, FSDP2 FSDPState): the
    # parameters outside the wrapped blocks (embeddings, final norm, head) are whole on every rank, bf16 under AMP
    from llmspec.estimate.shapes import layout
    from llmspec.spec.models import Architecture

    lay = layout(Architecture(n_layers=32, d_model=4096, n_heads=32, ffn_dim=11008, vocab_size=32000,
                              context_length=4096))
    est = training_memory(load("training.stack=torchtune", "hardware.count=8", "hardware.sharding=fsdp"))
    root = N - 32 * lay.layer_params
    assert root >= 2 * 32000 * 4096
    assert est.breakdown["gathered_layers"] == 2 * lay.layer_params * 2 + root * 2
    assert any("FSDP root unit" in a for a in est.assumptions)


def test_dora_under_checkpointing_keeps_one_block_not_every_block(tmp_path):
    # the audit's case: 65 GiB of DoRA activations and a false MEM001 on a run whose checkpointed blocks keep one
    # block's DoRA outputs at a time (tests/stacks/test_dora_measured.py measures the real peft DoRA)
    args = ["lint", "examples/llama2-7b-lora-a100.toml", "--set", "training.micro_batch_size=10", "--select", "MEM001"]
    for dora in ("false", "true"):
        result = CliRunner().invoke(cli, [*args, "--set", f"training.lora.dora={dora}"])
        assert result.exit_code == 0, result.output
    spec = load_spec("examples/llama2-7b-lora-a100.toml", ("training.micro_batch_size=10",))
    dora = load_spec("examples/llama2-7b-lora-a100.toml", ("training.micro_batch_size=10", "training.lora.dora=true"))
    tokens, outs = 10 * 2048, 3 * 4096 + 4096  # q, k, v, o of one block (bf16-mixed: 2 + 2 bytes per element)
    extra = training_memory(dora).breakdown["activations"] - training_memory(spec).breakdown["activations"]
    assert extra == pytest.approx(4 * outs * tokens + 2 * 4 * 4096 * tokens, rel=1e-6)
    assert any("DoRA: magnitude vectors; one recomputed block's" in a for a in training_memory(dora).assumptions)


def test_dora_without_checkpointing_keeps_every_adapted_output_by_dtype(load):
    # bf16-mixed: base and LoRA outputs both bf16 under autocast (4 B); pure bf16 with PEFT's fp32 adapters: the
    # LoRA path runs in fp32 (2 + 4 B)
    for precision, per in (("bf16-mixed", 4), ("bf16", 6)):
        base = ("training.method=lora", "training.activation_checkpointing=false", f"training.precision={precision}",
                'training.lora.targets=["q_proj", "v_proj"]')
        plain, dora = training_memory(load(*base)), training_memory(load(*base, "training.lora.dora=true"))
        extra = dora.breakdown["activations"] - plain.breakdown["activations"]
        assert extra == pytest.approx(per * 32 * 2 * 4096 * 4096, rel=1e-6), precision


def test_lora_on_lm_head_counts_the_adapter_once_and_keeps_its_input(load):
    base = ("training.method=lora", "training.activation_checkpointing=false", "training.lora.rank=16")
    plain = training_memory(load(*base, 'training.lora.targets=["q_proj", "v_proj"]'))
    head = training_memory(load(*base, 'training.lora.targets=["q_proj", "v_proj", "lm_head"]'))
    numel = 16 * (4096 + 32000)  # lora_A (r x hidden) + lora_B (vocab x r)
    # bf16-mixed, fp32 adapters (PEFT): two fp32 Adam states of each adapter element, counted once
    assert head.breakdown["optimizer_states"] - plain.breakdown["optimizer_states"] == 8 * numel
    # its input and lora_A's output, bf16 under autocast, per token
    assert head.breakdown["activations"] - plain.breakdown["activations"] == 2 * (4096 + 16) * 4096


def test_padded_batches_state_the_assumed_row_length():
    args = ["estimate", "examples/llama2-7b-lora-a100.toml", "--format", "json"]
    padded = json.loads(CliRunner().invoke(cli, [*args, "--set", "training.packing=false"]).output)
    packed = json.loads(CliRunner().invoke(cli, args).output)
    note = "batches padded, not packed: each of the 4 rows assumed padded to seq_len = 2,048 tokens"
    assert any(a.startswith(note) for a in padded["memory"]["training"]["assumptions"])
    assert not any("padded" in a for a in packed["memory"]["training"]["assumptions"])
    # the rows cost what packed rows cost; sdpa (hf-trainer's default) adds the padded batch's dense mask, which the
    # spec's checkpointed blocks keep: 4 x 2,048^2 bool bytes (llmspec.estimate.mask)
    assert padded["memory"]["training"]["per_gpu_bytes"] - packed["memory"]["training"]["per_gpu_bytes"] == 4 * 2048**2
