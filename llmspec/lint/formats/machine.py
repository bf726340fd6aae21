"""Machine formats: ``json`` (a list of findings), ``github`` (workflow annotations) and ``junit`` (XML). Text from
specs and file names is escaped for each by llmspec.textsafe: strict JSON, one workflow command per line, XML 1.0."""

from __future__ import annotations

import re

from llmspec.textsafe import github_data, github_property, json_dumps, xml_text

_GITHUB_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


def with_fix(f) -> str:
    """The message and, when there is one, the fix: "found ...; fix: ..."."""
    return f.message + (f"; fix: {f.fix}" if f.fix else "")


def json_format(result, *, color: bool = False) -> str:
    """A JSON list of findings: code, name, severity, message, fix, filename, line, column, key."""
    return json_dumps([f.to_dict() for f in result.findings], indent=2, ensure_ascii=False) + "\n"


def github(result, *, color: bool = False) -> str:
    """One ``::error file=...,line=...,col=...,title=...::message`` workflow command per finding."""
    lines = []
    for f in result.findings:
        title = github_property(f"{f.code} {f.name}".strip())
        lines.append(
            f"::{_GITHUB_LEVEL.get(f.severity, 'warning')} file={github_property(f.file)},line={f.line},"
            f"col={f.col},title={title}::{github_data(with_fix(f))}"
        )
    for error in getattr(result, "errors", []):  # a file that could not be read: an error annotation, never silence
        m = re.match(r"^(.*?):(\d+):(\d+): (.*)$", error, re.S)
        if m:
            lines.append(f"::error file={github_property(m[1])},line={m[2]},col={m[3]},title=unreadable::"
                         f"{github_data(m[4])}")
        else:
            lines.append(f"::error title=unreadable::{github_data(error)}")
    return "".join(line + "\n" for line in lines)


def junit(result, *, color: bool = False) -> str:
    """JUnit XML: one test suite per spec, one failed test case per finding, one passing case for a clean spec."""
    import xml.etree.ElementTree as ET

    by_file: dict[str, list] = {path: [] for path in result.files}
    for f in result.findings:
        by_file.setdefault(f.file, []).append(f)
    root = ET.Element("testsuites", name="llmspec lint", tests="0", failures="0", errors="0")
    total = failures = 0
    for raw_path, findings in by_file.items():
        path = xml_text(raw_path)
        suite = ET.SubElement(root, "testsuite", name=path, tests=str(max(1, len(findings))),
                              failures=str(len(findings)), errors="0", skipped="0")
        if not findings:
            ET.SubElement(suite, "testcase", classname=path, name="llmspec lint", file=path)
        for f in findings:
            case = ET.SubElement(suite, "testcase", classname=path,
                                 name=xml_text(f"{f.code} {f.name} at {f.line}:{f.col}"), file=xml_text(f.file),
                                 line=str(f.line))
            failure = ET.SubElement(case, "failure", message=xml_text(f.message), type=xml_text(f.severity))
            failure.text = xml_text(f"{f.file}:{f.line}:{f.col}: {f.code} [{f.severity}] {f.message}" + (
                f"\nfix: {f.fix}" if f.fix else ""))
        total += max(1, len(findings))
        failures += len(findings)
    errors = getattr(result, "errors", [])  # files that could not be read: an error case each, never a pass
    if errors:
        suite = ET.SubElement(root, "testsuite", name="unreadable files", tests=str(len(errors)), failures="0",
                              errors=str(len(errors)), skipped="0")
        for line in errors:
            where = line.split(": ", 1)[0]
            case = ET.SubElement(suite, "testcase", classname=xml_text(where.split(":")[0]), name="llmspec lint",
                                 file=xml_text(where.split(":")[0]))
            ET.SubElement(case, "error", message=xml_text(line), type="unreadable").text = xml_text(line)
    root.set("tests", str(total + len(errors)))
    root.set("failures", str(failures))
    root.set("errors", str(len(errors)))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
