"""Run by tests/stacks/test_fsdp_deferred_sync.py in its own process (one gloo rank on the CPU): which gradients
real FSDP keeps while gradient sync is deferred, for a tiny Llama with PEFT LoRA on q_proj and v_proj, under the
wrappings the stacks use. Prints one JSON object: held gradient elements per wrapping, and the trainable count.

* peft-policy-orig-{True,False}: FSDP1 with peft's fsdp_auto_wrap_policy (what HF Trainer applies), no_sync;
* blocks: FSDP1 wrapped per decoder layer only, use_orig_params=True (accelerate's TRANSFORMER_BASED_WRAP), no_sync;
* fsdp2: fully_shard on every trainable Linear, every block and the root (litgpt==0.5.13 parallelize_fn; torchtune
  shards with fully_shard too), set_requires_gradient_sync(False) as lightning's _FSDPNoSync does.

With one rank FSDP1 falls back to NO_SHARD, so sizes are not what this shows; which parameters hold a gradient is.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import warnings

import torch
import torch.distributed as dist
from peft import LoraConfig, get_peft_model
from peft.utils.other import fsdp_auto_wrap_policy
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import FSDPModule, fully_shard
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
from torch.distributed.fsdp.wrap import transformer_auto_wrap_policy
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.models.llama.modeling_llama import LlamaDecoderLayer

CFG = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=4, vocab_size=128, tie_word_embeddings=False)


def lora_model():
    torch.manual_seed(0)
    return get_peft_model(LlamaForCausalLM(CFG), LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))


def backward(model) -> None:
    ids = torch.randint(0, CFG.vocab_size, (1, 16))
    model(input_ids=ids, labels=ids).loss.backward()


def fsdp1_held(model) -> int:
    """Gradient elements on the flat parameters (what no_sync keeps unsharded)."""
    flats = [getattr(m, "_flat_param", None) for m in model.modules() if isinstance(m, FSDP)]
    return sum(f.grad.numel() for f in flats if f is not None and f.grad is not None)


def fsdp2_held(model) -> int:
    """Gradient elements on the unsharded parameters (what FSDP2 keeps with gradient sync off)."""
    held = 0
    for m in model.modules():
        group = m._get_fsdp_state()._fsdp_param_group if isinstance(m, FSDPModule) else None
        for p in group.fsdp_params if group is not None else ():
            grad = p.unsharded_accumulated_grad
            if grad is None and hasattr(p, "_unsharded_param"):
                grad = p._unsharded_param.grad
            held += 0 if grad is None else grad.numel()
    return held


def main() -> None:
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(sock.getsockname()[1]))
    dist.init_process_group("gloo", rank=0, world_size=1)
    out = {}
    for orig in (True, False):
        m = lora_model()
        out["trainable"] = sum(p.numel() for p in m.parameters() if p.requires_grad)
        m = FSDP(m, auto_wrap_policy=fsdp_auto_wrap_policy(m), use_orig_params=orig, device_id=torch.device("cpu"))
        with m.no_sync():
            backward(m)
        out[f"peft-policy-orig-{orig}"] = fsdp1_held(m)
    policy = functools.partial(transformer_auto_wrap_policy, transformer_layer_cls={LlamaDecoderLayer})
    m = FSDP(lora_model(), auto_wrap_policy=policy, use_orig_params=True, device_id=torch.device("cpu"))
    with m.no_sync():
        backward(m)
    out["blocks"] = fsdp1_held(m)
    m = lora_model()
    mesh = init_device_mesh("cpu", (1,))
    for mod in reversed(list(m.modules())):
        if (isinstance(mod, torch.nn.Linear) and mod.weight.requires_grad) or isinstance(mod, LlamaDecoderLayer):
            fully_shard(mod, mesh=mesh)
    fully_shard(m, mesh=mesh)
    m.set_requires_gradient_sync(False)
    backward(m)
    out["fsdp2"] = fsdp2_held(m)
    # the same FSDP2 model with sync on: the unsharded gradients are reduced and freed, so the count is a real signal
    m.set_requires_gradient_sync(True)
    backward(m)
    out["fsdp2-synced"] = fsdp2_held(m)
    print(json.dumps(out))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
