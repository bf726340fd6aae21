"""The accelerator catalog: shipped as data (llmspec/data/accelerators.toml), extensible by users."""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from llmspec.units import parse_bytes

_KEYS = {"vendor", "architecture", "memory", "bandwidth", "tflops", "bf16", "fp8", "aliases", "source"}


@dataclass(frozen=True)
class Accelerator:
    name: str
    memory_bytes: int
    bandwidth_gbs: float
    tflops: Mapping[str, float]
    bf16: bool
    fp8: bool
    vendor: str = "unknown"
    architecture: str = "unknown"
    source: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)

    def peak_tflops(self, precision: str) -> float:
        """Peak dense TFLOP/s for a compute precision ("bf16", "fp16", "fp8", "fp32", "tf32", "int8")."""
        if precision in self.tflops:
            return self.tflops[precision]
        # fall back to the closest rate the part has: fp8 -> bf16/fp16, bf16 -> fp16, tf32 -> fp32
        for alt in {"fp8": ("bf16", "fp16"), "bf16": ("fp16", "fp32"), "tf32": ("fp32",), "int8": ("fp16",)}.get(
            precision, ()
        ):
            if alt in self.tflops:
                return self.tflops[alt]
        return self.tflops.get("fp32", 0.0)


class CatalogError(ValueError):
    """An unknown accelerator or a malformed catalog entry (``name``/``key``: the entry and key at fault)."""

    def __init__(self, message: str, name: str | None = None, key: str | None = None):
        super().__init__(message)
        self.name, self.key = name, key


def _entry(name: str, raw: Mapping) -> Accelerator:
    unknown = set(raw) - _KEYS
    if unknown:
        raise CatalogError(f"accelerator {name!r}: unknown key(s) {', '.join(sorted(unknown))}; allowed: "
                           f"{', '.join(sorted(_KEYS))}", name, sorted(unknown)[0])
    missing = {"memory", "bandwidth", "tflops"} - set(raw)
    if missing:
        raise CatalogError(f"accelerator {name!r}: missing {', '.join(sorted(missing))}", name)
    try:
        return Accelerator(
            name=name,
            memory_bytes=parse_bytes(raw["memory"]),
            bandwidth_gbs=float(raw["bandwidth"]),
            tflops={str(k): float(v) for k, v in dict(raw["tflops"]).items()},
            bf16=bool(raw.get("bf16", False)),
            fp8=bool(raw.get("fp8", False)),
            vendor=str(raw.get("vendor", "unknown")),
            architecture=str(raw.get("architecture", "unknown")),
            source=str(raw.get("source", "")),
            aliases=tuple(raw.get("aliases", ())),
        )
    except (TypeError, ValueError) as exc:
        raise CatalogError(f"accelerator {name!r}: {exc}", name) from None


@lru_cache(maxsize=1)
def builtin() -> dict[str, Accelerator]:
    text = resources.files("llmspec").joinpath("data/accelerators.toml").read_text(encoding="utf-8")
    return {name: _entry(name, raw) for name, raw in tomllib.loads(text).items()}


def catalog(extra: Mapping[str, Mapping] | None = None) -> dict[str, Accelerator]:
    """The built-in catalog plus user entries (``[accelerators.NAME]`` in llmspec.toml)."""
    table = dict(builtin())
    table.update(extras(extra))
    return table


def extras(extra: Mapping[str, Mapping] | None) -> dict[str, Accelerator]:
    """A project's own entries (``[accelerators.NAME]`` in llmspec.toml or ``[tool.llmspec.accelerators.NAME]``),
    validated: :class:`CatalogError` names the first malformed entry. The project configuration hands them over
    as plain data (``Config.accelerators``); this module alone knows what an entry is."""
    out = {}
    for name, raw in (extra or {}).items():
        if not isinstance(raw, Mapping):
            raise CatalogError(f"accelerator {name!r}: expected a table of keys ({', '.join(sorted(_KEYS))})", name)
        out[name] = _entry(name, raw)
    return out


def _index(table: Mapping[str, Accelerator]) -> dict[str, tuple[str, Accelerator]]:
    by_key: dict[str, tuple[str, Accelerator]] = {}
    for acc in table.values():
        for key in (acc.name, *acc.aliases):
            by_key[key.lower()] = (key, acc)
    return by_key


@lru_cache(maxsize=1)
def _builtin_index() -> dict[str, tuple[str, Accelerator]]:
    return _index(builtin())


def resolve(name: str, extra: Mapping[str, Mapping] | None = None) -> Accelerator:
    """Look an accelerator up by name or alias, case-insensitively; a clear error with suggestions otherwise."""
    by_key = _index(catalog(extra)) if extra else _builtin_index()
    found = by_key.get(name.lower())
    if found is not None:
        return found[1]
    close = difflib.get_close_matches(name.lower(), list(by_key), n=3, cutoff=0.5)
    names = list(dict.fromkeys(by_key[c][0] for c in close))
    hint = f"; did you mean {' or '.join(repr(n) for n in names)}?" if names else ""
    raise CatalogError(
        f"unknown accelerator {name!r}{hint} (`llmspec accelerators` lists the catalog; add others under "
        "[accelerators] in llmspec.toml)"
    )
