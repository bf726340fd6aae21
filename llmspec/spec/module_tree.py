"""The module tree of a registry family: every submodule of the real transformers class, as PEFT sees it.

A family's ``tree`` (``llmspec.spec.families``) spells the class's ``named_modules()`` compactly: names separated by
spaces, a node's children in parentheses, ``#`` for a layer index, and ``name?cond`` for a module that exists only
when a condition on the architecture holds (:data:`CONDITIONS`). For example
``model(embed_tokens layers(#(self_attn(q_proj k_proj) norm)) norm) lm_head``.

PEFT (0.21, ``peft.tuners.tuners_utils.check_target_module_exists``) matches each name of a ``target_modules``
list against every module path: a match is the path itself or a path that ends in ``"." + name``. It then wraps
each matched module; only ``nn.Linear``, ``nn.Embedding``, ``nn.Conv1d/2d/3d``, ``nn.MultiheadAttention`` and
transformers' ``Conv1D`` (plus what its MoE conversion maps, see ``Family.peft_experts``) can be wrapped, and for
any other module (an attention or MLP block, a decoder layer, a norm, a dropout, the rotary embedding) it raises
``ValueError: Target module ... is not supported`` (``peft.tuners.lora.model.LoraModel._create_new_module``).
Those are the *containers* here. tests/params/test_module_tree.py checks every tree against ``named_modules()``
of the real class built from each preset, and ARC005's verdicts against ``peft.get_peft_model``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmspec.spec.models import Architecture


def _moe_layers(a: Architecture) -> bool:
    return a.moe is not None and a.n_layers - min(a.moe.dense_layers, a.n_layers) > 0


def _dense_layers(a: Architecture) -> bool:
    return a.moe is None or a.moe.dense_layers > 0


def _norm_pair(a: Architecture) -> bool:
    # FalconDecoderLayer: parallel_attn with num_ln_in_parallel_attn == 2 -> ln_attn + ln_mlp
    return a.parallel_attention and a.norms_per_layer == 2


CONDITIONS: Mapping[str, Callable[[Architecture], bool]] = {
    "moe": _moe_layers,  # some blocks are sparse (router, experts)
    "dense": _dense_layers,  # some blocks have a dense MLP
    "shared": lambda a: _moe_layers(a) and a.moe is not None and a.moe.shared_experts > 0,
    "shared_gate": lambda a: _moe_layers(a) and a.moe is not None and a.moe.shared_experts > 0
    and a.moe.shared_expert_gate,
    "norm_pair": _norm_pair,
    "no_norm_pair": lambda a: not _norm_pair(a),
    "sequential": lambda a: not a.parallel_attention,
    "final_norm": lambda a: a.final_norm,
}
"""Conditions a tree node can carry (``name?cond``), on the spec's architecture."""


@dataclass(frozen=True)
class Node:
    path: str
    """The module path with ``#`` for layer indices ("model.layers.#.self_attn")."""
    cond: tuple[str, ...]
    """Conditions of this node and its ancestors (all must hold)."""
    children: tuple[str, ...]
    """Names of the node's direct children."""

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]


_TOKEN = re.compile(r"\s*([()]|[^\s()]+)")


@lru_cache(maxsize=64)
def parse(tree: str) -> tuple[Node, ...]:
    """Every node of a tree string, parents before children."""
    tokens = _TOKEN.findall(tree)
    nodes: list[Node] = []
    kids: dict[str, list[str]] = {}

    def walk(i: int, prefix: str, cond: tuple[str, ...]) -> int:
        last: tuple[str, tuple[str, ...]] | None = None
        while i < len(tokens):
            tok = tokens[i]
            if tok == ")":
                return i + 1
            if tok == "(":
                if last is None:
                    raise ValueError(f"module tree: '(' without a name in {tree!r}")
                i = walk(i + 1, last[0] + ".", last[1])
                continue
            name, _, when = tok.partition("?")
            if when and when not in CONDITIONS:
                raise ValueError(f"module tree: unknown condition {when!r} in {tree!r}")
            path, node_cond = prefix + name, cond + ((when,) if when else ())
            nodes.append(Node(path, node_cond, ()))
            kids.setdefault(prefix[:-1], []).append(name)
            last = (path, node_cond)
            i += 1
        return i

    walk(0, "", ())
    return tuple(Node(n.path, n.cond, tuple(kids.get(n.path, ()))) for n in nodes)


def present(tree: str, arch: Architecture) -> list[Node]:
    """The nodes that exist in this architecture (every condition on the path holds)."""
    return [n for n in parse(tree) if all(CONDITIONS[c](arch) for c in n.cond)]


def adaptable(modules: Mapping[str, tuple[str, ...]], peft_experts: str, name: str) -> bool:
    """PEFT can put a LoRA layer on a module of this name: one of the family's LoRA target names (a Linear,
    Conv1D or Embedding, or a router PEFT's MoE conversion maps), not a router PEFT cannot reach
    (``Family.peft_experts == "none"``: Qwen2MoeTopKRouter is no nn.Linear)."""
    roles = modules.get(name)
    if roles is None:
        return False
    return not (peft_experts == "none" and set(roles) <= {"router"})


def matches(nodes: list[Node], target: str, n_layers: int) -> list[Node]:
    """The nodes a ``target_modules`` entry selects: the path itself or a path ending in "." + target (a layer
    index in the target matches ``#`` when it is below n_layers)."""
    want = target.split(".")
    out = []
    for node in nodes:
        have = node.path.split(".")
        if len(want) > len(have):
            continue
        tail = have[len(have) - len(want):]
        if all(w == h or (h == "#" and w.isdigit() and int(w) < n_layers) for w, h in zip(want, tail, strict=True)):
            out.append(node)
    return out


def distinct_names(modules: Mapping[str, tuple[str, ...]]) -> list[str]:
    """The layout's names without aliases: a name whose roles an earlier name already covers (the generic layout's
    transformers-4 expert names w1 / w3 / w2 beside gate_proj / up_proj / down_proj) is left out."""
    seen: set[tuple[str, ...]] = set()
    out = []
    for name, roles in modules.items():
        if roles not in seen:
            seen.add(roles)
            out.append(name)
    return out


def containers(tree: str, modules: Mapping[str, tuple[str, ...]], peft_experts: str) -> tuple[str, ...]:
    """Every module name of the tree that PEFT cannot adapt (layer indices left out), in tree order."""
    names = (n.name for n in parse(tree) if n.name != "#" and not adaptable(modules, peft_experts, n.name))
    return tuple(dict.fromkeys(names))


def inside(nodes: list[Node], container: Node, modules: Mapping[str, tuple[str, ...]],
           peft_experts: str) -> list[str]:
    """Names of the adaptable modules under a container, in tree order, without repeats."""
    prefix = container.path + "."
    names = (n.name for n in nodes if n.path.startswith(prefix) and adaptable(modules, peft_experts, n.name))
    return list(dict.fromkeys(names))
