"""ReportData -> the power-by-design section: for each baseline (max_drop) gate, its n, its test, Holm's first
level and the smallest drop it detects with 80% power (llmspec.eval.gateplan, the figures ``eval --dry-run``
prints), known before any run."""

from __future__ import annotations

from llmspec.report.doc import Callout, Para, Section, Table, code, lit
from llmspec.report.model import ReportData


def gate_power(data: ReportData) -> Section | None:
    if data.gate_power is None and data.gate_power_error is None:
        return None
    section = Section("Eval gates: power by design", anchor="gate-power")
    if data.gate_power_error:
        section.add(Callout("warn", lit(data.gate_power_error)))
        return section
    rows = [[code(g["metric"]), str(g["n"]) if g["n"] is not None else "unknown", lit(g["method"]),
             f"{g['level']:.3g}", lit(g["detects"])] for g in data.gate_power or []]
    section.add(Para("Each baseline gate is tested at Holm's first level alpha/m. The smallest drop it detects "
                     "with 80% power assumes per-sample values in [0, 1] (sigma <= 0.5) and the unpaired variance "
                     "2 sigma^2/n of the difference (conservative when the two runs are not negatively correlated)."),
                Table(["Gate", "n", "Test", "Level", "Detects with 80% power"], rows,
                      align=["l", "r", "l", "r", "l"]))
    if any(g["undecidable"] for g in data.gate_power or []):
        section.add(Callout("error", "Some gates are undecidable at their n: `llmspec eval` fails them closed."))
    return section
