"""Which transformers version the estimate models, for the registry facts that depend on it.

The installed version is read from its distribution metadata (importlib.metadata: no import of transformers, so
the lint path stays light). Without transformers installed, the estimate assumes ASSUMED, the version CI pins
(.ci/run: transformers==5.24.0) and the one the family measurements (benchmarks/memory_accuracy.md) were made on;
the output says which it used.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import metadata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmspec.spec.models import Architecture

ASSUMED = "5.24.0"


@lru_cache(maxsize=1)
def transformers_version() -> tuple[str, bool]:
    """(version, installed): the installed transformers' version, else (ASSUMED, False)."""
    try:
        return metadata.version("transformers"), True
    except metadata.PackageNotFoundError:
        return ASSUMED, False


def release(version: str) -> tuple[int, ...]:
    """The leading release numbers of a version string: "5.25.0.dev0" -> (5, 25, 0), "5.24" -> (5, 24)."""
    match = re.match(r"\d+(?:\.\d+)*", version.strip())
    return tuple(int(p) for p in match.group(0).split(".")) if match else ()


def at_least(version: str, floor: str) -> bool:
    """version >= floor by release numbers (a pre-release of floor counts as floor: it carries the change)."""
    have, want = release(version), release(floor)
    width = max(len(have), len(want))
    return have + (0,) * (width - len(have)) >= want + (0,) * (width - len(want))


def attention_version_notes(arch: Architecture, family: str | None = None) -> list[str]:
    """What the estimate assumed where the registry's attention path depends on the transformers version."""
    from llmspec.estimate.activations import math_attention
    from llmspec.spec.families import family as registry_family

    fam = registry_family(family)
    if fam is None or fam.mqa_math_sdpa_until is None or arch.kv_heads != 1:
        return []
    version, installed = transformers_version()
    where = "installed" if installed else "assumed: transformers is not installed here"
    path = ("sdpa's math kernel for one K/V head (fp32 scores)" if math_attention(arch, family, version)
            else "sdpa's fused kernel")
    return [f"{fam.hf_class} attention as in transformers {version} ({where}): {path}; the class changed in "
            f"{fam.mqa_math_sdpa_until}"]
