"""Where the data a pip user needs lives: in the wheel (llmspec/_data/...) or, in a checkout, the repo root."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The ``schemas`` or ``suites`` folder: packaged copy in a wheel install, the repo's own in a checkout."""
    packaged = _PACKAGE / "_data" / name
    if packaged.is_dir():
        return packaged
    return _PACKAGE.parent / name
