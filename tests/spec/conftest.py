"""Fixtures for the spec tests (helpers live in spec_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from spec_helpers import run_cli


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def write(tmp_path: Path):
    """write("name.toml", text_or_bytes) -> Path inside tmp_path (parents created)."""

    def _write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return _write
