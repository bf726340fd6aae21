"""The rule API: :class:`Rule`, :class:`Finding` and the :class:`Context` a rule reads.

A rule is one small module under ``llmspec/lint/rules/`` (or in a plugin package) that defines one subclass of
:class:`Rule` and names it ``RULE``. Its docstring is its user documentation (``llmspec rule CODE``) and has the
sections ``Why:``, ``Bad:`` and ``Good:`` (see :mod:`llmspec.lint.docs`). Plugin rules use the same API::

    from llmspec.lint import Rule

    class OwnerRule(Rule):
        \"\"\"The spec names an owner. ...\"\"\"
        code = "ORG001"
        name = "spec-names-owner"
        severity = "warning"

        def check(self, ctx):
            if ctx.spec.meta is None or not ctx.spec.meta.owner:
                yield self.finding(ctx, ("meta", "owner"), "no [meta].owner", fix='add owner = "team"')
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from llmspec.lint.redact import redact

if TYPE_CHECKING:  # pragma: no cover
    from llmspec.catalog import Accelerator
    from llmspec.spec.models import Spec

SEVERITIES = ("error", "warning", "info")


@dataclass
class Finding:
    """One diagnostic: what was found at ``file:line:col``, the limit, and the fix."""

    code: str
    severity: str
    message: str
    file: str
    line: int
    col: int
    key: str = ""
    """Dotted key path ("training.epochs"), "" when the finding is about the whole file."""
    fix: str | None = None
    """What would fix it, in words (and numbers)."""
    name: str = ""
    """The rule's name ("temperature-out-of-range")."""

    def __post_init__(self) -> None:
        # secrets never leave the process: every text a finding carries is redacted once, here
        self.message = redact(self.message)
        if self.fix is not None:
            self.fix = redact(self.fix)

    def sort_key(self) -> tuple:
        return (self.file, self.line, self.col, self.code)

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.severity,
            "message": self.message,
            "fix": self.fix,
            "filename": self.file,
            "line": self.line,
            "column": self.col,
            "key": self.key,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        return cls(
            code=data["code"], severity=data["severity"], message=data["message"], file=data["filename"],
            line=data["line"], col=data["column"], key=data.get("key", ""), fix=data.get("fix"),
            name=data.get("name", ""),
        )


def dotted(path: Sequence[object]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


class Context:
    """What a rule sees: the validated spec, where its keys are, resolved thresholds and shared lazy values."""

    def __init__(self, spec: Spec, accelerators: Mapping[str, Mapping] | None = None,
                 options: Mapping[str, Any] | None = None):
        self.spec = spec
        self.source = spec.source
        self.accelerators = dict(accelerators or {})
        """Extra catalog entries from the config ([tool.llmspec.accelerators.NAME])."""
        self.options = dict(options or {})
        """Run options, e.g. {"data": True} for the opt-in data checks."""
        self._cache: dict[str, Any] = {}

    # -- lazily computed values shared by all rules of one spec ---------------------------------------
    def _once(self, key: str, compute):
        if key not in self._cache:
            try:
                self._cache[key] = (compute(), None)
            except Exception as exc:
                self._cache[key] = (None, exc)
        value, error = self._cache[key]
        if error is not None:
            raise error
        return value

    @property
    def accelerator(self) -> Accelerator | None:
        """The resolved accelerator (catalog + config extras), None when there is no [hardware] or it is unknown."""
        def compute():
            from llmspec.catalog import CatalogError, resolve

            if self.spec.hardware is None:
                return None
            try:
                return resolve(self.spec.hardware.accelerator, self.accelerators)
            except CatalogError:
                return None
        return self._once("accelerator", compute)

    def estimate(self, name: str, *args):
        """``ctx.estimate("training_memory")`` calls ``llmspec.estimate.training_memory(spec)`` once per spec."""
        def compute():
            import importlib

            module = importlib.import_module("llmspec.estimate")
            return getattr(module, name)(self.spec, *args)
        return self._once("estimate:" + name + repr(args), compute)

    @property
    def params(self):
        """``llmspec.estimate.count_params`` of this spec (total, active, trainable, breakdown), computed once."""
        def compute():
            from llmspec.estimate.params import count_params

            return count_params(self.spec.arch, self.spec.training, family=self.spec.model.family)
        return self._once("params", compute)

    def set(self, *path: object) -> bool:
        """Whether the user wrote this key (not a default)."""
        return self.source.is_set(path)


class Rule:
    """Base class of every rule. Subclasses set code, name, severity, thresholds and implement :meth:`check`."""

    code: ClassVar[str] = ""
    name: ClassVar[str] = ""
    severity: ClassVar[str] = "warning"
    thresholds: ClassVar[Mapping[str, Any]] = {}
    """Default thresholds; each one's source is given in the docstring. Config overrides them per rule."""
    opt_in: ClassVar[str | None] = None
    """Run only when this run option is set (e.g. "data" for `llmspec lint --data`)."""
    applies_to: ClassVar[frozenset[str]] = frozenset({"spec", "tool-config"})
    """The inputs the rule checks: "spec" (a TOML spec) and "tool-config" (a training tool's YAML, linted as the
    spec it imports to). A rule about what only a spec can say (its [meta] owner) leaves out "tool-config"."""

    def __init__(self, thresholds: Mapping[str, Any] | None = None, severity: str | None = None):
        merged = dict(type(self).thresholds)
        merged.update(thresholds or {})
        self.t = merged
        """The resolved thresholds of this run."""
        self.level = severity or type(self).severity
        """The resolved severity of this run."""

    def check(self, ctx: Context) -> Iterable[Finding]:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- helpers --------------------------------------------------------------------------------------
    def finding(self, ctx: Context, key: Sequence[object], message: str, fix: str | None = None,
                severity: str | None = None) -> Finding:
        loc = ctx.source.locate(tuple(key))
        return Finding(code=self.code, severity=severity or self.level, message=message, file=loc.file,
                       line=loc.line, col=loc.col, key=dotted(key), fix=fix, name=self.name)

    def at(self, file: str, line: int, col: int, message: str, fix: str | None = None,
           severity: str | None = None, key: str = "") -> Finding:
        return Finding(code=self.code, severity=severity or self.level, message=message, file=file, line=line,
                       col=col, key=key, fix=fix, name=self.name)

    @classmethod
    def doc(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def summary(cls) -> str:
        return cls.doc().split("\n", 1)[0].strip()


def iter_strings(node: object, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    """Every string value in a raw (merged, unvalidated) spec document, with its key path."""
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from iter_strings(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from iter_strings(value, path + (index,))


__all__ = ["Rule", "Finding", "Context", "SEVERITIES", "dotted", "iter_strings"]
