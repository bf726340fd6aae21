"""LoRA target names -> the modules PEFT adapts: one resolution for the estimate (params.lora_shapes) and ARC005.

PEFT matches each name of ``target_modules`` against every module path: the path itself, or a path ending in
"." + the name (peft==0.21.2:peft/tuners/tuners_utils.py:check_target_module_exists). So ``q_proj``,
``self_attn.q_proj`` and ``model.layers.#.self_attn.q_proj`` select the same modules; ``attn.c_proj`` selects
GPT-2's attention output projection but not the MLP's ``c_proj``; ``shared_expert.gate_proj`` Qwen2-MoE's shared
expert only; ``layers.3.self_attn.q_proj`` one block. The module paths are the family's module tree
(llmspec.spec.module_tree), checked against the real classes and against ``peft.get_peft_model``
(tests/lint/test_arc005_peft.py, tests/params/test_params.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from llmspec.spec.families import family as registry_family
from llmspec.spec.families import modules_for, tree_for
from llmspec.spec.models import Architecture
from llmspec.spec.module_tree import Node, adaptable, matches, present

_MLP_ROLES = {"gate", "up", "down"}
_ATTN_ROLES = {"q", "k", "v", "o", "qkv"}


@dataclass(frozen=True)
class Verdict:
    target: str
    kind: str
    """"matched" (PEFT adapts it), "container" (PEFT raises: not a Linear, Embedding or Conv1D) or "unmatched"."""
    nodes: tuple[Node, ...] = ()
    """The module paths (layer indices as "#") the target selects in the family's tree."""
    labels: frozenset[str] | None = None
    """The adapted matrices (params._role_shapes labels: "q", "down", "shared.gate", ...) when the target selects
    fewer modules than its last name alone would; None: every matrix of that name's roles."""
    layer: int | None = None
    """The block index a target names (``layers.3.self_attn.q_proj``): PEFT adapts that block only."""

    @property
    def name(self) -> str:
        """The module name (the target's last part): the layout name whose roles it adapts."""
        return self.target.rsplit(".", 1)[-1]


def _layer_index(target: str, node: Node) -> int | None:
    """The block index written where the node's path has "#" (matches() accepted it as below n_layers)."""
    want, have = target.split("."), node.path.split(".")
    tail = have[len(have) - len(want):]
    return next((int(w) for w, h in zip(want, tail, strict=True) if h == "#"), None)


def _in_block(node: Node, layer: int, arch: Architecture) -> bool:
    """The node exists in that block: a dense MLP's modules in the dense blocks, the router's, experts' and shared
    expert's in the MoE blocks. ASSUMED: the dense blocks come first (DeepSeek's first_k_dense_replace, Qwen-MoE's
    mlp_only_layers = [0]); the architecture keeps their number (moe.dense_layers), not their indices."""
    from llmspec.estimate.params import layer_split

    dense, _ = layer_split(arch)
    if arch.moe is None or not dense:
        return True
    if "dense" in node.cond:
        return layer < dense
    if {"moe", "shared", "shared_gate"} & set(node.cond):
        return layer >= dense
    return True


def blocks_of(arch: Architecture, label: str) -> int:
    """The blocks a matrix label repeats over: every block for attention, the MoE blocks for the router, the
    experts and the shared expert, the dense blocks for a dense MLP. A block index that names a block of the other
    kind selects nothing (_in_block)."""
    from llmspec.estimate.params import layer_split

    dense, moe = layer_split(arch)
    if label in ("q", "k", "v", "o", "qkv"):
        return arch.n_layers
    if label in ("router", "shared_gate") or label.startswith(("expert.", "shared.")):
        return max(1, moe)
    return max(1, dense)


def _labels(node: Node, nodes: list[Node], modules) -> set[str]:
    """The matrices one tree node holds: its name's roles, those of its block only when the name has several
    (GPT-2's c_proj is the attention's "o" under attn, the MLP's "down" under mlp: its siblings tell which), with
    the shared expert's prefix under a shared expert (the tree's "shared" condition)."""
    roles = set(modules.get(node.name, ()))
    if roles & _ATTN_ROLES and roles - _ATTN_ROLES:
        parent = node.path.rsplit(".", 1)[0] + "."
        siblings = {r for n in nodes if n.path.startswith(parent) and n.path.count(".") == node.path.count(".")
                    and n is not node for r in modules.get(n.name, ())}
        roles &= _ATTN_ROLES if siblings & _ATTN_ROLES else roles - _ATTN_ROLES
    prefix = "shared." if "shared" in node.cond else ""
    return {prefix + r for r in roles}


def resolve(arch: Architecture, family: str | None, targets: Iterable[str]) -> list[Verdict]:
    """What PEFT does with each entry of a target_modules list on this family's class (module docstring): a target
    selects every module whose path is the target or ends in "." + target; one container among them and PEFT raises.
    On a family whose fused experts PEFT converts (Family.peft_experts == "fused"), an MLP name of the layout
    (Mixtral's w1 / w3 / w2, Qwen3-MoE's gate_proj / up_proj / down_proj) selects the experts only. A name of the
    layout that is no module of the tree is matched when its roles exist here (params._role_shapes)."""
    from llmspec.estimate.params import unmatched_names

    fam = registry_family(family)
    modules, experts = modules_for(family), (fam.peft_experts if fam is not None else "separate")
    nodes = present(tree_for(family), arch)
    out = []
    for target in dict.fromkeys(targets):
        hit = tuple(matches(nodes, target, arch.n_layers))
        name = target.rsplit(".", 1)[-1]
        if any(not adaptable(modules, experts, n.name) for n in hit):
            out.append(Verdict(target, "container", hit))
            continue
        roles = set(modules.get(name, ()))
        if experts == "fused" and roles & (_MLP_ROLES | {"router"}):
            # PEFT's conversion (peft==0.21.2:peft/utils/transformers_weight_conversion.py:_convert_peft_config_moe)
            # turns a target ending in an expert or router name into a target parameter of every block
            # (_MOE_TARGET_MODULE_MAPPING: "gate" -> "gate.weight", "w2" -> "down_proj", ...), prefix and block index
            # dropped. An MLP name selects the 3-D experts, and no longer the dense blocks' linears of that name
            # (measured: Qwen3-MoE down_proj with a dense block 0); the router name every router.
            wanted = "experts" if roles & _MLP_ROLES else name
            converted = tuple(n for n in nodes if n.name == wanted)
            out.append(Verdict(target, "matched" if converted else "unmatched", converted))
            continue
        # an adaptable module matches when its matrices exist here (gate_proj needs a gated MLP, gate a router)
        if unmatched_names(arch, [name if hit else target], family):
            out.append(Verdict(target, "unmatched", hit))
            continue
        layer = _layer_index(target, hit[0]) if hit else None
        if layer is not None:
            hit = tuple(n for n in hit if _in_block(n, layer, arch))
            if not hit:  # a dense block's MLP name with the index of an MoE block, or the other way round
                out.append(Verdict(target, "unmatched", hit))
                continue
        labels = None
        if hit and set(hit) != set(matches(nodes, name, arch.n_layers)):  # fewer modules than the name alone
            labels = frozenset(label for n in hit for label in _labels(n, nodes, modules))
        out.append(Verdict(target, "matched", hit, labels, layer))
    return out
