"""The table of real checkpoints whose published config.json files ship as presets (file stem -> hub id)."""

from __future__ import annotations

import json

from llmspec.spec.families import PRESET_DIR, PRESETS

CONFIGS = PRESET_DIR

# One or more real checkpoints per supported family, each exercising that family's quirks: the registry's presets
# (llmspec/spec/families.py), file stem -> hub id.
CHECKPOINTS = {p.file: p.repo for p in PRESETS.values()}


def load(stem: str) -> dict:
    return json.loads((CONFIGS / f"{stem}.json").read_text(encoding="utf-8"))
