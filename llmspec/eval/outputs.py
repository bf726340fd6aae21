"""The reports of an eval run, written atomically (temp file in the same directory + os.replace):

- ``results.json``: versioned (llmspec.eval.results_schema), with provenance, per-task metrics and gates;
- ``junit.xml``: one test case per gate check, for CI test reporters;
- ``summary.md``: a Markdown table for people, also appended to ``$GITHUB_STEP_SUMMARY`` when set;
- ``samples/<task>.jsonl``: lm-eval's per-sample records with llmspec's doc hash.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from llmspec.eval.gate_result import HOLM_NOTE, POWER_HEADER, power_cell
from llmspec.textsafe import md_code, md_text, xml_text


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def jsonable(x: Any) -> Any:
    """numpy scalars, tuples and non-finite floats made JSON-safe (NaN/inf -> null)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if hasattr(x, "item") and not isinstance(x, (str, bytes)):
        try:
            x = x.item()
        except (TypeError, ValueError):
            return str(x)
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if x is None or isinstance(x, (str, int, float, bool)):
        return x
    return str(x)


def write_results(out: Path, results: dict) -> Path:
    """results.json through its pydantic model (llmspec.eval.results_schema.Results): a field of the wrong shape
    is a bug that fails here, not a file the gates or a later baseline comparison misread."""
    from llmspec.eval.results_schema import Results

    path = out / "results.json"
    data = Results.model_validate(jsonable(results)).model_dump(mode="json")
    atomic_write(path, json.dumps(data, indent=2, sort_keys=False) + "\n")
    return path


def write_samples(out: Path, task: str, samples: Iterable[dict]) -> Path:
    path = out / "samples" / f"{task}.jsonl"
    atomic_write(path, "".join(json.dumps(jsonable(s), sort_keys=True) + "\n" for s in samples))
    return path


def _fmt(x: Any) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def junit(results: dict) -> str:
    """One <testcase> per gate check (classname = task, name = metric + kind); failures carry the reason."""
    gates = [{k: xml_text(v) if isinstance(v, str) else v for k, v in g.items()} for g in results.get("gates") or []]
    failures = sum(1 for g in gates if g.get("status") == "fail")
    errors = sum(1 for g in gates if g.get("status") in ("error", "undecidable"))
    skipped = sum(1 for g in gates if g.get("status") == "skipped")
    timing = float((results.get("run") or {}).get("timings", {}).get("total_s", 0.0))
    suite = ET.Element("testsuite", name="llmspec.eval", tests=str(len(gates)), failures=str(failures),
                       errors=str(errors), skipped=str(skipped), time=f"{timing:.3f}")
    for g in gates:
        task, _, metric = g["metric"].partition("/")
        case = ET.SubElement(suite, "testcase", classname=f"llmspec.eval.{task}", name=f"{metric} ({g['kind']})",
                             time="0")
        status = g.get("status")
        if status == "fail":
            ET.SubElement(case, "failure", message=g.get("reason", ""), type="GateFailed").text = g.get("reason", "")
        elif status in ("error", "undecidable"):
            ET.SubElement(case, "error", message=g.get("reason", ""), type="GateError").text = g.get("reason", "")
        elif status == "skipped":
            ET.SubElement(case, "skipped", message=g.get("reason", ""))
        else:
            ET.SubElement(case, "system-out").text = g.get("reason", "")
    root = ET.Element("testsuites", name="llmspec eval", tests=str(len(gates)), failures=str(failures),
                      errors=str(errors))
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def summary(results: dict, verdict: str) -> str:
    """Markdown: verdict, metrics table (value, 95% CI, n), gates table, provenance line."""
    run = results.get("run") or {}
    lines = [f"## llmspec eval: {md_text(run.get('model') or 'model')} — {md_text(verdict)}", ""]
    lines += ["| task | metric | value | 95% CI | n | better |", "|---|---|---:|---|---:|---|"]
    for task, tr in (results.get("tasks") or {}).items():
        for name, m in (tr.get("metrics") or {}).items():
            ci = f"[{_fmt(m.get('ci_low'))}, {_fmt(m.get('ci_high'))}]" if m.get("ci_low") is not None else "n/a"
            better = "higher" if m.get("higher_is_better") else "lower"
            lines.append(f"| {md_text(task)} | {md_text(name)} | {_fmt(m.get('value'))} | {ci} | {m.get('n')} | {better} |")
    gates = results.get("gates") or []
    if gates:
        lines += ["", f"| gate | check | status | value | {POWER_HEADER} | reason |", "|---|---|---|---:|---:|---|"]
        icon = {"pass": "✅ pass", "fail": "❌ fail", "error": "⚠️ error", "skipped": "⏭️ skipped",
                "undecidable": "⚠️ undecidable"}
        for g in gates:
            reason = md_text(g.get("reason", ""))
            lines.append(f"| {md_text(g['metric'])} | {md_text(g['kind'])} | {icon.get(g.get('status'), g.get('status'))} | "
                         f"{_fmt(g.get('value'))} | {md_text(power_cell(g))} | {reason} |")
        if any(g.get("kind") == "baseline" for g in gates):
            lines += ["", md_text(HOLM_NOTE)]
    incomplete = run.get("incomplete")
    if incomplete:
        lines += ["", f"**Incomplete run:** {md_text(incomplete)}"]
    versions = run.get("versions") or {}
    lines += ["", f"<sub>model hash {md_code(str(run.get('model_hash', ''))[:19])} · device {md_text(run.get('device'))} · "
                  f"dtype {md_text(run.get('dtype'))} · seed {run.get('seed')} · lm-eval {md_text(versions.get('lm_eval'))} · "
                  f"llmspec {md_text(versions.get('llmspec'))}</sub>", ""]
    return "\n".join(lines)


def write_reports(out: Path, results: dict, verdict: str) -> dict[str, Path]:
    results["verdict"] = verdict
    paths = {"results": write_results(out, results)}
    paths["junit"] = out / "junit.xml"
    atomic_write(paths["junit"], junit(results))
    paths["summary"] = out / "summary.md"
    text = summary(results, verdict)
    atomic_write(paths["summary"], text)
    step = os.environ.get("GITHUB_STEP_SUMMARY")
    if step:
        with open(step, "a", encoding="utf-8") as f:
            f.write(text + "\n")
    return paths
