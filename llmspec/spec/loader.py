"""Read a spec file: bytes -> TOML -> extends -> --set overrides -> hf_config -> validated :class:`Spec`.

Every problem is collected and reported at once as one-line :class:`Problem` s with the position of the key
(or of its table when the key is missing). Nothing a user can write makes this module raise anything but
:class:`SpecError`.
"""

from __future__ import annotations

import copy
import json
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from llmspec.spec import tomltext
from llmspec.spec.messages import messages_for, show_value
from llmspec.spec.models import Spec
from llmspec.spec.problems import Problem, SpecError, dotted
from llmspec.spec.source import Location, SourceMap, first_duplicate, scan

__all__ = ["load_spec", "SpecError", "Problem", "parse_override"]

MAX_BYTES = tomltext.MAX_BYTES  # the size cap of every file llmspec reads (see llmspec.spec.tomltext)
_OVERRIDE_KEY = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


class _Failed(Exception):
    """Internal: reading stops, the collected problems are reported."""


class _Loader:
    def __init__(self, accelerators: Mapping[str, Mapping] | None):
        self.problems: list[Problem] = []
        self.accelerators = accelerators
        self.source: SourceMap | None = None
        self.real: dict[str, Path] = {}  # display path -> the real file (symlinks resolved)

    # -- reading one file ------------------------------------------------------------------------------
    def problem(self, loc: Location, key: str, message: str, kind: str = "schema") -> None:
        self.problems.append(Problem(loc.file, loc.line, loc.col, key, message, kind))  # type: ignore[arg-type]

    def read_text(self, path: Path, display: str, referrer: Callable[[], Location] | None) -> str:
        """``referrer`` locates the extends key that named this file (computed only when there is a problem)."""
        kind = "extends" if referrer else "io"
        try:
            data = tomltext.read_bytes(path)
        except tomltext.ReadError as exc:
            where = referrer() if referrer else Location(display, 1, 1)
            if exc.missing:
                what = f"extends: base spec {display!r} not found" if referrer else f"{display}: no such file"
            else:
                what = f"{'extends: ' if referrer else ''}{display}: {exc.message}"
            self.problem(where, "", what, kind)
            raise _Failed from None
        try:
            return tomltext.decode(data)
        except tomltext.ReadError as exc:
            self.problem(Location(display, exc.line, exc.col), "", exc.message, "io")
            raise _Failed from None

    def parse(self, text: str, display: str) -> dict:
        if not text.strip():
            self.problem(Location(display, 1, 1), "", "file is empty; a spec needs at least a [model] table", "toml")
            raise _Failed
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            dup = first_duplicate(text) if ("overwrite" in str(exc) or "declare" in str(exc)) else None
            if dup is not None:
                loc = Location(display, dup[1], dup[2])
                if dup[3] != dup[0]:
                    msg = f"{dotted(dup[0])!r} extends {dotted(dup[3])!r}, which is already set to a value"
                elif "declare" in str(exc):
                    msg = f"table [{dotted(dup[0])}] is declared twice"
                else:
                    msg = f"key {dotted(dup[0])!r} is defined twice"
            else:
                line, col, msg = tomltext.error_position(exc, text)
                loc = Location(display, line, col)
            self.problem(loc, "", f"invalid TOML: {msg[0].lower()}{msg[1:]}", "toml")
            raise _Failed from None
        except (RecursionError, MemoryError):
            self.problem(Location(display, 1, 1), "", "invalid TOML: nesting is too deep", "toml")
            raise _Failed from None
        deep = tomltext.too_deep(data)
        if deep is not None:
            line, col = _deepest_position(text, deep)
            self.problem(Location(display, line, col), "", f"nesting is deeper than {tomltext.MAX_NESTING} "
                         "tables and arrays; a spec nests a few levels (e.g. eval.gates[0].min)", "toml")
            raise _Failed
        return data

    # -- extends ---------------------------------------------------------------------------------------
    def load_document(
        self, path: Path, display: str, chain: list[Path], referrer: Callable[[], Location] | None
    ) -> dict:
        text = self.read_text(path, display, referrer)
        self.real[display] = _resolve(path)
        data = self.parse(text, display)
        base_ref = data.get("extends")
        merged: dict = {}
        if base_ref is not None:
            def here() -> Location:
                return _find(self.source_for(display, text), ("extends",), display)

            if not isinstance(base_ref, str) or not base_ref.strip():
                self.problem(here(), "extends", 'extends: expected a path to a base spec, e.g. extends = "base.toml"', "extends")
                raise _Failed
            if "\x00" in base_ref:
                self.problem(here(), "extends", "extends: the path contains a NUL character; check how it was written", "extends")
                raise _Failed
            if base_ref.startswith("preset:"):  # a named checkpoint of the family registry (llmspec.spec.families)
                from llmspec.spec.families import UnknownPreset, preset_spec

                try:
                    merged = preset_spec(base_ref.removeprefix("preset:"))
                except UnknownPreset as exc:
                    self.problem(here(), "extends", f"extends: {exc}", "extends")
                    raise _Failed from None
                self.source.add(display, text)  # type: ignore[union-attr]
                return deep_merge(merged, {k: v for k, v in data.items() if k != "extends"})
            real = _resolve(path)
            # relative to the folder of the real file (symlinks resolved), for the top spec and every base alike:
            # a spec means the neighbours of the file it really is, wherever a link to it lives
            base_path = _resolve(real.parent / base_ref)
            base_display = os.path.normpath(os.path.join(os.path.dirname(display), base_ref))
            if _resolve(Path(base_display)) != base_path:  # the spec is reached through a link: show the real path
                base_display = _shown(base_path)
            if base_path in chain or base_path == real:
                cycle = " -> ".join([*(str(p.name) for p in chain), path.name, Path(base_ref).name])
                self.problem(here(), "extends", f"extends cycle: {cycle}; remove one of the extends keys", "extends")
                raise _Failed
            merged = self.load_document(base_path, base_display, [*chain, real], here)
            if "model" not in merged and not (set(merged) & set(Spec.model_fields)):
                self.problem(here(), "extends", f"extends: {base_ref!r} is not an llmspec spec (no spec tables such as [model])", "extends")
                raise _Failed
            merged.pop("extends", None)
        self.source.add(display, text)  # type: ignore[union-attr]
        return deep_merge(merged, data)

    def source_for(self, display: str, text: str) -> SourceMap:
        tmp = SourceMap(path=display)
        tmp.add(display, text)
        return tmp

    # -- overrides and hf_config -----------------------------------------------------------------------
    def apply_overrides(self, data: dict, overrides: Iterable[str]) -> None:
        for _n, item in enumerate(overrides, start=1):
            key, value, error = parse_override(item)
            shown = key or item
            if not shown.isprintable():  # never a line break or control character in a position
                shown = repr(item)
            where = Location(f"<--set {shown}>", 1, 1)
            if error:
                self.problem(where, key, error, "schema")
                continue
            node = data
            parts = key.split(".")
            for part in parts[:-1]:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    self.problem(where, key, f"--set {key}: {part!r} is not a table", "schema")
                    break
                node = child
            else:
                node[parts[-1]] = value
                self.source.set_origin(tuple(parts), where)  # type: ignore[union-attr]

    def import_hf_config(self, data: dict) -> None:
        model = data.get("model")
        if not isinstance(model, dict) or not isinstance(model.get("hf_config"), str):
            return
        where = self.source.locate(("model", "hf_config"))  # type: ignore[union-attr]
        ref = model["hf_config"]
        if "\x00" in ref:
            self.problem(where, "model.hf_config", "model.hf_config: the path contains a NUL character", "io")
            return
        holder = self.real.get(where.file)  # the real file that names it, as for extends; "." for --set
        path = (holder.parent if holder else Path(".")) / ref
        try:
            config = json.loads(tomltext.read_text(path))
            if not isinstance(config, dict):
                raise ValueError("the top level is not a JSON object")
            if tomltext.too_deep(config) is not None:
                raise ValueError(f"nesting is deeper than {tomltext.MAX_NESTING} levels")
        except tomltext.ReadError as exc:
            what = f"{ref!r} not found (relative to {where.file})" if exc.missing else f"{ref!r}: {exc.message}"
            self.problem(where, "model.hf_config", f"model.hf_config: {what}", "schema" if exc.missing else "io")
            return
        except (ValueError, RecursionError) as exc:
            self.problem(where, "model.hf_config", f"model.hf_config: cannot read {ref!r} as a config.json ({exc})")
            return
        from llmspec.spec.hf_import import HFConfigError, architecture_from_hf

        try:
            family, arch = architecture_from_hf(config)
        except HFConfigError as exc:
            self.problem(where, "model.hf_config", f"model.hf_config: {exc}")
            return
        written_arch = model.get("architecture")
        written: dict = written_arch if isinstance(written_arch, dict) else {}
        model["architecture"] = deep_merge(arch, written)
        model.setdefault("family", family)
        self.source.default_origin(("model", "architecture"), where)  # type: ignore[union-attr]

    # -- validation ------------------------------------------------------------------------------------
    def validate(self, data: dict) -> Spec | None:
        self.check_accelerator(data)
        try:
            spec = Spec.model_validate(data)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            for loc, message in messages_for(Spec, errors):
                if loc == ("version",):
                    value = next(e.get("input") for e in errors if tuple(e["loc"])[:1] == ("version",))
                    message = (
                        f"version: spec format version {show_value(value)} is not supported; "
                        "this llmspec reads version 1 (upgrade llmspec, or set version = 1)"
                    )
                self.problem(self.source.locate(loc), dotted(loc), message)  # type: ignore[union-attr]
            return None
        return spec

    def check_accelerator(self, data: dict) -> None:
        hardware = data.get("hardware")
        name = hardware.get("accelerator") if isinstance(hardware, dict) else None
        if not isinstance(name, str) or not name:
            return
        from llmspec.catalog import CatalogError, resolve

        try:
            resolve(name, self.accelerators)
        except CatalogError as exc:
            where = self.source.locate(("hardware", "accelerator"))  # type: ignore[union-attr]
            self.problem(where, "hardware.accelerator", f"hardware.accelerator: {exc}")

    def load(self, path: str | os.PathLike, overrides: Iterable[str]) -> Spec:
        display = os.fspath(path)
        self.source = SourceMap(path=display, accelerators=self.accelerators)
        try:
            data = self.load_document(Path(display), display, [], None)
        except _Failed:
            raise SpecError(self.problems) from None
        self.apply_overrides(data, overrides)
        self.import_hf_config(data)
        self.source.raw = copy.deepcopy(data)
        spec = self.validate(data)
        if spec is None or self.problems:
            raise SpecError(self.problems)
        spec._source = self.source
        return spec


def _find(source: SourceMap, key: tuple, display: str) -> Location:
    loc = source.locate(key)
    return loc if loc.file == display else Location(display, 1, 1)


def _resolve(path: Path) -> Path:
    """``path`` with symlinks resolved; a symlink loop stays unresolved, and reading it reports the loop."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: "Symlink loop" on Python < 3.13
        return Path(os.path.abspath(path))


def _shown(path: Path) -> str:
    """A path for messages: relative to the working directory when it lies below it, else absolute."""
    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel


def _deepest_position(text: str, path: tuple) -> tuple[int, int]:
    """Where the over-deep value ``path`` (or its nearest written ancestor) is written, else 1:1."""
    positions = scan(text)
    for k in range(len(path), 0, -1):
        if isinstance(path[k - 1], str) and path[:k] in positions:  # the key, not an element deep inside it
            return positions[path[:k]]
    return 1, 1


def deep_merge(base: dict, override: Mapping) -> dict:
    """Tables merge key by key, recursively; any other value (arrays included) in ``override`` replaces."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_override(item: str) -> tuple[str, Any, str | None]:
    """``"training.epochs=2"`` -> ("training.epochs", 2, None). The value is read as one TOML value; a bare word
    is a string. Returns an error message as the third element when the override is malformed: anything but
    exactly one key and one value (trailing TOML such as ``2\\n[hardware]``), or the ``extends`` key (a base
    spec is part of the file, not an override)."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        return key, None, f"--set {item!r}: expected KEY=VALUE, e.g. --set training.epochs=2"
    if not _OVERRIDE_KEY.match(key):
        return key, None, f"--set {item!r}: {key!r} is not a key path; write dotted keys such as training.lora.rank"
    if key.split(".")[0] == "extends":
        return key, None, f"--set {item!r}: extends cannot be overridden; edit the spec's extends key instead"
    raw = raw.strip()
    try:
        parsed = tomllib.loads(f"v = {raw}")
    except (tomllib.TOMLDecodeError, RecursionError):
        parsed = None
    if parsed is not None and list(parsed) == ["v"] and tomltext.too_deep(parsed) is None:
        return key, parsed["v"], None
    if parsed is not None:  # "2\n[hardware]": more than the one value
        return key, None, f"--set {item!r}: {raw!r} is more than one TOML value; one --set takes one KEY=VALUE"
    if raw[:1] in ("[", "{", '"', "'"):  # meant as a TOML array, table or string, but malformed
        return key, None, f"--set {item!r}: {raw!r} is not a valid TOML value (check brackets and quotes)"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in raw):
        return key, None, f"--set {item!r}: the value holds a line break or control character; quote it as a TOML string"
    return key, raw, None


def load_spec(
    path: str | os.PathLike,
    overrides: Iterable[str] = (),
    *,
    accelerators: Mapping[str, Mapping] | None = None,
) -> Spec:
    """Load and validate a spec file. ``overrides`` are ``"key.path=value"`` strings (as ``--set``);
    ``accelerators`` adds catalog entries (as ``[accelerators]`` in llmspec.toml).

    This function reads no project configuration: :func:`llmspec.project.load_spec` (which is
    ``llmspec.load_spec``) resolves llmspec.toml / [tool.llmspec] and passes its accelerators here.

    Raises :class:`SpecError` listing every problem, each with its file:line:col.
    """
    return _Loader(accelerators).load(path, overrides)


def load_data(data: dict, source: SourceMap, overrides: Iterable[str] = ()) -> Spec:
    """Validate a spec document already in memory (a training config of another tool, imported by
    llmspec.bridges), whose positions ``source`` already holds: ``--set`` overrides, hf_config and the catalog
    are applied as for a file. Raises :class:`SpecError` listing every problem."""
    loader = _Loader(source.accelerators)
    loader.source = source
    loader.apply_overrides(data, overrides)
    loader.import_hf_config(data)
    source.raw = copy.deepcopy(data)
    spec = loader.validate(data)
    if spec is None or loader.problems:
        raise SpecError(loader.problems)
    spec._source = source
    return spec
