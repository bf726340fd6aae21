"""`llmspec calibrate`: run records against the spec's estimate, part by part. No torch.

Reading a record is strict: anything that is not a version-1 run record, or whose spec no longer hashes to what
the run was checked against, is one line ``file:line:col: ...`` (positions from a YAML composer over the JSON
text: JSON is YAML, and PyYAML keeps marks) and exit 2. Only what a record measured is compared; a CPU record has
no GPU peak, and the comparison says so instead of showing a figure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmspec.integrations.record import KIND, SCHEMA_VERSION, RunRecord
from llmspec.textsafe import visible

PARTS = ("weights", "gradients", "optimizer_states")
"""Parts the callbacks count from the tensors themselves, named as in the estimate's breakdown."""


class RecordError(Exception):
    """One line ``file:line:col: what went wrong; how to fix it`` (exit 2)."""


@dataclass
class Row:
    part: str
    estimate: int | None
    measured: int | None
    unit: str = "bytes"
    note: str = ""

    @property
    def error(self) -> float | None:
        """(estimate - measured) / measured: positive when the estimate is above what the run used."""
        if self.estimate is None or not self.measured:
            return None
        return (self.estimate - self.measured) / self.measured

    def to_dict(self) -> dict[str, Any]:
        return {"part": self.part, "unit": self.unit, "estimate": self.estimate, "measured": self.measured,
                "error": self.error, "note": self.note}


@dataclass
class Calibration:
    path: str
    record: RunRecord
    spec_path: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    as_run: list[str] = field(default_factory=list)
    """Overrides applied to estimate for what ran (--as-run)."""

    @property
    def overall(self) -> Row | None:
        return next((r for r in self.rows if r.part == "peak_allocated"), None)

    def to_dict(self) -> dict[str, Any]:
        rec = self.record
        overall = self.overall
        return {"record": self.path, "spec": self.spec_path, "spec_hash": rec.spec.hash,
                "framework": rec.framework.model_dump(), "device": rec.device.model_dump(),
                "gpu_memory_measured": rec.gpu_memory is not None,
                "overall_error": overall.error if overall else None,
                "parts": [r.to_dict() for r in self.rows], "tokens_per_second": rec.tokens_per_second,
                "mismatches": [m.message for m in rec.mismatches], "as_run": list(self.as_run),
                "notes": list(self.notes)}


def _position(text: str, loc: tuple) -> tuple[int, int]:
    """1-based line:col of the deepest node of ``loc`` present in the JSON text (1:1 if it cannot be found)."""
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return 1, 1
    if node is None:
        return 1, 1
    mark = node.start_mark
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            hit = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if hit is None:
                break
            mark, node = hit[0].start_mark, hit[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            mark = node.start_mark
        else:
            break
    return mark.line + 1, mark.column + 1


def read_record(path: str) -> tuple[RunRecord, str]:
    """The record in ``path`` and its text; RecordError for anything else."""
    from pydantic import ValidationError

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecordError(f"{path}: no such file; give a run record written by an llmspec callback") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(f"{path}:{exc.lineno}:{exc.colno}: not JSON ({exc.msg}); give a run record") from None
    if not isinstance(raw, dict) or raw.get("kind") != KIND:
        raise RecordError(f"{path}:1:1: not an llmspec run record (no \"kind\": \"{KIND}\"); records are written "
                          "by llmspec.integrations callbacks")
    if raw.get("schema_version") != SCHEMA_VERSION:
        line, col = _position(text, ("schema_version",))
        raise RecordError(f"{path}:{line}:{col}: run record schema_version {raw.get('schema_version')!r} is not "
                          f"{SCHEMA_VERSION}, the version this llmspec reads; use the llmspec that wrote it")
    try:
        return RunRecord.model_validate(raw), text
    except ValidationError as exc:
        err = exc.errors()[0]
        line, col = _position(text, tuple(err["loc"]))
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise RecordError(f"{path}:{line}:{col}: invalid run record at {where}: {err['msg']}; "
                          "records are written by llmspec.integrations callbacks, not by hand") from None


def load_checked_spec(path: str, record: RunRecord, text: str, spec_path: str | None):
    """The spec the record names (or ``spec_path``), loaded and checked to hash as the run's did."""
    from llmspec.project import load_spec
    from llmspec.spec.hashing import spec_hash
    from llmspec.spec.problems import SpecError

    chosen = spec_path or record.spec.path
    line, col = _position(text, ("spec", "path") if spec_path is None else ("spec", "hash"))
    if not Path(chosen).is_file():
        raise RecordError(f"{path}:{line}:{col}: the run's spec {chosen} does not exist here; pass it with --spec")
    try:
        spec = load_spec(chosen, record.spec.overrides)
    except SpecError as exc:
        raise RecordError(f"{path}:{line}:{col}: the spec {chosen} does not load ({exc.problems[0]})") from None
    now = spec_hash(spec)
    if now != record.spec.hash:
        line, col = _position(text, ("spec", "hash"))
        raise RecordError(f"{path}:{line}:{col}: the run was checked against spec hash {record.spec.hash[:19]}…, "
                          f"but {chosen} now hashes to {now[:19]}…; pass the spec the run used with --spec")
    return spec, chosen


def _as_run(spec, chosen: str, record: RunRecord, out: Calibration):
    """The spec with the run's differing values set (--as-run), or the spec itself when they do not load."""
    from llmspec.integrations.compare import as_overrides
    from llmspec.project import load_spec
    from llmspec.spec.problems import SpecError

    overrides, skipped = as_overrides(record.mismatches)
    if skipped:
        out.notes.append(f"--as-run: not applied (no spec value states it): {', '.join(skipped)}")
    if not overrides:
        return spec
    try:
        spec = load_spec(chosen, [*record.spec.overrides, *overrides])
    except SpecError as exc:
        out.notes.append(f"--as-run: the run's values do not make a valid spec ({exc.problems[0]}); "
                         "the estimate is the spec's")
        return spec
    out.as_run = overrides
    out.notes.append(f"--as-run: estimated for the run's configuration: {', '.join(overrides)}")
    return spec


def calibrate(path: str, spec_path: str | None = None, as_run: bool = False) -> Calibration:
    from llmspec.estimate import count_params, training_memory
    from llmspec.estimate.result import FRAGMENTATION

    record, text = read_record(path)
    spec, chosen = load_checked_spec(path, record, text, spec_path)
    out = Calibration(path, record, chosen)
    if as_run and record.mismatches:
        spec = _as_run(spec, chosen, record, out)
    memory = training_memory(spec)  # without [training]: the defaults, as `llmspec estimate` would assume
    parts = record.parts
    counted = count_params(spec.arch, spec.training, family=spec.model.family)
    out.rows.append(Row("parameters", counted.total + counted.lora, parts.parameters, unit="count",
                        note="with the adapters" if counted.lora else ""))
    out.rows.append(Row("trainable_parameters", counted.trainable, parts.trainable_parameters, unit="count"))
    measured = {"weights": parts.weights_bytes, "gradients": parts.gradients_bytes,
                "optimizer_states": parts.optimizer_states_bytes}
    for part in PARTS:
        est = memory.breakdown.get(part)
        note = "" if est is not None else f"not live at the estimated peak ({memory.peak_phase}); not compared"
        out.rows.append(Row(part, est, measured[part], note=note))
    gpu = record.gpu_memory
    if gpu is None:
        out.notes.append(f"GPU memory was not measured ({record.gpu_memory_note or 'no CUDA'}): the peak is not "
                         "compared; only the parts counted from the tensors are")
        if record.process_rss_peak_bytes:
            out.notes.append(f"process RSS peak {_gib(record.process_rss_peak_bytes)} is host memory with the "
                             "interpreter and libraries, not comparable with the estimate")
    else:
        in_parts = sum(memory.breakdown.get(p, 0) for p in PARTS)
        run_counted = sum((measured[p] or 0) for p in PARTS if p in memory.breakdown)
        out.rows.append(Row("rest (activations, logits, buffers)", memory.per_gpu_bytes - in_parts,
                            gpu.allocated_peak_bytes - run_counted, note="peak minus the parts above"))
        out.rows.append(Row("peak_allocated", memory.per_gpu_bytes, gpu.allocated_peak_bytes,
                            note="torch.cuda.max_memory_allocated, largest step"))
        out.rows.append(Row("peak_reserved", int(memory.per_gpu_bytes * (1 + FRAGMENTATION)), gpu.reserved_peak_bytes,
                            note=f"estimate: peak + {FRAGMENTATION:.0%} fragmentation"))
        out.notes.append("the CUDA context and workspaces are outside torch's counters: compare the estimate's "
                         "overhead with nvidia-smi, not with these rows")
    if record.mismatches and not out.as_run:
        out.notes.append(f"the run differed from the spec in {len(record.mismatches)} key(s); the estimate is the "
                         "spec's, so these errors include that difference (--as-run estimates for what ran)")
    return out


def summary(cals: list[Calibration]) -> dict[str, Any]:
    """The user's fidelity figure over all records: the estimate's peak against the measured peak allocated, for
    the records that measured one (CUDA). Records without a GPU peak are counted, never turned into a figure."""
    errors = sorted(abs(c.overall.error) for c in cals if c.overall is not None and c.overall.error is not None)
    median = None
    if errors:
        mid = len(errors) // 2
        median = errors[mid] if len(errors) % 2 else (errors[mid - 1] + errors[mid]) / 2
    return {"records": len(cals), "with_gpu_peak": len(errors), "median_abs_error": median,
            "max_abs_error": errors[-1] if errors else None}


def render_summary(s: dict[str, Any]) -> str:
    if not s["with_gpu_peak"]:
        return (f"summary: {s['records']} record(s), none with a GPU peak: the estimate's peak was not checked "
                "(record a run on a CUDA GPU for that figure)")
    return (f"summary: peak allocated vs estimate over {s['with_gpu_peak']} of {s['records']} record(s): "
            f"median |error| {s['median_abs_error']:.1%}, worst {s['max_abs_error']:.1%}")


def _shown(path: str) -> str:
    """A path under the working directory relative to it (as the user typed it), any other as it is."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path


def _gib(n: int) -> str:
    if n >= 2**30:
        return f"{n / 2**30:.2f} GiB"
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB"


def render_text(cal: Calibration) -> str:
    rec = cal.record
    head = (f"{cal.path}: {rec.framework.name} {rec.framework.version} on {rec.device.type}"
            f"{f' ({rec.device.name})' if rec.device.name else ''}, {len(rec.steps)} steps, spec {_shown(cal.spec_path)}")
    lines = [head]
    lines += [f"  differs: {m.message}" for m in rec.mismatches]
    lines.append(f"  {'part':<38}{'estimate':>12}{'measured':>12}{'error':>9}")
    for row in cal.rows:
        fmt = _gib if row.unit == "bytes" else (lambda n: f"{n:,}")
        est = fmt(row.estimate) if row.estimate is not None else "-"
        meas = fmt(row.measured) if row.measured is not None else "not measured"
        err = "-" if row.error is None else (f"{row.error:+.2%}" if row.error == 0 or abs(row.error) >= 5e-5
                                             else f"{'+' if row.error > 0 else '-'}<0.01%")
        lines.append(f"  {row.part:<38}{est:>12}{meas:>12}{err:>9}" + (f"  {row.note}" if row.note else ""))
    overall = cal.overall
    if overall is not None and overall.error is not None:
        lines.append(f"  overall: the estimate's peak is {overall.error:+.1%} off the measured peak allocated")
    else:
        lines.append("  overall: not measured (no GPU peak in this record)")
    if rec.tokens_per_second is not None:
        lines.append(f"  throughput: {rec.tokens_per_second:,.0f} tokens/s over {rec.tokens:,} tokens")
    lines += [f"  note: {n}" for n in cal.notes]
    return "\n".join(visible(line) for line in lines)  # a record's text is data: no control character reaches the terminal
