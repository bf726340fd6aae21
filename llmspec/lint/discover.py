"""Which files are specs.

``llmspec lint`` takes files and folders. A ``.toml`` file is linted as a spec when it looks like one: it has
a ``[model]`` table (or ``model.`` / ``model =`` keys), an ``extends`` key, or a Taplo ``#:schema`` line naming
the llmspec schema (when the file has multi-line strings, the parsed document must have ``model`` or
``extends`` at the top level, so that TOML files embedding specs in strings are not taken for specs). Other TOML files (pyproject.toml, Cargo.toml, ...) are skipped, so the pre-commit hook can
simply match ``\\.toml$``. Files matching the config's ``include`` globs are always linted (a broken spec
is still reported); files matching ``exclude`` never are. Folders are searched recursively for ``*.toml``,
skipping hidden folders and virtual environments.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

_SPEC_HINT = re.compile(
    r"^[ \t]*(?:\[[ \t]*model[ \t]*[\].]|model[ \t]*[.=]|extends[ \t]*=|#:schema[^\n]*llmspec)", re.MULTILINE
)
_SKIP_DIRS = {"node_modules", "__pycache__", "site-packages", "venv", ".venv", "build", "dist"}
_NOT_SPECS = {"pyproject.toml", "llmspec.toml"}


def is_spec(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(256 * 1024)
    except OSError:
        return False
    text = head.decode("utf-8", "replace")
    if not _SPEC_HINT.search(text):
        return False
    if "'''" in text or '"""' in text:
        # the hint may sit inside a multi-line string (a TOML file that embeds specs): ask the parser
        import tomllib

        try:
            data = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, RecursionError):
            return True  # broken TOML that looks like a spec: report it (SPC001)
        return "model" in data or "extends" in data
    return True


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


def glob_match(pattern: str, path: Path, root: Path) -> bool:
    """Whether ``path`` matches a glob relative to ``root`` ("**" spans folders). A pattern without "/" also
    matches the file name alone, as in .gitignore."""
    path = os.fspath(path)
    regex = _glob_regex(pattern.strip("/") if "/" in pattern else pattern)
    if regex.match(_relative(path, os.fspath(root))):
        return True
    return "/" not in pattern and bool(regex.match(os.path.basename(path)))


def _relative(path: str, root: str) -> str:
    """``path`` relative to ``root`` in POSIX form (string operations: this runs for every file and glob), or
    ``path`` itself when it is not under ``root``."""
    full, base = os.path.abspath(path), os.path.abspath(root)
    if full == base:
        return "."
    prefix = base if base.endswith(os.sep) else base + os.sep
    rel = full[len(prefix):] if full.startswith(prefix) else path
    return rel.replace(os.sep, "/") if os.sep != "/" else rel


def discover(paths: list[str], config_for: Callable) -> tuple[list[str], list[str], list[str]]:
    """(spec files to lint, named files skipped as non-specs, paths that do not exist)."""
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
        if any(glob_match(p, path, root) for p in config.include):
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
                    if name.endswith(".toml"):
                        consider(os.path.normpath(os.path.join(folder, name)), named=False)
        elif os.path.exists(raw):
            consider(raw, named=True)
        else:
            missing.append(raw)
    return files, skipped, missing
