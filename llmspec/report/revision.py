"""``REV:path`` arguments: materialise a spec as it was at a git revision, with the files it needs.

The spec is read with ``git show REV:path`` into a temporary folder at the same relative path, and so are,
recursively, the files it refers to (``extends``, ``model.hf_config``) and the configuration files above it
(``llmspec.toml``, ``pyproject.toml``), so relative references and config discovery work as they did at that
revision. Nothing in the repository or its git state changes. Paths follow ``git show``: relative to the
repository root, or to the current folder when they start with ``./`` or ``../``.
"""

from __future__ import annotations

import os
import posixpath
import subprocess
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CONFIG_FILES = ("llmspec.toml", "pyproject.toml")
MAX_FILES = 64  # an extends chain is a handful of files; this bounds a pathological one


class RevisionError(Exception):
    """An unknown revision, a path missing at that revision, or no git: one line, exit 2."""


@dataclass
class Side:
    path: str
    """The file to load."""
    display: str
    """How to name it: the path as given, or ``REV:path``."""
    root: str | None = None
    """The temporary checkout root (None for a plain path)."""
    rev: str | None = None

    def rename(self, text: str) -> str:
        """Replace the temporary root in a message with ``REV:`` so errors name what the user wrote."""
        if self.root is None:
            return text
        return text.replace(self.root + os.sep, f"{self.rev}:").replace(self.root + "/", f"{self.rev}:")


def is_revision(arg: str) -> bool:
    """``REV:path`` unless it is an existing file (a path may contain a colon) or has nothing around the colon."""
    if os.path.exists(arg) or ":" not in arg:
        return False
    rev, _, path = arg.partition(":")
    return bool(rev) and bool(path) and not (len(rev) == 1 and path[:1] in ("\\", "/"))  # not C:\ or C:/


def _git(args: list[str], cwd: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=60)
    except FileNotFoundError:
        raise RevisionError("git is not installed; REV:path arguments need git") from None
    except subprocess.TimeoutExpired:
        raise RevisionError(f"git {' '.join(args)} timed out") from None


@contextmanager
def materialise(arg: str, cwd: str | None = None) -> Iterator[Side]:
    if not is_revision(arg):
        yield Side(arg, arg)
        return
    cwd = cwd or os.getcwd()
    rev, _, path = arg.partition(":")
    top = _git(["rev-parse", "--show-toplevel"], cwd)
    if top.returncode != 0:
        raise RevisionError(f"{arg}: not inside a git repository (a REV:path argument needs one)")
    prefix = _git(["rev-parse", "--show-prefix"], cwd).stdout.decode().strip()
    if _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], cwd).returncode != 0:
        raise RevisionError(f"{arg}: unknown git revision {rev!r}")
    rel = posixpath.normpath(posixpath.join(prefix, path) if path.startswith(("./", "../")) else path)
    if rel.startswith("../") or rel == "..":
        raise RevisionError(f"{arg}: the path leaves the repository")
    with tempfile.TemporaryDirectory(prefix="llmspec-rev-") as tmp:
        tmp = os.path.realpath(tmp)
        fetcher = _Fetcher(rev, cwd, tmp)
        if not fetcher.fetch(rel):
            raise RevisionError(f"{arg}: no such file at revision {rev}")
        fetcher.follow(rel)
        yield Side(os.path.join(tmp, *rel.split("/")), f"{rev}:{rel}", tmp, rev)


class _Fetcher:
    def __init__(self, rev: str, cwd: str, root: str):
        self.rev, self.cwd, self.root = rev, cwd, root
        self.done: set[str] = set()

    def fetch(self, rel: str) -> bool:
        """Write REV:rel under the root; False when it is not a file at that revision."""
        if rel in self.done:
            return True
        if len(self.done) >= MAX_FILES or rel.startswith("../"):
            return False
        kind = _git(["cat-file", "-t", f"{self.rev}:{rel}"], self.cwd)
        if kind.returncode != 0 or kind.stdout.strip() != b"blob":
            return False
        blob = _git(["show", f"{self.rev}:{rel}"], self.cwd)
        if blob.returncode != 0:
            return False
        target = Path(self.root, *rel.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob.stdout)
        self.done.add(rel)
        return True

    def follow(self, rel: str) -> None:
        """Fetch the configuration above ``rel`` and everything it references, recursively."""
        folder = posixpath.dirname(rel)
        while True:
            for name in CONFIG_FILES:
                self.fetch(posixpath.join(folder, name) if folder else name)
            if not folder:
                break
            folder = posixpath.dirname(folder)
        for ref in self.references(rel):
            target = posixpath.normpath(posixpath.join(posixpath.dirname(rel), ref))
            if target not in self.done and self.fetch(target) and target.endswith(".toml"):
                self.follow(target)

    def references(self, rel: str) -> list[str]:
        try:
            data = tomllib.loads(Path(self.root, *rel.split("/")).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return []  # the loader reports the problem when it reads the file
        refs = [data.get("extends")]
        model = data.get("model")
        if isinstance(model, dict):
            refs.append(model.get("hf_config"))
        return [r for r in refs if isinstance(r, str) and r and not os.path.isabs(r)]
