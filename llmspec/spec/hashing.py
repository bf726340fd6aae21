"""A stable identity for a spec: what eval results and reports use to tell which spec they belong to."""

from __future__ import annotations

import hashlib
import json


def spec_hash(spec) -> str:
    """``sha256:<hex>`` of the merged document as the user wrote it (after extends, --set and hf_config import),
    as canonical JSON. Defaults filled in by the models do not enter it, so upgrading llmspec keeps hashes."""
    raw = spec.source.raw if getattr(spec, "source", None) is not None else spec.model_dump(mode="json")
    return "sha256:" + hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()
