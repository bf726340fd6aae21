"""Which files are specs.

``llmspec lint`` takes files and folders. A ``.toml`` file is linted as a spec when its **parsed** content is one:
the document has a top-level ``model`` table or an ``extends`` key (however they are spelled: ``[model]``,
``["model"]``, ``"model" = {...}``, ``model.name = ...``), or every top-level key is a spec section (a base spec
such as ``[training]`` + ``[hardware]``). Nothing is decided by text markers, so a comment or a string can
neither hide a spec nor make one. Other TOML files (pyproject.toml, Cargo.toml, ...) parse to other keys and
are skipped, so the pre-commit hook can simply match ``\\.toml$``.

A file whose kind cannot be decided is linted, so that its problem is reported rather than skipped (fail
closed): a file that is not valid TOML (unless the part before the error already shows another tool's keys,
such as ``[package]``), not UTF-8, too large, or not a regular file (a FIFO, a device, a symlink loop).

Files matching the config's ``include`` globs are always linted; files matching ``exclude`` never are. Folders
are searched recursively for ``*.toml``, skipping hidden folders and virtual environments.

``*.yaml`` / ``*.yml`` files are training configs of other tools (axolotl, TRL, ...) when their parsed keys say so
(llmspec.bridges.lintfile decides, through the ``foreign`` callback): found in a folder, other YAML is skipped;
named on the command line, it is a usage error.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from llmspec.spec import tomltext

_SKIP_DIRS = {"node_modules", "__pycache__", "site-packages", "venv", ".venv", "build", "dist"}
_NOT_SPECS = {"pyproject.toml", "llmspec.toml"}  # project configuration, read by llmspec.config


@lru_cache(maxsize=1)
def _sections() -> frozenset[str]:
    from llmspec.spec.models import Spec

    return frozenset(Spec.model_fields) | {"extends"}


def _is_spec_document(data: dict) -> bool:
    return "model" in data or "extends" in data or (bool(data) and set(data) <= _sections())


def is_spec(path: Path) -> bool:
    """Whether ``path`` is linted as a spec (see the module docs)."""
    try:
        text = tomltext.read_text(path)
    except tomltext.ReadError as exc:
        return not exc.missing  # gone, or a dangling link (an editor's lock file); else unreadable, too large, not a regular file, not UTF-8: the loader reports why
    try:
        return _is_spec_document(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        line = tomltext.error_position(exc, text)[0] if isinstance(exc, tomllib.TOMLDecodeError) else 1
        try:  # the valid part before the error: another tool's keys there mean another tool's file
            head = tomllib.loads("\n".join(tomltext.lines(text)[: line - 1]))
        except (tomllib.TOMLDecodeError, RecursionError):
            return True
        return not head or _is_spec_document(head)


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + "(?:/.*)?$")


def glob_match(pattern: str, path: str | os.PathLike[str], root: str | os.PathLike[str]) -> bool:
    """Whether ``path`` matches a glob relative to ``root`` ("**" spans folders). A pattern without "/" also
    matches the file name alone, as in .gitignore."""
    name = os.fspath(path)
    regex = _glob_regex(pattern.strip("/") if "/" in pattern else pattern)
    if regex.match(_relative(name, os.fspath(root))):
        return True
    return "/" not in pattern and bool(regex.match(os.path.basename(name)))


def _relative(path: str, root: str) -> str:
    """``path`` relative to ``root`` in POSIX form (string operations: this runs for every file and glob), or
    ``path`` itself when it is not under ``root``."""
    full, base = os.path.abspath(path), os.path.abspath(root)
    if full == base:
        return "."
    prefix = base if base.endswith(os.sep) else base + os.sep
    rel = full[len(prefix):] if full.startswith(prefix) else path
    return rel.replace(os.sep, "/") if os.sep != "/" else rel


def is_yaml(path: str) -> bool:
    return path.lower().endswith((".yaml", ".yml"))


def discover(paths: list[str], config_for: Callable,
             foreign: Callable[[str, bool], bool] | None = None) -> tuple[list[str], list[str], list[str]]:
    """(spec files to lint, named files skipped as non-specs, paths that do not exist). ``foreign(path, named)``
    says whether a YAML file is a training config to lint (None: YAML files are not considered)."""
    files: list[str] = []
    skipped: list[str] = []
    missing: list[str] = []
    seen: set[str] = set()

    def consider(path: str, named: bool) -> None:
        key = os.path.abspath(path)
        if key in seen:
            return
        seen.add(key)
        config = config_for(path)
        root = config.root
        if any(glob_match(p, path, root) for p in config.exclude):
            return
        if is_yaml(path):
            if foreign is not None and foreign(path, named or any(glob_match(p, path, root) for p in config.include)):
                files.append(path)
            elif named and foreign is None:
                skipped.append(path)
        elif any(glob_match(p, path, root) for p in config.include):
            files.append(path)
        elif os.path.basename(path) not in _NOT_SPECS and is_spec(Path(path)):
            files.append(path)
        elif named:
            skipped.append(path)

    for raw in paths:
        if os.path.isdir(raw):
            for folder, dirs, names in os.walk(raw):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
                for name in sorted(names):
                    if name.endswith(".toml") or (foreign is not None and is_yaml(name)):
                        consider(os.path.normpath(os.path.join(folder, name)), named=False)
        elif os.path.exists(raw):
            consider(raw, named=True)
        else:
            missing.append(raw)
    return files, skipped, missing
