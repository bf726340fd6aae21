"""Shared paths for the sweep tests (imported as ``sweep_helpers``; pytest puts this folder on sys.path)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLE = ROOT / "examples" / "sweeps" / "llama2-7b-lora-sweep.toml"
