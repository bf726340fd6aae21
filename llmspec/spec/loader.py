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

from llmspec.spec.messages import message_for, show_value
from llmspec.spec.models import Spec
from llmspec.spec.problems import Problem, SpecError, dotted
from llmspec.spec.source import Location, SourceMap, first_duplicate

__all__ = ["load_spec", "SpecError", "Problem", "parse_override"]

MAX_BYTES = 4 * 2**20  # a spec is a page of TOML; anything bigger is almost certainly the wrong file
_TOML_POS = re.compile(r"^(?P<msg>.*?)\s*\(at line (?P<line>\d+), column (?P<col>\d+)\)\s*$", re.S)
_OVERRIDE_KEY = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


class _Failed(Exception):
    """Internal: reading stops, the collected problems are reported."""


class _Loader:
    def __init__(self, accelerators: Mapping[str, Mapping] | None):
        self.problems: list[Problem] = []
        self.accelerators = accelerators
        self.source: SourceMap | None = None

    # -- reading one file ------------------------------------------------------------------------------
    def problem(self, loc: Location, key: str, message: str, kind: str = "schema") -> None:
        self.problems.append(Problem(loc.file, loc.line, loc.col, key, message, kind))  # type: ignore[arg-type]

    def read_text(self, path: Path, display: str, referrer: Callable[[], Location] | None) -> str:
        """``referrer`` locates the extends key that named this file (computed only when there is a problem)."""

        def where() -> Location:
            return referrer() if referrer else Location(display, 1, 1)

        kind = "extends" if referrer else "io"
        try:
            if path.is_dir():
                self.problem(where(), "", f"{display} is a directory, not a spec file; name a .toml file", kind)
                raise _Failed
            data = path.read_bytes()[: MAX_BYTES + 1]
        except FileNotFoundError:
            what = f"extends: base spec {display!r} not found" if referrer else f"{display}: no such file"
            self.problem(where(), "", what, kind)
            raise _Failed from None
        except OSError as exc:
            self.problem(where(), "", f"{display}: cannot read file ({exc.strerror or exc})", kind)
            raise _Failed from None
        if len(data) > MAX_BYTES:
            self.problem(Location(display, 1, 1), "", f"file is larger than {MAX_BYTES // 2**20} MiB; a spec is a small TOML file", "io")
            raise _Failed
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        nul = data.find(b"\x00")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line, col = _byte_position(data, exc.start)
            self.problem(Location(display, line, col), "", f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the spec as UTF-8", "io")
            raise _Failed from None
        if nul >= 0:
            line, col = _byte_position(data, nul)
            self.problem(Location(display, line, col), "", "binary data (a NUL byte); a spec is UTF-8 TOML text", "io")
            raise _Failed
        return text

    def parse(self, text: str, display: str) -> dict:
        if not text.strip():
            self.problem(Location(display, 1, 1), "", "file is empty; a spec needs at least a [model] table", "toml")
            raise _Failed
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            match = _TOML_POS.match(str(exc))
            dup = first_duplicate(text) if ("overwrite" in str(exc) or "declare" in str(exc)) else None
            if dup is not None:
                loc = Location(display, dup[1], dup[2])
                if dup[3] != dup[0]:
                    msg = f"{dotted(dup[0])!r} extends {dotted(dup[3])!r}, which is already set to a value"
                elif "declare" in str(exc):
                    msg = f"table [{dotted(dup[0])}] is declared twice"
                else:
                    msg = f"key {dotted(dup[0])!r} is defined twice"
            elif match:
                loc = Location(display, int(match["line"]), int(match["col"]))
                msg = match["msg"]
            else:
                msg = re.sub(r"\s*\(at end of document\)\s*$", "", str(exc))
                lines = text.rstrip("\n").split("\n")  # TOML lines end at LF only (a lone CR is no line break)
                loc = Location(display, len(lines), len(lines[-1].rstrip("\r")) + 1)
            self.problem(loc, "", f"invalid TOML: {msg[0].lower()}{msg[1:]}", "toml")
            raise _Failed from None
        except (RecursionError, MemoryError):
            self.problem(Location(display, 1, 1), "", "invalid TOML: nesting is too deep", "toml")
            raise _Failed from None

    # -- extends ---------------------------------------------------------------------------------------
    def load_document(
        self, path: Path, display: str, chain: list[Path], referrer: Callable[[], Location] | None
    ) -> dict:
        text = self.read_text(path, display, referrer)
        data = self.parse(text, display)
        base_ref = data.get("extends")
        merged: dict = {}
        if base_ref is not None:
            def here() -> Location:
                return _find(self.source_for(display, text), ("extends",), display)

            if not isinstance(base_ref, str) or not base_ref.strip():
                self.problem(here(), "extends", 'extends: expected a path to a base spec, e.g. extends = "base.toml"', "extends")
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
            base_path = (path.parent / base_ref).resolve()
            base_display = os.path.normpath(os.path.join(os.path.dirname(display), base_ref))
            if base_path in chain or base_path == path.resolve():
                cycle = " -> ".join([*(str(p.name) for p in chain), path.name, Path(base_ref).name])
                self.problem(here(), "extends", f"extends cycle: {cycle}; remove one of the extends keys", "extends")
                raise _Failed
            merged = self.load_document(base_path, base_display, [*chain, path.resolve()], here)
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
            where = Location(f"<--set {key or item}>", 1, 1)
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
        path = Path(os.path.dirname(where.file) or ".") / ref
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(config, dict):
                raise ValueError("the top level is not a JSON object")
        except FileNotFoundError:
            self.problem(where, "model.hf_config", f"model.hf_config: {ref!r} not found (relative to {where.file})")
            return
        except (OSError, ValueError, RecursionError) as exc:
            self.problem(where, "model.hf_config", f"model.hf_config: cannot read {ref!r} as a config.json ({exc})")
            return
        from llmspec.spec.hf_import import HFConfigError, architecture_from_hf

        try:
            family, arch = architecture_from_hf(config)
        except HFConfigError as exc:
            self.problem(where, "model.hf_config", f"model.hf_config: {exc}")
            return
        written = model.get("architecture") if isinstance(model.get("architecture"), dict) else {}
        model["architecture"] = deep_merge(arch, written)
        model.setdefault("family", family)
        self.source.default_origin(("model", "architecture"), where)  # type: ignore[union-attr]

    # -- validation ------------------------------------------------------------------------------------
    def validate(self, data: dict) -> Spec | None:
        self.check_accelerator(data)
        try:
            spec = Spec.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                loc = tuple(error["loc"])
                message = message_for(Spec, error)
                if loc == ("version",):
                    message = (
                        f"version: spec format version {show_value(error.get('input'))} is not supported; "
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


def _byte_position(data: bytes, index: int) -> tuple[int, int]:
    line_start = data.rfind(b"\n", 0, index) + 1
    return data.count(b"\n", 0, index) + 1, len(data[line_start:index].decode("utf-8", "replace")) + 1


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
    """``"training.epochs=2"`` -> ("training.epochs", 2, None). The value is read as a TOML value; a bare word is
    a string. Returns an error message as the third element when the override is malformed."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        return key, None, f"--set {item!r}: expected KEY=VALUE, e.g. --set training.epochs=2"
    if not _OVERRIDE_KEY.match(key):
        return key, None, f"--set {item!r}: {key!r} is not a key path; write dotted keys such as training.lora.rank"
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):
        if raw[:1] in ('[', '{', '"', "'"):  # meant as a TOML array, table or string, but malformed
            return key, None, f"--set {item!r}: {raw!r} is not a valid TOML value (check brackets and quotes)"
        value = raw
    return key, value, None


def load_spec(
    path: str | os.PathLike,
    overrides: Iterable[str] = (),
    *,
    accelerators: Mapping[str, Mapping] | None = None,
) -> Spec:
    """Load and validate a spec file. ``overrides`` are ``"key.path=value"`` strings (as ``--set``);
    ``accelerators`` adds catalog entries (as ``[accelerators]`` in llmspec.toml).

    Raises :class:`SpecError` listing every problem, each with its file:line:col.
    """
    if accelerators is None:
        accelerators = _configured_accelerators(Path(os.fspath(path)).parent)
    return _Loader(accelerators).load(path, overrides)


def _configured_accelerators(start: Path) -> Mapping[str, Mapping] | None:
    """Extra catalog entries from llmspec.toml / [tool.llmspec] when a config module is available."""
    try:
        from llmspec.config import find_config
    except ImportError:
        return None
    try:
        config = find_config(start)
    except Exception:  # a broken config is reported by the commands that read it, not while loading a spec
        return None
    return getattr(config, "accelerators", None) or None
