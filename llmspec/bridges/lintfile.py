"""`llmspec lint train.yaml`: a training tool's config linted as it stands, with the YAML's own positions.

The config is imported in memory (no spec file is written) by the same tables as `llmspec import`, and every spec
key it set points back at the YAML key that set it (``SourceMap.set_origin``). A spec value the config did not
set (a default of the tool, an architecture from a preset) points at the first YAML key that set a value directly
in the same spec table (``model_name_or_path`` for the architecture, ``per_device_train_batch_size`` rather than
``dataset_name`` for [training]), else at the file's first key.

These configs name no GPU, so the hardware comes from the project config (``[tool.llmspec.hardware]`` or
``[hardware]`` of llmspec.toml) or ``--set hardware.KEY=VALUE``; each lint says which (BRG002), or that memory was
not checked because no accelerator was given (BRG001), rather than checking against an invented default.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmspec.bridges.detect import looks_like, recognised
from llmspec.bridges.importer import Imported, import_entries
from llmspec.bridges.sharding import kind
from llmspec.bridges.yamlfile import BridgeError, parse_yaml, read_text_or_fail
from llmspec.spec.problems import Problem, SpecError
from llmspec.spec.source import Location, SourceMap

if TYPE_CHECKING:  # pragma: no cover
    from llmspec.config import Config
    from llmspec.spec.models import Spec

class NotAConfig(BridgeError):
    """The YAML is no known tool's training config (or is no YAML mapping at all)."""


@dataclass
class Foreign:
    path: str
    text: str
    imported: Imported


def read_foreign(path: str, tool: str | None = None, named: bool = True, beside: Sequence[str] = ()) -> Foreign:
    """Read and import a YAML file for lint. Raises :class:`NotAConfig` when it is no known tool's training
    config (a YAML that does not parse is none either), :class:`BridgeError` when it is one that cannot be
    imported (a key the tool does not have, keys of two tools). ``tool`` (--from) is trusted for files named on the
    command line; a file found in a folder must still look like a training config. ``beside``: accelerate /
    DeepSpeed / FSDP configs the run uses (--sharding-config), as for `llmspec import`."""
    text = read_text_or_fail(path)
    try:
        entries = parse_yaml(path, text)
    except BridgeError as exc:  # reported even where other YAML is skipped when it is meant as a training config
        raise (BridgeError if looks_like(path, text) else NotAConfig)(str(exc)) from None
    if (tool is None or not named) and not recognised(entries):
        first = entries[0]
        what = kind(entries)
        if what is not None:
            raise NotAConfig(f"{path}:{first.line}:{first.col}: an {what} config, not a training config; lint the "
                             f"training config with --sharding-config {path}")
        raise NotAConfig(f"{path}:{first.line}:{first.col}: not a training config of a tool llmspec reads (axolotl, "
                         "LLaMA-Factory, LitGPT, torchtune, TRL); lint it with --from TOOL, or leave it out")
    return Foreign(path, text, import_entries(path, entries, tool, beside=beside))


def _tables(f: Foreign) -> dict[tuple[str, ...], Location]:
    """Spec table -> where to point for a value in it the config did not set: the first YAML key (in file order)
    that set a value directly in that table, else one that set a value deeper in it."""
    direct: dict[tuple[str, ...], Location] = {}
    deeper: dict[tuple[str, ...], Location] = {}
    for dotted, e in sorted(f.imported.origins.items(), key=lambda kv: (kv[1].file != f.path, kv[1].line, kv[1].col)):
        parts = tuple(dotted.split("."))
        for k in range(1, len(parts)):
            (direct if k == len(parts) - 1 else deeper).setdefault(parts[:k], Location(e.file or f.path, e.line, e.col))
    return {**deeper, **direct}


def _shown(path: str) -> str:
    """A project config's path as findings show it: relative to the working folder when it is below it."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def _read(path: str) -> str | None:
    try:
        return read_text_or_fail(path)
    except BridgeError:
        return None


def load_foreign(f: Foreign, overrides: Sequence[str], config: Config) -> tuple[Spec, list[tuple[str, str, Location]]]:
    """The spec of an imported config, positioned in its YAML, and the engine notes (code, message, location)
    saying which hardware memory was checked on. Raises SpecError (findings at the YAML keys)."""
    from llmspec.spec.families import preset_spec
    from llmspec.spec.loader import deep_merge, load_data

    data: dict[str, Any] = copy.deepcopy(f.imported.spec)
    preset = data.pop("extends", None)
    if isinstance(preset, str) and preset.startswith("preset:"):
        data = deep_merge(preset_spec(preset.removeprefix("preset:")), data)
    source = SourceMap(path=f.path, accelerators=config.accelerators or None)
    source.texts[f.path] = f.text
    first = f.imported.entries[0]
    top = Location(f.path, first.line, first.col)
    tables = _tables(f)
    for name in ("version", "model", "training", "sampling", "inference", "eval", "hardware", "meta"):
        source.default_origin((name,), tables.get((name,), top))
    for table_path, loc in tables.items():
        source.default_origin(table_path, loc)
    for dotted, e in f.imported.origins.items():
        source.set_origin(tuple(dotted.split(".")), Location(e.file or f.path, e.line, e.col))
        if e.file and e.file not in source.texts:  # a DeepSpeed / FSDP config the training config names
            text = _read(e.file)
            if text is not None:
                source.texts[e.file] = text
    if config.hardware:
        data["hardware"] = deep_merge(config.hardware, data.get("hardware") or {})
        cfg_file, line, col = config.position(("hardware",))
        cfg_file = _shown(cfg_file)
        source.default_origin(("hardware",), Location(cfg_file, line, col))
        for key in config.hardware:
            if f"hardware.{key}" not in f.imported.origins:
                source.set_origin(("hardware", key), Location(cfg_file, *config.position(("hardware", key))[1:]))
        text = _read(cfg_file)
        if text is not None:
            source.texts.setdefault(cfg_file, text)
    keys = [o.split("=", 1)[0].strip() for o in overrides]
    dropped: list[str] = []
    if "hardware.accelerator" not in keys and "hardware" not in keys and "accelerator" not in (data.get("hardware") or {}):
        # no accelerator anywhere: the spec's default GPU would be a guess, so memory is not checked
        dropped = sorted({*(data.pop("hardware", None) or {}), *(k[9:] for k in keys if k.startswith("hardware."))})
        overrides = [o for o, k in zip(overrides, keys, strict=True) if not k.startswith("hardware.")]
    try:
        spec = load_data(data, source, overrides)
    except SpecError as exc:
        raise SpecError([_for_yaml(p) for p in exc.problems]) from None
    return spec, [_hardware_note(spec, source, top, f.imported.tool, dropped)]


def _for_yaml(problem: Problem) -> Problem:
    """A spec problem in the words of a training config: no architecture is fixed on the command line."""
    if problem.key == "model" and "hf_config" in problem.message and "--set" not in problem.message:
        return dataclasses.replace(problem, message=f"{problem.message}; for a training config: --set "
                                   "model.hf_config=path/to/config.json (the model's HF config)")
    return problem


def _hardware_note(spec: Spec, source: SourceMap, top: Location, tool: str,
                   dropped: list[str]) -> tuple[str, str, Location]:
    from llmspec.bridges.detect import NAMES

    if spec.hardware is None:
        unused = f" (hardware {', '.join(dropped)} given, but no accelerator)" if dropped else ""
        return ("BRG001", f"memory not checked: this {NAMES.get(tool, tool)} config names no GPU and no accelerator "
                f"was given{unused}; set `accelerator` under [tool.llmspec.hardware] (pyproject.toml) or "
                "[hardware] (llmspec.toml), or pass --set hardware.accelerator=NAME", top)
    hw = spec.hardware
    where = source.locate(("hardware", "accelerator"))
    shown = where.file[1:-1] if where.file.startswith("<--set") else str(where)
    return ("BRG002", f"memory checked on {hw.world_size}x {hw.accelerator} (accelerator from {shown}); this "
            f"{NAMES.get(tool, tool)} config names no GPU", top)
