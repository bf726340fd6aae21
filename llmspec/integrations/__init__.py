"""Callbacks that check a training run against its spec and record what it measured (issue 13, run records).

- ``llmspec.integrations.hf_trainer.LlmspecCallback``: a transformers ``TrainerCallback``;
- ``llmspec.integrations.lightning_callback.LlmspecLightningCallback``: a Lightning ``Callback``;
- ``llmspec.integrations.record.RunRecord``: the record they write (schemas/run-record.schema.json), which
  ``llmspec calibrate`` compares with the estimate.

Importing this package imports neither torch, transformers nor lightning: each callback module imports its own
framework, and the names below load it only when asked for.
"""

from __future__ import annotations

__all__ = ["LlmspecCallback", "LlmspecLightningCallback", "RunRecord"]

_WHERE = {"LlmspecCallback": "llmspec.integrations.hf_trainer",
          "LlmspecLightningCallback": "llmspec.integrations.lightning_callback",
          "RunRecord": "llmspec.integrations.record"}


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'llmspec.integrations' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_WHERE[name]), name)
