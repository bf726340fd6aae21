"""Helpers the axolotl and LLaMA-Factory bridges share: reading combined keys, DeepSpeed JSONs, the generic inverse."""

from __future__ import annotations

from typing import Any

import yaml

from llmspec.bridges.refusal import refuse, shown
from llmspec.bridges.tables import Table
from llmspec.bridges.yamlfile import BridgeError, Entry


def given(entries: list[Entry], key: str) -> Entry | None:
    """The entry of ``key`` when the config gives it a value (an empty YAML value is None: unset)."""
    return next((e for e in entries if e.key == key and e.value is not None), None)


def put(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[last] = value


def get(tree: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        tree = getattr(tree, part, None)
        if tree is None:
            return None
    return tree


def at(path: str, e: Entry) -> str:
    return f"{path}:{e.line}:{e.col}"


def unsupported(path: str, e: Entry, why: str = "the spec has no equivalent of this value") -> str:
    return f"{at(path, e)}: unsupported: {e.key} = {e.value!r} ({why})"


def optimizer(spec: dict[str, Any], tab: Table, key: str, e: Entry | None, path: str) -> list[str]:
    """training.optimizer from the tool's optimizer name; bitsandbytes paged_* also sets training.paged_optimizer
    (transformers OptimizerNames: paged_adamw_8bit, paged_adamw_32bit, paged_lion_*)."""
    rule = tab.rules[key]
    name = str(e.value if e is not None else rule.default).lower()
    if name not in rule.values:
        return [unsupported(path, e)] if e is not None else []
    put(spec, "training.optimizer", rule.values[name])
    if name.startswith("paged_"):
        put(spec, "training.paged_optimizer", True)
    return []


def hardware_note(spec: dict[str, Any], path: str) -> list[str]:
    if "hardware" not in spec:
        return []
    return [f"{path}: hardware: the config names no GPU; [hardware] holds only the sharding it names, so the spec's "
            "default accelerator applies until you set hardware.accelerator and hardware.count"]


def inverse(spec: Any, tab: Table, where: str, name: str) -> dict[str, Any]:
    """Every non-combined key of ``tab`` whose spec value is set, written in the tool's spelling."""
    from llmspec.spec.stacks import KNOBS

    out: dict[str, Any] = {}
    lora = spec.training.method in ("lora", "qlora")
    # knobs the spec leaves to its stack (e.g. loss "full"): written where the tool spells them, else left out
    filled = {f"{KNOBS[k][0]}.{KNOBS[k][1]}".replace("lora.", "training.lora.") for k in spec.training.stack_sources()}
    for key, rule in tab.rules.items():
        if rule.combined or rule.to.startswith("hardware.") or (rule.to.startswith("training.lora.") and not lora):
            continue
        value = get(spec, rule.to)
        if value is None or any(r.to == rule.to and k in out for k, r in tab.rules.items()):
            continue
        if rule.values:
            spelled = [k for k, v in rule.values.items() if v == value and v != "none"]
            if not spelled:
                if rule.to in filled or any(r.to == rule.to and _text(value) in [_text(v) for v in r.values.values()]
                                            for r in tab.rules.values() if r is not rule):
                    continue  # the stack's own default, or another key of the same target spells it
                refuse(BridgeError(f"{where}: {rule.to} = {shown(value)} has no {name} {key} equivalent ({name} has "
                                   f"{', '.join(sorted({str(v) for v in rule.values.values()} - {'none'}))}); change it",
                                   key=rule.to))
                continue
            default = str(rule.default).lower() if rule.default is not None else None
            value = default if default in spelled else spelled[0]
            value = {"true": True, "false": False}.get(value, value)
        out[key] = int(value) if isinstance(value, float) and key.endswith("alpha") and value.is_integer() else value
    return out


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value).lower()


def dump(out: dict[str, Any], header: str) -> str:
    return header + "\n" + yaml.safe_dump(out, sort_keys=False, default_flow_style=False)


# HF TrainingArguments `optim` names (transformers training_args.py OptimizerNames), which axolotl and LLaMA-Factory
# both take: (spec optimizer, paged) -> name
HF_OPTIM = {("adamw", False): "adamw_torch_fused", ("adamw_8bit", False): "adamw_bnb_8bit",
            ("adafactor", False): "adafactor", ("sgd", False): "sgd", ("lion", False): "lion_32bit",
            ("adamw", True): "paged_adamw_32bit", ("adamw_8bit", True): "paged_adamw_8bit",
            ("lion", True): "paged_lion_32bit"}


def hf_optim(t: Any, where: str, what: str) -> str:
    """The HF `optim` name of the spec's optimizer; BridgeError naming ``what`` (the tool's key) when there is none."""
    name = HF_OPTIM.get((t.optimizer, bool(t.paged_optimizer)))
    if name is None:
        paged = " with training.paged_optimizer = true" if t.paged_optimizer else ""
        unpaged = [o for (o, p), _ in HF_OPTIM.items() if p == bool(t.paged_optimizer)]
        refuse(BridgeError(f"{where}: training.optimizer = {shown(t.optimizer)}{paged} has no {what} equivalent; use "
                           f"{', '.join(unpaged[:-1])} or {unpaged[-1]}", key="training.optimizer"))
        return ""
    return name
