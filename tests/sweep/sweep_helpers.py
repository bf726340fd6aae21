"""Shared paths for the sweep tests (imported as ``sweep_helpers``; pytest puts this folder on sys.path)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLE = ROOT / "examples" / "sweeps" / "llama2-7b-lora-sweep.toml"


def train_without_objective(run):
    """A --train target that trains nothing and returns no objective value (a user's bug)."""
    return {"loss": 1.0}
