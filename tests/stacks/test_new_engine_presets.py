"""The torchao-generate and autoawq engine presets (issue 12), and the hf-generate stack of the published runs.

Neither package is installed here (torchao's generate.py is a script of the pytorch/ao repository, AutoAWQ is not a
dependency), so each preset value is tested against the source text it cites, quoted below as read (AutoAWQ at tag
v0.2.9; pytorch/ao torchao/_models/llama/generate.py at 00109449b1ef, model.py at 1f66d473d693), and its effect on the
estimate against hand-computed bytes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from llmspec.estimate import inference_memory
from llmspec.spec.loader import load_spec
from llmspec.spec.stacks import engine

ROOT = Path(__file__).resolve().parents[2]

# Quoted source lines (the text each preset value cites)
AWQ_CACHE = '''size = (
            cache_batch_size,
            max_seq_len,
            n_kv_heads if n_kv_heads != 0 else n_heads,
            head_dim,
        )
        self.v = torch.zeros(
            size,
            device=device,
            dtype=torch.float16,
        )'''  # awq/modules/fused/cache.py:WindowedCache.__init__
AWQ_MAX_SEQ_LEN = '''if max_seq_len is None and hasattr(self, "max_seq_len_key"):
            config = AutoConfig.from_pretrained(
                model_path, trust_remote_code=trust_remote_code, **config_kwargs
            )
            config.max_seq_len = getattr(config, self.max_seq_len_key, 2048)'''  # base.py:_load_config
AWQ_KEY = 'max_seq_len_key = "max_position_embeddings"'  # awq/models/llama.py:LlamaAWQForCausalLM
AWQ_FUSE_DEFAULT = '''fuse_layers: Annotated[
            bool,
            Doc(
                "Whether to use fused/optimized combination of layers for increased speed."
            ),
        ] = True,'''  # base.py:from_quantized
AWQ_PREFILL = '''if seqlen > 1:
            output = flash_attn_func('''  # awq/modules/fused/attn.py:QuantAttentionFused.forward
AWQ_GENERATE = '''with torch.inference_mode():
            return self.model.generate(*args, **kwargs)'''  # base.py:BaseAWQForCausalLM.generate
TORCHAO_CACHE = '''if cache_size is None:
            cache_size = max_seq_length'''  # generate.py:generate
TORCHAO_SETUP = 'model.setup_caches(max_batch_size=1, max_seq_length=cache_size'  # generate.py:generate
TORCHAO_MASK = '''if not self.linear_causal_mask:
            self.causal_mask = torch.tril(
                torch.ones(self.max_seq_length, self.max_seq_length, dtype=torch.bool)
            )'''  # model.py:Transformer.setup_caches
TORCHAO_MASK_FLAG = "linear_causal_mask: bool=False"  # generate.py:main
TORCHAO_LOGITS = '''x = self.norm(x)
        logits = self.output(x)
        return logits'''  # model.py:Transformer.forward
TORCHAO_HEAD = "self.output = nn.Linear(config.dim, config.vocab_size, bias=False)"  # model.py:Transformer.__init__
TORCHAO_TIE = "tie_word_embeddings: bool = False"  # model.py:ModelArgs
TORCHAO_SDPA = "y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask"  # model.py:Attention.forward


@pytest.mark.parametrize(("backend", "knob", "value", "quoted", "symbol"), [
    ("autoawq", "kv_allocation", "static", AWQ_CACHE + AWQ_FUSE_DEFAULT, "WindowedCache.__init__"),
    ("autoawq", "kv_cache_tokens", "context_length", AWQ_MAX_SEQ_LEN + AWQ_KEY, "_load_config"),
    ("autoawq", "attention", "flash", AWQ_PREFILL, "QuantAttentionFused.forward"),
    ("autoawq", "logits", "last", AWQ_GENERATE, "BaseAWQForCausalLM.generate"),
    ("torchao-generate", "kv_allocation", "static", TORCHAO_CACHE + TORCHAO_SETUP, "generate.py:generate"),
    ("torchao-generate", "mask_buffer", "dense", TORCHAO_MASK + TORCHAO_MASK_FLAG, "Transformer.setup_caches"),
    ("torchao-generate", "logits", "all", TORCHAO_LOGITS, "Transformer.forward"),
    ("torchao-generate", "tie_embeddings", False, TORCHAO_HEAD + TORCHAO_TIE, "ModelArgs.tie_word_embeddings"),
    ("torchao-generate", "attention", "sdpa", TORCHAO_SDPA, "Attention.forward"),
])
def test_preset_value_is_what_its_cited_source_says(backend, knob, value, quoted, symbol):
    default = engine(backend)[knob]
    assert default.value == value and symbol in default.source
    # the quoted text is the evidence for the value (what each line shows, in words)
    evidence = {
        ("autoawq", "kv_allocation"): "torch.zeros" in quoted and "max_seq_len" in quoted and "= True" in quoted,
        ("autoawq", "kv_cache_tokens"): "max_position_embeddings" in quoted and "max_seq_len is None" in quoted,
        ("autoawq", "attention"): "flash_attn_func" in quoted,
        ("autoawq", "logits"): "self.model.generate" in quoted,
        ("torchao-generate", "kv_allocation"): "max_seq_length=cache_size" in quoted,
        ("torchao-generate", "mask_buffer"): "torch.tril" in quoted and "linear_causal_mask: bool=False" in quoted,
        ("torchao-generate", "logits"): "logits = self.output(x)" in quoted,
        ("torchao-generate", "tie_embeddings"): "nn.Linear" in quoted and "= False" in quoted,
        ("torchao-generate", "attention"): "scaled_dot_product_attention" in quoted,
    }
    assert evidence[(backend, knob)]


def test_no_preset_for_what_the_sources_leave_to_the_run():
    # torchao generate.py's int4 group size has no default (-q int4wo-<g>), AutoAWQ's is the checkpoint's
    for backend in ("torchao-generate", "autoawq"):
        assert "weight_group_size" not in engine(backend)
    assert "kv_cache_tokens" not in engine("torchao-generate")  # its cache is prompt + max_new_tokens: seq_len


SPEC = """
[model]
name = "Llama-2-7B"
family = "llama"
architecture = { n_layers = 32, d_model = 4096, n_heads = 32, ffn_dim = 11008, vocab_size = 32000, context_length = 4096 }
[inference]
precision = "int4"
seq_len = 512
[hardware]
accelerator = "RTX-4090"
"""


@pytest.fixture
def load(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text(SPEC, encoding="utf-8")
    return lambda *o: load_spec(path, o)


def test_autoawq_cache_is_the_context_length_and_the_prompt_stays_the_runs(load):
    kv_per_token = 2 * 32 * 32 * 128 * 2  # K and V x layers x heads x head_dim x fp16
    est = inference_memory(load("inference.backend=autoawq"))
    assert est.breakdown["kv_cache"] == kv_per_token * 4096
    assert any("prefill of 1 x 512 prompt tokens, KV cache of 4096 tokens" in a for a in est.assumptions)
    assert any("kv_cache_tokens=context_length" in a for a in est.assumptions)  # estimate says where it came from
    told = inference_memory(load("inference.backend=autoawq", "inference.kv_cache_tokens=1024"))
    assert told.breakdown["kv_cache"] == kv_per_token * 1024
    hf = inference_memory(load("inference.backend=hf"))  # a dynamic cache holds seq_len: kv_cache_tokens unused
    assert hf.breakdown["kv_cache"] == kv_per_token * 512
    ignored = inference_memory(load("inference.backend=hf", "inference.kv_cache_tokens=4096"))
    assert ignored.breakdown["kv_cache"] == kv_per_token * 512
    assert any("kv_cache_tokens does not apply to a dynamic KV cache" in a for a in ignored.assumptions)


def test_torchao_generate_keeps_a_square_bool_mask_of_its_cache(load):
    est = inference_memory(load("inference.backend=torchao-generate", "inference.seq_len=8190"))
    assert est.breakdown["mask_buffer"] == 8192 * 8192  # 8190 rounded up to a multiple of 8 (find_multiple), 1 B
    linear = inference_memory(load("inference.backend=torchao-generate", "inference.seq_len=8190",
                                   "inference.mask_buffer=none"))
    assert "mask_buffer" not in linear.breakdown
    assert est.per_gpu_bytes - linear.per_gpu_bytes == 8192 * 8192


def _bench():
    spec = importlib.util.spec_from_file_location("published_memory", ROOT / "benchmarks/published_memory.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_published_runs_build_through_the_engine_presets():
    import tomllib

    bench = _bench()
    assert {"hf-generate", "torchao-generate", "autoawq"} <= bench.preset_stacks()
    models = bench.load_models()
    runs = {r["id"]: r for r in tomllib.loads((ROOT / "benchmarks/published/runs.toml").read_text())["run"]}
    torchao = bench.build_spec(runs["torchao-quant-llama-2-7b-bf16"], models)
    assert torchao.inference.backend == "torchao-generate"
    assert torchao.inference.mask_buffer == "none"  # no static_causal_mask need: 216 tokens, 46 KB
    hf = bench.build_spec(next(r for r in runs.values() if r["stack"] == "hf-generate" and not r.get("exclude")),
                          models)
    assert hf.inference.backend == "hf"
    row = {"stack": "torchao-generate", "needs": ["static_causal_mask"],
           "spec": {"inference": {"seq_len": 8192}}}
    assert bench.engine_knobs(row) == {}
    assert bench.NEEDS_KNOBS["static_causal_mask"] == {"inference.mask_buffer": "dense"}
    awq = {"stack": "autoawq", "needs": ["awq_window_cache"], "spec": {"inference": {"seq_len": 64}}}
    assert bench.engine_knobs(awq) == {"inference.kv_cache_tokens": 64}


def test_torchao_decode_expands_the_whole_cache_to_every_head(load):
    from llmspec.estimate.inference import torchao_decode

    spec = load("inference.backend=torchao-generate", "inference.precision=bf16", "inference.seq_len=8190",
                "inference.prompt_tokens=6")
    unit = 8190 * 128 * 2  # one head's cache of 8190 tokens, bf16
    decode, scales, _ = torchao_decode(spec, 8190, 1, 2, 1)
    assert decode == 2 * 32 * unit and scales == 0  # k and v repeat_interleave'd to 32 heads
    est = inference_memory(spec)  # a 6-token prefill: the decode step is the peak
    assert est.breakdown["prefill_activations"] == decode
    kvq = load("inference.backend=torchao-generate", "inference.precision=bf16", "inference.seq_len=8190",
               "inference.prompt_tokens=6", "inference.kv_cache_precision=int8")
    decode_q, scales_q, notes = torchao_decode(kvq, 8190, 1, 2, 1)
    assert decode_q == (2 * 32 + 32) * unit  # + v_out, the dequantised cache still live
    assert scales_q == 2 * 32 * 32 * 8190 * 2  # K and V x layers x heads x tokens x bf16 scale
    assert inference_memory(kvq).breakdown["kv_cache"] == 2 * 32 * 32 * 128 * 8190 + scales_q
    assert any("int8 KV cache scales" in n for n in notes)


def test_optimum_rows_take_their_kernel_legacy_cache_and_counter():
    """A frozen optimum row (built here, not read from a blind file) gets the AutoGPTQ kernel its cited table row
    names, the legacy tuple cache its setup states, and the counter its benchmark_memory prints."""
    bench = _bench()
    row = {"stack": "hf-generate", "needs": ["gptq_kernel_buffers", "gptq_g_idx", "nvml_external_memory"],
           "cite": "x: 'Generation benchmark results' table, 'Batch size = 4', row gptq / autogptq-cuda-old, 1 MB",
           "setup": "model.generate(..., use_cache=True, the legacy tuple cache grown by torch.cat)",
           "spec": {"inference": {"seq_len": 1024}}}
    assert bench.engine_knobs(row) == {"inference.quant_kernel": "cuda-old", "inference.kv_cache_growth": "whole"}
    v2 = {**row, "cite": "x: row gptq / exllamav2, 1 MB", "setup": "transformers 5"}
    assert bench.engine_knobs(v2) == {"inference.quant_kernel": "exllamav2"}
    v1 = {**row, "cite": "x: row gptq / exllama, 1 MB", "setup": ""}
    assert bench.engine_knobs(v1) == {"inference.quant_kernel": "exllama"}
    assert {"gptq_kernel_buffers", "gptq_g_idx", "fp32_attention_softmax"} <= bench.KNOBBED
    assert bench.NEEDS_COUNTER == {"nvml_external_memory": "allocated+external"}


def test_autoawq_fuse_layers_copies_q_k_v_at_load():
    """autoawq==0.2.9:awq/models/llama.py:LlamaFuser.fuse_transformer + awq/utils/fused_utils.py:fuse_qkv: every
    layer's q, k and v qweight (0.5 B per weight), qzeros (int32 (in / g, out / 8): 0.5 / g) and fp16 scales
    (2 / g) are concatenated while the unfused layers are still referenced. Hand count for Llama-2-7B at g128."""
    from llmspec.estimate import inference_memory
    from llmspec.spec.models import Spec

    arch = {"n_layers": 32, "d_model": 4096, "n_heads": 32, "ffn_dim": 11008, "vocab_size": 32000,
            "context_length": 4096}

    def est(family: str, prompt: int, batch: int = 1):
        return inference_memory(Spec.model_validate({
            "model": {"name": "x", "family": family, "architecture": arch},
            "inference": {"backend": "autoawq", "precision": "int4", "weight_group_size": 128, "batch_size": batch,
                          "seq_len": prompt, "prompt_tokens": prompt, "kv_cache_tokens": prompt}}))

    qkv = 32 * 3 * 4096 * 4096
    hand = qkv // 2 + 32 * 3 * (4096 // 128) * (4096 // 8) * 4 + 32 * 3 * (4096 // 128) * 4096 * 2
    small = est("llama", 64)
    assert small.breakdown["awq_fusion_copy"] == hand
    assert small.peak_phase == "load" and "prefill_activations" not in small.breakdown
    # a long prefill's activations exceed it: the copy is then not the peak
    assert "awq_fusion_copy" not in est("llama", 4096, 8).breakdown
    # MPT's fuser takes the checkpoint's Wqkv as it is: no copy
    assert "awq_fusion_copy" not in est("mpt", 64).breakdown
