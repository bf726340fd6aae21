"""Which checkpoint an eval loads, whether it is safe to load, and a hash of its files.

Order: ``--model`` > ``[eval].model`` > ``[model].weights``; paths are relative to the spec file;
``llmspec:<name>`` is one of the project's tiny models (built on first use, :mod:`llmspec.eval.tinymodel`);
anything else that is not an existing path is treated as a hub id (which fails offline with a clear error).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
SAFE_SUFFIXES = (".safetensors", ".gguf")


class EvalError(Exception):
    """A user-facing eval failure: one line, with the exit code it maps to (2 usage/config, 3 infrastructure)."""

    def __init__(self, message: str, exit_code: int = 3):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class ModelRef:
    ref: str  # what the spec or command line said
    location: str  # local absolute path or hub id
    local: bool
    builtin: bool = False

    @property
    def label(self) -> str:
        return self.ref


def choose(spec, cli_model: str | None) -> tuple[str, Path]:
    """The model reference and the directory it is relative to."""
    spec_dir = Path(spec.source.path).parent if spec.source is not None else Path.cwd()
    if cli_model:
        return cli_model, Path.cwd()
    if spec.eval is not None and spec.eval.model:
        return spec.eval.model, spec_dir
    if spec.model.weights:
        return spec.model.weights, spec_dir
    raise EvalError("no model to evaluate: set [model].weights or [eval].model in the spec, or pass --model PATH", 2)


def resolve(spec, cli_model: str | None = None, *, log=None) -> ModelRef:
    from llmspec.eval import tinymodel

    ref, base = choose(spec, cli_model)
    if tinymodel.is_builtin(ref):
        try:
            path = tinymodel.resolve(ref, log=log)
        except KeyError as e:
            raise EvalError(str(e.args[0]), 2) from None
        return ModelRef(ref, str(path), True, builtin=True)
    path = Path(ref).expanduser()
    path = path if path.is_absolute() else base / path
    if path.exists():
        return ModelRef(ref, str(path.resolve()), True)
    looks_like_path = ref.startswith((".", "/", "~")) or ref.count("/") > 1 or "\\" in ref
    if looks_like_path:
        raise EvalError(f"model not found: {path}", 3)
    return ModelRef(ref, ref, False)  # a hub id such as "EleutherAI/pythia-70m"


def check_format(model: ModelRef, allow_pickle: bool) -> None:
    """Refuse pickle-format weights (arbitrary code on load) unless the user allows them."""
    if not model.local:
        return
    root = Path(model.location)
    files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
    safe = [p for p in files if p.suffix in SAFE_SUFFIXES]
    pickled = [p for p in files if p.suffix in PICKLE_SUFFIXES and "optimizer" not in p.name
               and "training_args" not in p.name]
    if pickled and not safe and not allow_pickle:
        raise EvalError(
            f"{model.location}: pickle-format weights ({pickled[0].name}) can run arbitrary code when loaded; "
            f"convert them to safetensors, or allow them with --allow-pickle or [eval].allow_pickle = true", 2)


def hash_files(location: str, local: bool = True) -> str:
    """``sha256:`` over the relative names and contents of every file of a local checkpoint (sorted).
    Hub ids hash their name: the cache then keys on the id (no revision pinning offline)."""
    h = hashlib.sha256()
    if not local:
        h.update(f"hub:{location}".encode())
        return "sha256:" + h.hexdigest()
    root = Path(location)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for p in files:
        rel = p.name if root.is_file() else p.relative_to(root).as_posix()
        if rel.startswith(".") or "/." in rel:
            continue
        h.update(rel.encode() + b"\0")
        with p.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        h.update(b"\0")
    return "sha256:" + h.hexdigest()
