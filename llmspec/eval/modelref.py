"""Which checkpoint an eval loads, whether it is safe to load, and a hash of its files.

Order: ``--model`` > ``[eval].model`` > ``[model].weights``; paths are relative to the spec file;
``llmspec:<name>`` is one of the project's tiny models (built on first use, :mod:`llmspec.eval.tinymodel`);
anything else that is not an existing path is treated as a hub id (which fails offline with a clear error).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path


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
        except RuntimeError as e:  # a corrupt built model that cannot be deleted (tinymodel.resolve)
            raise EvalError(str(e), 3) from None
        return ModelRef(ref, str(path), True, builtin=True)
    path = Path(ref).expanduser()
    path = path if path.is_absolute() else base / path
    if path.exists():
        return ModelRef(ref, str(path.resolve()), True)
    looks_like_path = ref.startswith((".", "/", "~")) or ref.count("/") > 1 or "\\" in ref
    if looks_like_path:
        raise EvalError(f"model not found: {path}", 3)
    return ModelRef(ref, ref, False)  # a hub id such as "EleutherAI/pythia-70m"


# What transformers 5.24 loads from a checkpoint with use_safetensors=True
# (transformers/modeling_utils.py, _get_resolved_checkpoint_files): config.json's "transformers_weights" first
# (any name ending .safetensors or .safetensors.index.json, and also "adapter_model.bin", which is a pickle),
# else model.safetensors, else model.safetensors.index.json; each shard of an index is then read by its suffix
# (load_state_dict: ".safetensors" through safetensors, anything else through torch.load).
# PEFT 0.21 (peft/utils/save_and_load.py, load_peft_weights) reads adapter_model.safetensors when present,
# else adapter_model.bin through torch.load.
SAFE_WEIGHTS = "model.safetensors"
SAFE_INDEX = "model.safetensors.index.json"
SAFE_ADAPTER = "adapter_model.safetensors"
_FIX = "convert it to safetensors, or allow pickle with --allow-pickle or [eval].allow_pickle = true"


def _refuse(where: str, what: str) -> EvalError:
    return EvalError(f"{where}: {what}; pickle can run arbitrary code when loaded: {_FIX}", 2)


def _read_json(read, name: str, where: str) -> dict | None:
    raw = read(name)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise EvalError(f"{where}/{name}: not valid JSON ({e}); fix or delete the file", 2) from None
    return data if isinstance(data, dict) else None


def _check_files(read, exists, where: str, *, local: bool) -> None:
    """The checkpoint rules over a file reader (a local folder, or a hub id's cached files)."""
    config = _read_json(read, "config.json", where) or {}
    named = config.get("transformers_weights")
    entry = None
    if named is not None:
        if not isinstance(named, str) or not named.endswith((".safetensors", ".safetensors.index.json")):
            raise _refuse(f"{where}/config.json", f"transformers_weights = {json.dumps(named)} names a file "
                          f"transformers would unpickle")
        entry = named
    elif exists(SAFE_WEIGHTS):
        entry = SAFE_WEIGHTS
    elif exists(SAFE_INDEX):
        entry = SAFE_INDEX
    elif local:
        found = sorted(p.name for p in Path(where).iterdir() if p.is_file() and not p.name.endswith(".json")
                       and p.suffix not in (".safetensors", ".txt", ".md", ".model", ".py"))
        missing = f"no {SAFE_WEIGHTS} or {SAFE_INDEX} beside config.json (transformers does not look in subfolders)"
        if not found:
            raise EvalError(f"{where}: {missing}", 3)
        raise _refuse(where, f"{missing}, so it would fall back to pickle-format weights ({', '.join(found)})")
    if local and entry:
        _check_complete(Path(where), entry)
    if entry and entry.endswith(".index.json"):
        index = _read_json(read, entry, where) or {}
        weight_map = index.get("weight_map")
        shards = set(weight_map.values()) if isinstance(weight_map, dict) else set()
        for shard in sorted(str(s) for s in shards):
            if not shard.endswith(".safetensors") or shard.startswith(("/", "\\")) or ".." in Path(shard).parts:
                raise _refuse(f"{where}/{entry}", f"shard {shard!r} is not a .safetensors file inside the "
                              f"checkpoint, and transformers would unpickle it")


def _check_complete(root: Path, entry: str) -> None:
    """A truncated or garbled safetensors file is named in one line (exit 3), not left to a loader traceback."""
    from llmspec.eval.integrity import safetensors_problem

    files = [entry]
    if entry.endswith(".index.json"):
        try:
            weight_map = json.loads((root / entry).read_text(encoding="utf-8")).get("weight_map") or {}
        except (OSError, ValueError, AttributeError):
            return  # transformers names a broken index itself
        files = sorted({str(v) for v in weight_map.values() if str(v).endswith(".safetensors")})
    for name in files:
        problem = safetensors_problem(root / name) if (root / name).is_file() else None
        if problem:
            raise EvalError(f"cannot load model {root}: {name} is not a complete safetensors file ({problem}); "
                            f"save or download it again", 3)


def _local_reader(root: Path):
    def read(name: str) -> bytes | None:
        p = root / name
        return p.read_bytes() if p.is_file() else None
    return read, lambda name: (root / name).is_file()


def _hub_reader(repo: str):
    """Files of a hub id already in the local Hugging Face cache (no network: the hubs are not asked)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return (lambda name: None), (lambda name: False)

    def path(name: str) -> str | None:
        try:
            found = try_to_load_from_cache(repo, name)
        except Exception:  # an id huggingface_hub cannot parse: transformers reports it when loading
            return None
        return found if isinstance(found, str) else None

    def read(name: str) -> bytes | None:
        p = path(name)
        return Path(p).read_bytes() if p else None
    return read, lambda name: path(name) is not None


def check_format(model: ModelRef, allow_pickle: bool) -> None:
    """Refuse a checkpoint from which transformers would unpickle anything (arbitrary code on load), judged by
    what transformers loads rather than by file names. With ``use_safetensors=True`` (lmeval.make_lm) and the
    runtime guard (lmeval.refuse_pickle) this covers hub ids too."""
    if allow_pickle:
        return
    if not model.local:
        read, exists = _hub_reader(model.location)
        _check_files(read, exists, model.location, local=False)
        return
    root = Path(model.location)
    if root.is_file():
        if root.suffix != ".safetensors":
            raise _refuse(str(root), "not a .safetensors file")
        return
    read, exists = _local_reader(root)
    _check_files(read, exists, str(root), local=True)


def check_adapter(adapter: str | None, allow_pickle: bool) -> None:
    """PEFT adapters only as safetensors (PEFT reads adapter_model.safetensors first when it exists)."""
    if not adapter or allow_pickle:
        return
    root = Path(adapter)
    if root.is_dir():
        if not (root / SAFE_ADAPTER).is_file():
            raise _refuse(str(root), f"no {SAFE_ADAPTER}, so PEFT would load a pickled adapter_model.bin")
    elif root.is_file():
        raise _refuse(str(root), "an adapter must be a folder holding " + SAFE_ADAPTER)
    else:
        _read, exists = _hub_reader(adapter)
        if exists("adapter_model.bin") and not exists(SAFE_ADAPTER):
            raise _refuse(adapter, f"the cached adapter has no {SAFE_ADAPTER}, so PEFT would load adapter_model.bin")


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
