"""Project configuration: ``llmspec.toml`` (top-level keys) or ``[tool.llmspec]`` in ``pyproject.toml``.

``find_config(start)`` walks up from ``start`` and returns the first configuration it finds (``llmspec.toml``
before ``pyproject.toml`` in the same folder; a pyproject.toml without a ``[tool.llmspec]`` table is skipped).
The file is validated as strictly as a spec: unknown keys are errors with a "did you mean" hint and a
``file:line:col`` position (:class:`ConfigError`). Keys are snake_case; kebab-case (``per-file-ignores``) is
accepted too, as ruff users write it.

Example::

    [tool.llmspec]
    select = ["ALL"]                       # codes or prefixes: "MEM", "OVF001"; default: every rule
    ignore = ["ARC004"]
    per_file_ignores = { "examples/tiny-*.toml" = ["SEC002"] }
    severity = { OVF004 = "error" }        # per-code severity overrides
    include = ["specs/**/*.toml"]          # always lint these as specs (see docs/lint.md, "Which files")
    exclude = ["specs/drafts/**"]

    [tool.llmspec.thresholds.OVF001]
    warn_epochs = 6

    [tool.llmspec.accelerators.MI325X]     # extra catalog entries, same keys as llmspec/data/accelerators.toml
    memory = "256GB"
    bandwidth = 6000
    tflops = { bf16 = 1307, fp8 = 2615 }
    bf16 = true
    fp8 = true
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

Severity = Literal["error", "warning", "info"]
Threshold = Any


class ConfigError(Exception):
    """An invalid configuration file: one line, ``file:line:col: message``."""

    def __init__(self, file: str, line: int, col: int, message: str):
        self.file, self.line, self.col, self.message = file, line, col, message
        super().__init__(f"{file}:{line}:{col}: {message}")

    def __reduce__(self):  # picklable, so that it crosses from a lint worker process
        return (ConfigError, (self.file, self.line, self.col, self.message))


class Config(BaseModel):
    """Lint and catalog settings of a project."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    select: list[str] = Field(default_factory=lambda: ["ALL"])
    """Rule codes or prefixes to run ("ALL", "MEM", "OVF001")."""
    ignore: list[str] = Field(default_factory=list)
    """Rule codes or prefixes never to report."""
    per_file_ignores: dict[str, list[str]] = Field(default_factory=dict)
    """Glob (relative to the config file's folder) -> codes or prefixes ignored in matching files."""
    severity: dict[str, Severity] = Field(default_factory=dict)
    """Code -> severity override (error, warning, info)."""
    thresholds: dict[str, dict[str, Threshold]] = Field(default_factory=dict)
    """Code -> {threshold name: value}; `llmspec rule CODE` lists each rule's thresholds."""
    accelerators: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Extra accelerator catalog entries (same keys as the built-in catalog)."""
    include: list[str] = Field(default_factory=list)
    """Globs of files that are always linted as specs, whatever they contain."""
    exclude: list[str] = Field(default_factory=list)
    """Globs of files and folders never linted."""

    _path: Path | None = PrivateAttr(default=None)
    _positions: dict = PrivateAttr(default_factory=dict)
    _prefix: tuple = PrivateAttr(default=())

    @property
    def path(self) -> Path | None:
        """The file this configuration came from (None: the defaults)."""
        return self._path

    @property
    def root(self) -> Path:
        """The folder relative globs are matched from: the config file's folder, else the working directory."""
        return self._path.parent if self._path is not None else Path.cwd()

    def error(self, key_path: tuple, message: str) -> ConfigError:
        """A :class:`ConfigError` positioned at ``key_path`` (relative to the llmspec table) of this file."""
        path = self._prefix + tuple(key_path)
        for k in range(len(path), 0, -1):
            if path[:k] in self._positions:
                line, col = self._positions[path[:k]]
                break
        else:
            line, col = 1, 1
        return ConfigError(str(self._path or "<config>"), line, col, message)


def _normalise(raw: dict) -> dict:
    return {str(k).replace("-", "_"): v for k, v in raw.items()}


def load_config(path: Path) -> Config:
    """Read one config file (llmspec.toml, or the [tool.llmspec] table of a pyproject.toml)."""
    from llmspec.spec.problems import did_you_mean
    from llmspec.spec.source import scan

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), 1, 1, f"cannot read config: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", message)
        if match:
            line, col = int(match.group(1)), int(match.group(2))
        else:
            lines = text.splitlines() or [""]
            line, col = len(lines), len(lines[-1]) + 1
        message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)\s*$", "", message)
        raise ConfigError(str(path), line, col, f"invalid TOML: {message[0].lower()}{message[1:]}") from None
    prefix: tuple = ()
    if path.name == "pyproject.toml":
        prefix = ("tool", "llmspec")
        data = data.get("tool", {}).get("llmspec", {})
    positions = dict(scan(text))  # scan's result is shared and read-only
    # pydantic reports normalised (snake_case) keys: map them back to what the file says
    for key_path, pos in list(positions.items()):
        if key_path[: len(prefix)] == prefix and len(key_path) > len(prefix):
            norm = key_path[: len(prefix)] + (str(key_path[len(prefix)]).replace("-", "_"),) + key_path[len(prefix) + 1:]
            positions.setdefault(norm, pos)
    shell = Config()
    shell._path, shell._positions, shell._prefix = path, positions, prefix
    if not isinstance(data, dict):
        raise shell.error((), "[tool.llmspec] must be a table")
    try:
        config = Config.model_validate(_normalise(data))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            field = str(loc[-1])
            message = f"unknown config key {field!r}{did_you_mean(field.replace('-', '_'), Config.model_fields)}"
        else:
            where = ".".join(str(p) for p in loc)
            message = f"{where}: {err['msg']}"
        raise shell.error(loc, message) from None
    config._path, config._positions, config._prefix = path, positions, prefix
    if config.accelerators:
        from llmspec.catalog import CatalogError, catalog

        for name, entry in config.accelerators.items():
            try:
                catalog({name: entry})
            except CatalogError as exc:
                raise config.error(("accelerators", name), str(exc)) from None
    return config


def _has_table(pyproject: Path) -> bool:
    try:
        text = pyproject.read_text(encoding="utf-8")
    except OSError:
        return False
    if "tool.llmspec" not in text and "[tool]" not in text:
        return False
    try:
        return "llmspec" in tomllib.loads(text).get("tool", {})
    except tomllib.TOMLDecodeError:
        return "[tool.llmspec" in text  # a broken pyproject that is ours: load_config reports where


def _find(directory: Path) -> Path | None:
    for folder in (directory, *directory.parents):
        candidate = folder / "llmspec.toml"
        if candidate.is_file():
            return candidate
        candidate = folder / "pyproject.toml"
        if candidate.is_file() and _has_table(candidate):
            return candidate
    return None


def config_file(start: Path) -> Path | None:
    """The config file that governs ``start`` (a file or folder), None when there is none."""
    start = Path(start).resolve()
    return _find(start if start.is_dir() else start.parent)


def find_config(start: Path) -> Config:
    """The configuration for ``start`` (a spec file or a folder): the nearest one upward, or the defaults.
    Not cached: callers that look up many files keep their own cache (see llmspec.lint.engine)."""
    found = config_file(start)
    return load_config(found) if found is not None else Config()
