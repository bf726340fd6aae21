"""Export refusals: a spec value that a tool cannot express. `llmspec export` reports every refusal of a spec at
once (the user fixes them all in one go, not one per run); each exporter records a refusal with ``refuse`` and goes
on with a stand-in value, and the command, inside ``collecting()``, prints them all and writes nothing. Outside
``collecting()`` (a library caller) the first refusal is raised, as before."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from llmspec.bridges.yamlfile import BridgeError

_COLLECTED: ContextVar[list[BridgeError] | None] = ContextVar("llmspec_export_refusals", default=None)


def refuse(error: BridgeError) -> None:
    """Record ``error`` when refusals are being collected (the caller goes on with a stand-in value), else raise it.
    A second refusal of the same spec key is dropped: one line per key."""
    collected = _COLLECTED.get()
    if collected is None:
        raise error
    if error.key is None or all(other.key != error.key for other in collected):
        collected.append(error)


@contextmanager
def collecting() -> Iterator[list[BridgeError]]:
    """Collect the refusals of the code run inside (the list it yields), instead of raising the first."""
    token = _COLLECTED.set([])
    try:
        collected = _COLLECTED.get()
        assert collected is not None
        yield collected
    finally:
        _COLLECTED.reset(token)


def shown(value: Any) -> str:
    """A spec value as the user wrote it in TOML (``"bf16-mixed"``, ``true``, ``["q_proj"]``), not a Python repr."""
    from llmspec.spec.scaffold import toml_value

    try:
        return toml_value(value)
    except TypeError:
        return str(value)


def article(name: str) -> str:
    """``name`` with its indefinite article, by how it is said: "an axolotl", "a TRL", "a LitGPT"."""
    return f"an {name}" if name[:1].lower() in "aeio" else f"a {name}"
