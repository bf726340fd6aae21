"""Eval integrity: the output folder is checked before the model loads, SIGTERM ends a run like Ctrl-C (partial
results marked incomplete, every report written), and corrupt caches are found before they break a run.

Pure Python (no torch/lm_eval imports): sqlite3 and the safetensors header format only.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import struct
import tempfile
from contextlib import contextmanager
from pathlib import Path

from llmspec.eval.modelref import EvalError


def validate_output(output: str | os.PathLike, *, create: bool) -> Path:
    """The --output folder, checked (and, with ``create``, made and probed with a temp file) before any work:
    an empty name, a file, a path under a file and an unwritable folder are one-line usage errors (exit 2)."""
    text = os.fspath(output)
    if not text.strip():
        raise EvalError("--output is empty; name a folder for the reports, e.g. --output llmspec-results", 2)
    if "\0" in text:
        raise EvalError(f"--output {text!r} contains a NUL character; name a folder", 2)
    path = Path(text).expanduser()
    existing = path
    while not existing.exists() and existing != existing.parent:
        if existing.is_symlink():  # a dangling link: mkdir would fail on it
            raise EvalError(f"--output {text}: {existing} is a broken symbolic link; remove it or name another folder",
                            2)
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        what = "is a file" if existing == path else f"cannot be created: {existing} is a file"
        raise EvalError(f"--output {text} {what}; name a folder for the reports", 2)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise EvalError(f"--output {text}: {existing} is not writable; name a folder you can write to", 2)
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".llmspec-probe-", dir=path)
            os.close(fd)
            os.unlink(probe)
        except OSError as e:
            raise EvalError(f"--output {text}: cannot write there ({e.strerror or e}); name a folder you can write "
                            f"to", 2) from None
    return path


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be, so the run ends the same way (partial results, every report)."""


@contextmanager
def sigterm_as_interrupt():
    """While the block runs, the first SIGTERM raises :class:`Terminated`; later ones are ignored, so the reports
    of the interrupted run are written in full (a second signal would otherwise cut them off)."""
    if not hasattr(signal, "SIGTERM"):
        yield
        return

    def on_term(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated()

    try:
        old = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread: signals cannot be handled here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def sqlite_problem(path: Path) -> str | None:
    """Why ``path`` is not a sound SQLite database (None when it is)."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = con.execute("PRAGMA quick_check").fetchone()
        finally:
            con.close()
    except sqlite3.DatabaseError as e:
        return str(e)
    return None if row and row[0] == "ok" else str(row[0] if row else "no answer to quick_check")


def repair_response_cache(prefix: str, warn) -> None:
    """lm-eval's response cache files (``<prefix>_rank<N>.db``, lm_eval/evaluator.py): a corrupt one is deleted
    (it is only a cache; the answers are recomputed), or named in one line when it cannot be."""
    base = Path(prefix)
    if not base.parent.is_dir():
        return
    for db in sorted(base.parent.glob(base.name + "_rank*.db")):
        problem = sqlite_problem(db)
        if problem is None:
            continue
        try:
            db.unlink()
        except OSError as e:
            raise EvalError(f"{db}: the response cache is corrupt ({problem}) and cannot be deleted "
                            f"({e.strerror or e}); delete it by hand and run again", 3) from None
        warn(f"warning: {db}: the response cache was corrupt ({problem}); deleted it, answers are recomputed")


def safetensors_problem(path: Path) -> str | None:
    """Why ``path`` is not a complete safetensors file (None when it is): an 8-byte little-endian header size,
    a JSON header, and tensor data ending exactly at the end of the file (the format's specification,
    https://github.com/huggingface/safetensors#format). Reads only the header."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(8)
            if len(head) < 8:
                return f"{size} bytes, shorter than the 8-byte header size"
            (n,) = struct.unpack("<Q", head)
            if n > size - 8:
                return f"the header claims {n} bytes but the file has {size - 8} after the size field (truncated)"
            header = json.loads(f.read(n))
    except OSError as e:
        return e.strerror or str(e)
    except (ValueError, UnicodeDecodeError) as e:
        return f"the header is not valid JSON ({e})"
    if not isinstance(header, dict):
        return "the header is not a JSON object"
    ends = [t["data_offsets"][1] for k, t in header.items() if k != "__metadata__" and isinstance(t, dict)
            and isinstance(t.get("data_offsets"), list) and len(t["data_offsets"]) == 2]
    data = size - 8 - n
    if ends and max(ends) > data:
        return f"the tensors need {max(ends)} bytes of data but the file holds {data} (truncated)"
    return None
