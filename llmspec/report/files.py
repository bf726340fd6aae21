"""Writing reports: atomically (a CI artifact is never half-written), and charts beside a Markdown file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from llmspec.report.charts import standalone


def _mode(path: Path) -> int:
    """The permissions an ordinary ``open(path, "w")`` would give: the existing file's, else 0o666 less the
    umask. (mkstemp creates 0o600, which would hide a CI artifact or a published review from its readers.)"""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_atomic(path: Path, text: str) -> None:
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent or "."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def chart_writer(report: Path) -> Callable[[str, str], str]:
    """For ``review.md``: a function that writes chart NAME as ``review.NAME.svg`` beside it and returns the
    relative link Markdown uses (GitHub renders SVG files linked from Markdown, not inline SVG)."""
    report = Path(report)
    stem = report.name[: -len(report.suffix)] if report.suffix else report.name

    def write(name: str, svg: str) -> str:
        target = report.with_name(f"{stem}.{name}.svg")
        write_atomic(target, standalone(svg))
        return target.name

    return write
