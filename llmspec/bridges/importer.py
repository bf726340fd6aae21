"""`llmspec import`: a tool's training config -> spec tables, with one note per key that is not mapped."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmspec.bridges.detect import NAMES, detect
from llmspec.bridges.sharding import SHARDING_KEYS, sharding
from llmspec.bridges.tables import TOOLS, Rule, table
from llmspec.bridges.yamlfile import BridgeError, Entry, read_nested, read_yaml

HOOKS = {"axolotl": "llmspec.bridges.axolotl", "llamafactory": "llmspec.bridges.llamafactory",
         "trl": "llmspec.bridges.exporter", "litgpt": "llmspec.bridges.litgpt_bridge",
         "torchtune": "llmspec.bridges.torchtune_bridge"}
"""The module whose ``after_import(path, entries, spec) -> Combined`` decides a tool's keys that are read together
(`combined = true` rules, or a nested tool's [combined] table: axolotl adapter + load_in_4bit -> method, ...)."""


@dataclass
class Imported:
    tool: str
    spec: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    """One line per key that is not mapped, and where the architecture came from."""
    origins: dict[str, Entry] = field(default_factory=dict)
    """Spec key (dotted) -> the config entry that set it (keys the tool's defaults filled in have none)."""
    entries: list[Entry] = field(default_factory=list)
    """The config's top-level keys, in file order."""


def _put(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[last] = value


def _convert(e: Entry, values: dict[str, Any], pass_others: bool = False) -> tuple[bool, Any]:
    """(mapped?, value): a value listed in ``values`` maps to its entry ("none": the key changes nothing); another
    value is unsupported, or taken as it is with ``pass_others``."""
    if not values:
        return True, e.value
    text = str(e.value).lower() if not isinstance(e.value, bool) else ("true" if e.value else "false")
    if text not in values:
        return (True, e.value) if pass_others else (False, None)
    return True, values[text]


def import_config(path: str, tool: str | None = None, hf_config: str | None = None,
                  beside: Sequence[str] = ()) -> Imported:
    return import_entries(path, read_yaml(path), tool, hf_config, beside)


def import_entries(path: str, entries: list[Entry], tool: str | None = None, hf_config: str | None = None,
                   beside: Sequence[str] = ()) -> Imported:
    """The spec of a config already read (``read_yaml``), with the accelerate / DeepSpeed / FSDP configs it names
    or that are given ``beside`` it (llmspec.bridges.sharding); raises :class:`BridgeError` on bad input."""
    tool = tool or detect(path, entries)
    if tool not in TOOLS:
        first = entries[0]
        raise BridgeError(f"{path}:{first.line}:{first.col}: {NAMES.get(tool, tool)} configs do not import yet "
                          f"(supported: {', '.join(TOOLS)}); write the spec by hand or use --from trl")
    tab = table(tool)
    if tab.nested:
        entries = read_nested(path, tab.is_leaf)
    spec: dict[str, Any] = {"version": 1, "model": {}, "training": {"stack": tab.stack}}
    notes: list[str] = []
    origins: dict[str, Entry] = {}
    for e in entries:
        where = f"{path}:{e.line}:{e.col}"
        if not tab.accepts(e.key):
            raise BridgeError(f"{where}: {NAMES[tool]} {tab.version} has no key {e.key!r} (renamed or removed "
                              f"between versions?); rename it to the {tab.version} key or use --from")
        if tab.nested and e.value is None:
            continue  # `key:` left empty (null) in a nested config is the tool's default, written below
        if e.key in tab.combined:
            continue  # read together with its companions by the tool's bridge module, below
        rule = tab.rules.get(e.key)
        if e.key in SHARDING_KEYS and (rule is None or not rule.combined):
            continue  # read by llmspec.bridges.sharding below (unless the tool's own module reads it: axolotl's fsdp)
        if rule is None:
            notes.append(f"{where}: unmapped: {e.key} (the spec has no field for it)")
            continue
        if rule.combined or (tab.null_unset and e.value is None):  # the tool's module / the tool's default decides
            continue
        if rule.alias_of and any(o.key == rule.alias_of for o in entries):
            notes.append(f"{where}: unmapped: {e.key} (a deprecated alias of {rule.alias_of}, which the config "
                         "also sets and which wins)")
            continue
        ok, value = _convert(e, rule.values, rule.pass_others)
        if not ok:
            notes.append(f"{where}: unsupported: {e.key} = {e.value!r} (the spec has no equivalent of this value)")
        elif rule.fraction_to and isinstance(value, float) and 0 < value < 1:
            _put(spec, rule.fraction_to, value)
            origins[rule.fraction_to] = e
        elif value != "none":
            _put(spec, rule.to, [value] if rule.as_list and isinstance(value, str) else value)
            origins[rule.to] = e
    given = {e.key for e in entries if e.value is not None or not (tab.nested or tab.null_unset)}
    combined = importlib.import_module(HOOKS[tool]).after_import(path, entries, spec)
    notes += combined.notes
    filled = _defaults(spec, tab.rules, given | {k for k, r in tab.rules.items() if r.to in origins})
    if filled:  # never a silent guess: the tool's own defaults, said in one line
        notes.append(f"{path}: {NAMES[tool]}'s defaults for keys the config leaves out, written into the spec: "
                     + ", ".join(filled))
    notes += _sharding(spec, origins, [e for e in entries if not ((r := tab.rules.get(e.key)) and r.combined)], beside)
    if not tab.nested:  # HF-Trainer tools: [hardware] holds only the sharding their keys name
        from llmspec.bridges.toolmap import hardware_note

        notes += hardware_note(spec, path)
    _validate(path, tool, spec, origins)
    notes += _architecture(spec, path, hf_config, combined.repo)
    return Imported(tool, spec, notes, origins, entries)


def _sharding(spec: dict[str, Any], origins: dict[str, Entry], entries: list[Entry], beside: Sequence[str]) -> list[str]:
    """Values from the sharding configs; one the training config (or its tool's default) contradicts is refused,
    as the HF Trainer refuses a DeepSpeed value that differs from TrainingArguments."""
    found = sharding(entries, list(beside))
    for to, (value, e) in found.values.items():
        node: Any = spec
        for part in to.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        was = origins.get(to)
        if to == "training.activation_checkpointing" and node is not None:
            # HF: FSDP's activation_checkpointing replaces gradient_checkpointing, and both on is refused
            if node and value and was is not None:
                raise BridgeError(f"{e.file}:{e.line}:{e.col}: {e.key} and {was.key} ({was.file}:{was.line}:"
                                  f"{was.col}) are both on, which the HF Trainer refuses; turn {was.key} off")
            value = bool(node or value)
        elif node is not None and node != value and not isinstance(node, dict):
            said = f"{was.key} = {was.value!r} ({was.file}:{was.line}:{was.col})" if was else f"the tool's default {node!r}"
            auto = " (a DeepSpeed value can be \"auto\")" if e.file.endswith(".json") else ""
            raise BridgeError(f"{e.file}:{e.line}:{e.col}: {e.key} = {e.value!r} contradicts {said}; make them "
                              f"agree{auto}")
        _put(spec, to, value)
        origins[to] = e
    return found.notes


def _validate(path: str, tool: str, spec: dict[str, Any], origins: dict[str, Entry]) -> None:
    """A value the spec cannot hold (a string where a number belongs) is the config's error, at its YAML key."""
    from pydantic import ValidationError

    from llmspec.spec.models import Training

    try:
        Training.model_validate(spec["training"], strict=True)  # as `check` reads TOML: "8" is no integer
    except ValidationError as exc:
        err = exc.errors()[0]
        dotted = "training." + ".".join(str(p) for p in err["loc"])
        e = next((origins[k] for k in sorted(origins, key=len, reverse=True) if dotted.startswith(k)), None)
        where, key = (f"{path}:{e.line}:{e.col}", e.key) if e else (f"{path}:1:1", dotted)
        raise BridgeError(f"{where}: {NAMES[tool]} key {key} = {e.value if e else ''!r} does not fit {dotted}: "
                          f"{err['msg']}; fix the value in the config") from None


def _defaults(spec: dict[str, Any], rules: dict[str, Rule], given: set[str]) -> list[str]:
    """The tool's own defaults where ours differ and the config is silent (LoRA ones only for a LoRA run); returns
    "key = value" of each one written."""
    filled: list[str] = []
    lora = spec["training"].get("method") in ("lora", "qlora")
    for key, rule in rules.items():
        if key in given or rule.default is None or (rule.to.startswith("training.lora.") and not lora):
            continue
        if rule.combined or _has(spec, rule.to):  # another key of the config set it (flash_attention: true)
            continue
        ok, value = _convert(Entry(key, rule.default, 0, 0), rule.values, rule.pass_others)
        if ok and value != "none":
            _put(spec, rule.to, value)
            filled.append(f"{key} = {rule.default!r}")
    return filled


def _has(tree: dict[str, Any], dotted: str) -> bool:
    *parents, last = dotted.split(".")
    for part in parents:
        tree = tree.get(part, {})
    return last in tree


def _architecture(spec: dict[str, Any], path: str, hf_config: str | None, repo: str | None = None) -> list[str]:
    """Fill [model] name/family/architecture from --hf-config, a local HF checkpoint, or a registry preset."""
    from llmspec.spec.families import PRESETS
    from llmspec.spec.hf_import import HFConfigError, architecture_from_file

    model = spec["model"]
    if not isinstance(model.get("weights", ""), str):
        raise BridgeError(f"{path}:1:1: model_name_or_path must be a model name or a path (text), got "
                          f"{model['weights']!r}; quote it or fix it")
    ref = str(model.get("weights") or "")
    model["name"] = Path(ref).name or Path(path).stem
    local = Path(ref) / "config.json" if ref else None
    source = hf_config or (str(local) if local is not None and local.is_file() else None)
    if source:
        try:
            family, arch = architecture_from_file(source)
        except HFConfigError as exc:
            raise BridgeError(f"{source}:1:1: {exc}") from None
        model.update(family=family, architecture=arch, hf_config=source)
        return [f"{path}: architecture from {source}"]
    for p in PRESETS.values():
        # LitGPT keeps checkpoints under checkpoints/<org>/<name>; torchtune's model builder names the repo
        if p.repo.lower() in (ref.lower(), (repo or "").lower()) or ref.lower().endswith("/" + p.repo.lower()):
            spec["extends"] = f"preset:{p.name}"
            named = f"model {repo}" if repo else f"model_name_or_path {ref}"
            return [f"{path}: architecture from preset {p.name} ({named})"]
    return [f"{path}: no architecture: {ref or 'no model named'} is neither a local HF checkpoint nor a registry "
            "preset; give --hf-config PATH or add [model.architecture] by hand"]
