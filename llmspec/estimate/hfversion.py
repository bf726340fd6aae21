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


def _expands_kv(arch: Architecture, family: str | None, backend: str) -> tuple[bool, str | None]:
    """(the registry's kv_cache_expanded applies to this spec's HF cache, the version bound it has)."""
    from llmspec.spec.families import family as registry_family

    fam = registry_family(family)
    if backend != "hf" or fam is None or not fam.kv_cache_expanded or arch.kv_heads >= arch.n_heads:
        return False, None
    # Falcon's new decoder architecture, as hfmap's export writes it (families._falcon_export): two norms in a
    # parallel block, or K/V heads other than 1 and n_heads; the old multi_query path keeps one K/V head as a view
    if not (arch.parallel_attention and arch.norms_per_layer == 2 or arch.kv_heads != 1):
        return False, None
    return True, fam.kv_cache_expanded_until


def kv_cache_heads(arch: Architecture, family: str | None = None, backend: str = "hf",
                   transformers: str | None = None) -> int:
    """K/V heads per block the backend's KV cache holds: n_heads where the registry's kv_cache_expanded applies (the
    HF backend, on a transformers release before kv_cache_expanded_until; ``transformers``: that version, default the
    installed one, else ASSUMED), n_kv_heads otherwise."""
    expands, until = _expands_kv(arch, family, backend)
    if expands and (until is None or not at_least(transformers or transformers_version()[0], until)):
        return arch.n_heads
    return arch.kv_heads


def kv_cache_notes(arch: Architecture, family: str | None = None, backend: str = "hf") -> list[str]:
    """What the estimate assumed about the HF KV cache's heads where the registry's fact depends on the version."""
    from llmspec.spec.families import family as registry_family

    expands, until = _expands_kv(arch, family, backend)
    if not expands:
        return []
    fam = registry_family(family)
    assert fam is not None
    version, installed = transformers_version()
    where = "installed" if installed else "assumed: transformers is not installed here"
    heads = kv_cache_heads(arch, family, backend)
    if heads == arch.n_heads:
        return [f"{fam.hf_class} KV cache as in transformers {version} ({where}): K/V expanded to all {heads} query "
                f"heads before the cache update ({heads // arch.kv_heads}x n_kv_heads)"]
    return [f"{fam.hf_class} KV cache as in transformers {version} ({where}): {heads} K/V heads assumed; the "
            f"expansion to every query head was verified before {until} only"]
