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

    [tool.llmspec.hardware]                # for training configs of other tools (axolotl, TRL, ...): they name
    accelerator = "A100-80GB"              # no GPU; same keys as a spec's [hardware]; `--set hardware.KEY=...`
    count = 8                              # on the command line wins

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
    hardware: dict[str, Any] = Field(default_factory=dict)
    """The spec's [hardware] for linting training configs of other tools, which name no GPU (validated as a
    spec's [hardware])."""

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

    def position(self, key_path: tuple) -> tuple[str, int, int]:
        """(file, line, col) of ``key_path`` (relative to the llmspec table), else of the nearest enclosing key."""
        path = self._prefix + tuple(key_path)
        for k in range(len(path), 0, -1):
            if path[:k] in self._positions:
                line, col = self._positions[path[:k]]
                break
        else:
            line, col = 1, 1
        return str(self._path or "<config>"), line, col

    def error(self, key_path: tuple, message: str) -> ConfigError:
        """A :class:`ConfigError` positioned at ``key_path`` (relative to the llmspec table) of this file."""
        return ConfigError(*self.position(key_path), message)


def _normalise(raw: dict) -> dict:
    return {str(k).replace("-", "_"): v for k, v in raw.items()}


def load_config(path: Path) -> Config:
    """Read one config file (llmspec.toml, or the [tool.llmspec] table of a pyproject.toml)."""
    from llmspec.catalog import CatalogError, extras
    from llmspec.spec import tomltext
    from llmspec.spec.messages import message_for
    from llmspec.spec.source import scan

    path = Path(path)
    try:
        text = tomltext.read_text(path)
    except tomltext.ReadError as exc:
        raise ConfigError(str(path), exc.line, exc.col, f"cannot read config: {exc.message}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, col, message = tomltext.error_position(exc, text)
        raise ConfigError(str(path), line, col, f"invalid TOML: {message[0].lower()}{message[1:]}") from None
    except RecursionError:
        raise ConfigError(str(path), 1, 1, "invalid TOML: nesting is too deep") from None
    prefix: tuple = ()
    if path.name == "pyproject.toml":
        prefix = ("tool", "llmspec")
        tool = data.get("tool", {})
        data = tool.get("llmspec", {}) if isinstance(tool, dict) else {}
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
    if tomltext.too_deep(data) is not None:
        raise shell.error(tomltext.too_deep(data) or (), f"nesting is deeper than {tomltext.MAX_NESTING} levels")
    try:
        config = Config.model_validate(_normalise(data))
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        top = "[tool.llmspec]" if prefix else path.name
        raise shell.error(tuple(err["loc"]), message_for(Config, err, top)) from None
    config._path, config._positions, config._prefix = path, positions, prefix
    try:
        extras(config.accelerators)
    except CatalogError as exc:
        where = ("accelerators", exc.name, exc.key) if exc.key else ("accelerators", exc.name)
        raise config.error(where, str(exc)) from None
    _check_hardware(config)
    return config


def _check_hardware(config: Config) -> None:
    """[hardware] validates as a spec's [hardware] does, with an accelerator of the catalog (or the config's own)."""
    if not config.hardware:
        return
    from llmspec.catalog import CatalogError, resolve
    from llmspec.spec.messages import message_for
    from llmspec.spec.models import Hardware

    try:
        Hardware.model_validate(config.hardware)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        raise config.error(("hardware", *err["loc"]), message_for(Hardware, err, "hardware")) from None
    name = config.hardware.get("accelerator")
    if isinstance(name, str):
        try:
            resolve(name, config.accelerators or None)
        except CatalogError as exc:
            raise config.error(("hardware", "accelerator"), f"hardware.accelerator: {exc}") from None


def _has_table(pyproject: Path) -> bool:
    from llmspec.spec import tomltext

    try:
        text = tomltext.read_text(pyproject)
    except tomltext.ReadError:
        return True  # unreadable (a FIFO, too large, not UTF-8): load_config reports why
    if "llmspec" not in text:  # fast path: every spelling of the table (quoted or not) names it
        return False
    try:
        tool = tomllib.loads(text).get("tool", {})
        return isinstance(tool, dict) and "llmspec" in tool
    except (tomllib.TOMLDecodeError, RecursionError):
        return True  # a broken pyproject that may configure llmspec: load_config reports where


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


def configured_accelerators(start: Path) -> dict[str, dict] | None:
    """The project's own accelerator entries for ``start`` (a spec file or folder), None when there are none.
    Raises :class:`ConfigError` for a broken configuration: a typo there is never silently ignored."""
    return find_config(start).accelerators or None


def find_config(start: Path) -> Config:
    """The configuration for ``start`` (a spec file or a folder): the nearest one upward, or the defaults.
    Not cached: callers that look up many files keep their own cache (see llmspec.lint.engine)."""
    found = config_file(start)
    return load_config(found) if found is not None else Config()
