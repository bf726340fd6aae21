"""A fuzz harness over every command (issue 11, "What to build" 11): strategies, a workspace, and invariants.

Every example runs the real `llmspec` entry point in this process (``llmspec.cli.main`` under click's CliRunner
isolation, the same path as the console script) in a fresh folder that holds the hostile neighbours the corpus
refers to: a FIFO ``pipe.toml``, a symlink loop ``loop1.toml`` <-> ``loop2.toml``, a base spec, an HF
config.json, and (drawn) a project ``llmspec.toml``. Inputs start from ``corpus/`` (the issue's inputs) and from
the example specs, then get mutated: hostile text in strings, comments and raw positions, numbers at the edges,
quoted keys, deleted and duplicated lines, ``--set`` overrides, odd output paths.

Invariants (``violations`` returns one short line per broken one, so that a run can count them by kind):
- the exit code is one the command documents (0/1/2; 3 only for eval's infrastructure errors);
- "internal error" and "Traceback" never appear, and no example hangs (a generous alarm turns a hang into a
  failure instead of a stuck test run);
- machine output parses: JSON and SARIF with NaN/Infinity rejected, JUnit with xml.etree, Markdown with
  markdown-it-py's GFM-like preset holding no raw HTML, link or image that came from spec text; concise and
  github lines stay one finding per line;
- a spec `check` accepts is linted (never "no spec files found"), `init` writes TOML that parses;
- a broken project config makes every spec command exit 2;
- free text never hides findings: setting meta.description or appending a comment to a line removes no finding
  located elsewhere.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import sys
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import strategies as st

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CORPUS = HERE / "corpus"
EXAMPLES = ROOT / "examples"
HF_CONFIG = EXAMPLES / "configs" / "llama-3-8b.json"
DEFAULT_RECURSION_LIMIT = 1000  # CPython's default (sys.getrecursionlimit() in a fresh interpreter)
HANG_SECONDS = int(os.environ.get("LLMSPEC_FUZZ_HANG", "120"))  # far above any run, even on a loaded machine

SPECS = {p.name: p.read_text(encoding="utf-8") for p in sorted((CORPUS / "specs").glob("*.toml"))}
SPECS.update({f"example-{p.name}": p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.toml"))})
CONFIGS = {"none": None, **{p.stem: p.read_text(encoding="utf-8") for p in sorted((CORPUS / "configs").glob("*.toml"))}}
BROKEN_CONFIGS = {"typo", "typo-with-accelerator", "bad-accelerator", "invalid-toml"}
SETS = json.loads((CORPUS / "sets.json").read_text(encoding="utf-8"))
LONG_COMMENT = "# " + "x" * (300 * 1024)
ODD_NAME = "odd\x01\x1b[31m\r name.toml"  # control characters in a file name (a finding's location)

EXIT_CODES = {
    "check": {0, 2}, "lint": {0, 1, 2}, "estimate": {0, 1, 2}, "report": {0, 2}, "diff": {0, 1, 2},
    "init": {0, 2}, "schema": {0, 2}, "eval": {0, 1, 2, 3},
}
SPEC_COMMANDS = {"check", "lint", "estimate", "report", "diff", "eval"}

# -- text ----------------------------------------------------------------------------------------------------
NASTY = [
    "\r", "\r\n", "\n", "\u2028", "\u2029", "\u0085", "\x0b", "\x0c", "\x00", "\x1b[31m", "\x1b]0;title\x07", "\x7f",
    "`", "``", "` `", "|", "\\|", "<!--", "-->", "<img src=x>", "<script>alert(1)</script>", "> [!TIP]",
    "**Fits:**", "[x](javascript:alert(1))", "![p](https://t.example/p.gif)", "# llmspec: noqa", "# llmspec: noqa-file",
    "# llmspec: noqa: SEC001", '"', "'", '"""', "'''", "\\", "\\u0000", "]]>", "&amp;", "&#0;", "\ud800", "\ufeff",
    "${{ secrets.X }}", "::error::forged", "%0A", "é", "\U0001f600", " " * 3, "\t",
]
TEXT = st.one_of(
    st.sampled_from(NASTY),
    st.lists(st.sampled_from(NASTY + list("ab <>|`*_[]()!#:=\\\"'{}.,-")), max_size=8).map("".join),
    st.text(max_size=20),
)
NUMBERS = ["0", "-1", "1e-310", "1e308", "inf", "nan", "-inf", str(2**32), str(2**63), str(2**64), "0.0", "3", "1_0"]
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string (control characters and DEL as \\uXXXX; lone surrogates as U+FFFD)."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\ufffd")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


@st.composite
def mutated_spec(draw) -> str:
    """A corpus or example spec with a few mutations (kept valid TOML most of the time, on purpose)."""
    text = draw(st.sampled_from(sorted(SPECS)))
    text = SPECS[text].replace("{{LONG_COMMENT}}", LONG_COMMENT)
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["string", "string", "comment", "number", "quote", "raw", "delete", "dup"]))
        lines = text.split("\n")
        k = draw(st.integers(0, max(0, len(lines) - 1)))
        if kind == "string":
            found = list(_STRING.finditer(text))
            if found:
                m = found[draw(st.integers(0, len(found) - 1))]
                text = text[: m.start()] + toml_string(draw(TEXT)) + text[m.end():]
        elif kind == "comment":
            lines[k] += "  # " + draw(TEXT).replace("\n", " ").replace("\r", " ")
            text = "\n".join(lines)
        elif kind == "number":
            text = re.sub(r"(?m)(=\s*)(\d[\d_.e+-]*)\s*$", lambda m: m.group(1) + draw(st.sampled_from(NUMBERS)),
                          text, count=1) if draw(st.booleans()) else text
        elif kind == "quote":
            text = re.sub(r"(?m)^\[([a-z_]+)\]", r'["\1"]', text)
        elif kind == "raw":
            pos = draw(st.integers(0, len(text)))
            text = text[:pos] + draw(TEXT) + text[pos:]
        elif kind == "delete" and lines:
            del lines[k]
            text = "\n".join(lines)
        elif kind == "dup" and lines:
            lines.insert(k, lines[k])
            text = "\n".join(lines)
    return text


SET_ARGS = st.lists(
    st.one_of(st.sampled_from(SETS), st.builds(lambda k, v: f"{k}={v}", st.sampled_from(
        ["training.epochs", "model.name", "hardware.mfu", "eval.seed", "meta.owner", "extends", "sampling.top_p"]),
        st.one_of(st.sampled_from(NUMBERS), TEXT))),
    max_size=2,
).map(lambda items: [a for item in items for a in ("--set", item)])
OUTPUT = st.sampled_from(["", "out/", "afile/x", "/proc/llmspec-x", "pipe.toml", "OUT"])


@dataclass
class Example:
    command: str
    args: list[str]
    spec: str = ""
    old: str = ""
    config: str = "none"
    name: str = ""
    fmt: str = ""
    output: str | None = None
    extra: dict = field(default_factory=dict)


def examples(command: str) -> st.SearchStrategy[Example]:
    """Arguments and files for one command."""
    spec, config = mutated_spec(), st.sampled_from(sorted(CONFIGS))
    if command == "check":
        return st.builds(lambda s, c, sets: Example("check", ["check", *sets, "spec.toml"], s, config=c),
                         spec, config, SET_ARGS)
    if command == "lint":
        fmt = st.sampled_from(["full", "concise", "json", "github", "sarif", "junit"])
        return st.builds(
            lambda s, c, f, target, strict, out, sets: Example(
                "lint", ["lint", "-f", f, *(["--strict"] if strict else []), *sets,
                         *(["-o", out] if out is not None else []), target], s, config=c, fmt=f, output=out),
            spec, config, fmt, st.sampled_from(["spec.toml", ".", ODD_NAME]), st.booleans(), st.one_of(st.none(), OUTPUT),
            SET_ARGS)
    if command == "estimate":
        return st.builds(lambda s, c, f, sets: Example("estimate", ["estimate", *f, *sets, "spec.toml"], s, config=c,
                                                       fmt="json" if f else "text"),
                         spec, config, st.sampled_from([[], ["--format", "json"]]), SET_ARGS)
    if command == "report":
        return st.builds(lambda s, c, f, sets: Example("report", ["report", "--format", f, *sets, "spec.toml"], s,
                                                       config=c, fmt=f),
                         spec, config, st.sampled_from(["md", "html"]), SET_ARGS)
    if command == "diff":
        return st.builds(lambda s, o, c, f: Example("diff", ["diff", "--format", f, "old.toml", "spec.toml"], s, o,
                                                    config=c, fmt=f),
                         spec, mutated_spec(), config, st.sampled_from(["md", "json"]))
    if command == "init":
        return st.builds(lambda n, folder, out: Example("init", ["init", "--from-hf", folder, "--name", n,
                                                                 *(["-o", out] if out is not None else [])],
                                                        name=n, output=out, extra={"folder": folder}),
                         TEXT.filter(lambda t: "\x00" not in t and t != ""),
                         st.sampled_from(["ckpt", "ckpt\n[hardware]\naccelerator = \"H100\"\n#", "ckpt\r`<x>"]),
                         st.one_of(st.none(), OUTPUT))
    if command == "schema":
        return st.builds(lambda out, n: Example("schema", ["schema", *(["-o", out] if out is not None else []),
                                                           *(["--name", n] if n is not None else [])], output=out),
                         st.one_of(st.none(), OUTPUT), st.one_of(st.none(), TEXT.filter(lambda t: "\x00" not in t)))
    if command == "eval":
        return st.builds(lambda s, c, out, sets: Example("eval", ["eval", "--dry-run", *sets,
                                                                 *(["--output", out] if out is not None else []),
                                                                 "spec.toml"], s, config=c, output=out),
                         spec, config, st.one_of(st.none(), OUTPUT), SET_ARGS)
    raise ValueError(command)


FORMATS = {"lint": ["full", "concise", "json", "github", "sarif", "junit"], "estimate": ["text", "json"],
           "report": ["md", "html"], "diff": ["md", "json"]}


def _spec_example(command: str, spec: str, fmt: str, config: str = "none", sets: tuple[str, ...] = ()) -> Example:
    text = SPECS[spec].replace("{{LONG_COMMENT}}", LONG_COMMENT)
    sets_args = [a for item in sets for a in ("--set", item)]
    if command == "lint":
        return Example("lint", ["lint", "-f", fmt, *sets_args, "spec.toml"], text, config=config, fmt=fmt)
    if command == "estimate":
        return Example("estimate", ["estimate", *(["--format", "json"] if fmt == "json" else []), *sets_args,
                                    "spec.toml"], text, config=config, fmt=fmt)
    if command == "report":
        return Example("report", ["report", "--format", fmt, *sets_args, "spec.toml"], text, config=config, fmt=fmt)
    if command == "diff":
        return Example("diff", ["diff", "--format", fmt, "old.toml", "spec.toml"], text, config=config, fmt=fmt)
    return Example(command, [command, *(["--dry-run"] if command == "eval" else []), *sets_args, "spec.toml"], text,
                   config=config)


def seeds(command: str) -> list[Example]:
    """The corpus itself, unmutated, run before anything is generated: every corpus spec in every output format,
    the valid spec under every project config and every ``--set`` of the corpus, and the odd names and paths.
    A short derandomised run would otherwise reach a seed only by luck (a mutation usually breaks it)."""
    corpus = sorted(name for name in SPECS if not name.startswith("example-"))
    if command in ("init", "schema"):
        names = [n for n in NASTY if n and "\x00" not in n] + ["m\n[hardware]", "\ud800"]
        if command == "schema":
            return [Example("schema", ["schema", "-o", out], output=out) for out in ["afile/x", "afile", "pipe.toml",
                                                                                     "/proc/llmspec-x", ""]]
        folders = ["ckpt", 'ckpt\n[hardware]\naccelerator = "H100"\n#', "ckpt\r`<x>"]
        return [Example("init", ["init", "--from-hf", folders[i % 3], "--name", n], name=n,
                        extra={"folder": folders[i % 3]}) for i, n in enumerate(names)]
    out = [_spec_example(command, name, fmt) for name in corpus for fmt in FORMATS.get(command, [""])]
    out += [_spec_example(command, "valid.toml", FORMATS.get(command, [""])[0], config=c) for c in sorted(CONFIGS)]
    out += [_spec_example(command, "risky.toml", FORMATS.get(command, [""])[0], config=c)
            for c in ("custom-accelerator",)]
    if command != "diff":
        out += [_spec_example(command, "valid.toml", FORMATS.get(command, ["json"])[-1], sets=(s,)) for s in SETS]
    if command == "lint":
        text = SPECS["risky.toml"]
        out += [Example("lint", ["lint", "-f", f, target], text, fmt=f) for f in FORMATS["lint"]
                for target in (ODD_NAME, ".")]
        out += [Example("lint", ["lint", "-f", "json", "-o", o, "spec.toml"], text, fmt="json", output=o)
                for o in ["afile/x", "pipe.toml", "/proc/llmspec-x", ""]]
    if command == "eval":
        out += [Example("eval", ["eval", "--dry-run", "--output", o, "spec.toml"], SPECS["risky.toml"], output=o)
                for o in ["afile/x", "afile", "pipe.toml", ""]]
    return out


# -- workspace and running ---------------------------------------------------------------------------------------
def workspace(root: Path, ex: Example) -> Path:
    """A fresh folder with the example's files and its hostile neighbours."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    write = lambda name, text: (root / name).write_text(text, encoding="utf-8", errors="replace", newline="")  # noqa: E731
    write("spec.toml", ex.spec)
    if ODD_NAME in ex.args:
        write(ODD_NAME, ex.spec)
    write("old.toml", ex.old or SPECS["valid.toml"])
    write("base.toml", SPECS["valid.toml"])
    write("afile", "")
    (root / "configs").mkdir()
    shutil.copy(HF_CONFIG, root / "configs" / "llama-3-8b.json")
    if hasattr(os, "mkfifo"):
        os.mkfifo(root / "pipe.toml")
    (root / "loop1.toml").symlink_to("loop2.toml")
    (root / "loop2.toml").symlink_to("loop1.toml")
    if CONFIGS.get(ex.config) is not None:
        write("llmspec.toml", CONFIGS[ex.config])
    folder = ex.extra.get("folder")
    if folder:
        (root / folder).mkdir(exist_ok=True)
        shutil.copy(HF_CONFIG, root / folder / "config.json")
    return root


@dataclass
class Outcome:
    code: int
    out: str
    err: str
    hung: bool = False


class _Hang(BaseException):
    pass


def _alarm(signum, frame):
    raise _Hang


def run(args: list[str], cwd: Path) -> Outcome:
    """`llmspec ARGS` through the real entry point, in this process, with stdin empty."""
    from click.testing import CliRunner

    from llmspec.cli import main

    runner = CliRunner()
    old_argv, old_cwd = sys.argv, os.getcwd()
    hung = False
    previous = signal.signal(signal.SIGALRM, _alarm) if hasattr(signal, "SIGALRM") else None
    # the stack a console script starts with: Python's default limit above the frames of this process (Hypothesis
    # raises the limit while it runs, which would hide a recursion the real command hits)
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    old_limit = sys.getrecursionlimit()
    with runner.isolation() as streams:
        sys.argv = ["llmspec", *args]
        code = 0
        try:
            os.chdir(cwd)
            sys.setrecursionlimit(depth + DEFAULT_RECURSION_LIMIT)
            if previous is not None:
                signal.alarm(HANG_SECONDS)
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except _Hang:
            hung, code = True, -1
        finally:
            sys.setrecursionlimit(old_limit)
            if previous is not None:
                signal.alarm(0)
                signal.signal(signal.SIGALRM, previous)
            sys.argv = old_argv
            os.chdir(old_cwd)
        out, err = streams[0].getvalue(), streams[1].getvalue()
    return Outcome(code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), hung)


# -- invariants --------------------------------------------------------------------------------------------------
def _strict_json(text: str):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


_ALLOWED_TAGS = {"sub", "br", "details", "summary"}


def markdown_problems(text: str, spec_text: str) -> list[str]:
    """Raw HTML, images and links that come from spec text, as GitHub would render them (GFM-like preset)."""
    from markdown_it import MarkdownIt

    out = []

    def walk(tokens):
        for t in tokens:
            yield t
            if t.children:
                yield from walk(t.children)

    for tok in walk(MarkdownIt("gfm-like").parse(text)):
        tags = set(re.findall(r"<\s*/?\s*([A-Za-z0-9!?-]+)", tok.content)) if tok.type.startswith("html") else set()
        if tags - _ALLOWED_TAGS:  # only the tags llmspec writes itself (diff's collapsible sections, subscripts)
            out.append(f"raw HTML rendered: {tok.content.strip()[:20]!r}")
        elif tok.type == "image":
            out.append("image rendered")
        elif tok.type == "link_open" and str(tok.attrs.get("href", "")) in spec_text:
            out.append("link from spec text rendered")
    return out


_FINDING_LINE = re.compile(r"^\S.*:\d+:\d+: [A-Z]{2,6}\d{3} \[(error|warning|info)\] ")


def output_problems(ex: Example, res: Outcome, cwd: Path) -> list[str]:
    text = res.out
    if ex.output not in (None, "") and res.code in (0, 1):
        target = cwd / ex.output
        if target.is_file():
            text = target.read_text(encoding="utf-8", errors="replace")
    problems: list[str] = []
    try:
        if ex.command == "lint" and res.code in (0, 1):
            if ex.fmt in ("json", "sarif"):
                _strict_json(text)
            elif ex.fmt == "junit":
                ET.fromstring(text)
            elif ex.fmt == "concise":
                body = [line for line in text.split("\n") if line][:-1]  # the last line is the summary
                if any(not _FINDING_LINE.match(line) for line in body):
                    problems.append("concise: a finding spans more than one line")
            elif ex.fmt == "github":
                if any(line and not line.startswith("::") for line in text.split("\n")):
                    problems.append("github: a line is not a workflow command")
        elif ex.command in ("estimate", "diff") and ex.fmt == "json" and res.code in (0, 1):
            _strict_json(text)
        elif ex.command in ("report", "diff") and ex.fmt == "md" and res.code == 0:
            problems += [f"{ex.command} md: {p}" for p in markdown_problems(text, ex.spec + ex.old)]
        elif ex.command == "init" and res.code == 0:
            written = cwd / ex.output if ex.output else None
            data = tomllib.loads(written.read_text(encoding="utf-8") if written else text)
            asked = re.sub("[\ud800-\udfff]", "\ufffd", ex.name)  # TOML cannot hold lone surrogates
            if data.get("model", {}).get("name") != asked or set(data) - {"version", "model"}:
                problems.append("init: the written spec does not say what was asked")
    except (ValueError, ET.ParseError, tomllib.TOMLDecodeError) as exc:
        problems.append(f"{ex.command} {ex.fmt or ''} output does not parse ({type(exc).__name__})".replace("  ", " "))
    return problems


def violations(ex: Example, res: Outcome, cwd: Path) -> list[str]:
    """Every invariant this run breaks, one short line each (empty: all hold)."""
    out: list[str] = []
    both = res.out + res.err
    if res.hung:
        return [f"{ex.command}: hangs"]
    if "internal error" in both or "Traceback (most recent call last)" in both:
        kind = re.search(r"internal error \((\w+)", both)
        out.append(f"{ex.command}: internal error ({kind.group(1) if kind else 'traceback'})")
    elif res.code < 0:
        out.append(f"{ex.command}: killed by signal {-res.code}")
    elif res.code not in EXIT_CODES[ex.command]:
        out.append(f"{ex.command}: undocumented exit code {res.code}")
    if ex.command in SPEC_COMMANDS and ex.config in BROKEN_CONFIGS and res.code != 2 and not res.hung:
        out.append(f"{ex.command}: broken llmspec.toml ignored (exit {res.code})")
    if not out:
        out += output_problems(ex, res, cwd)
    if ex.command == "lint" and "no spec files found" in both and res.code in (0, 1):
        target = ex.args[-1] if ex.args[-1] != "." else "spec.toml"
        sets = [a for i, a in enumerate(ex.args) if a == "--set" or (i and ex.args[i - 1] == "--set")]
        if run(["check", *sets, target], cwd).code == 0:  # lint decides what a spec is the way check does
            out.append("lint: skips a spec that check accepts")
    return out


def lint_findings(cwd: Path, name: str = "spec.toml") -> tuple[set[tuple[str, int]], Outcome]:
    res = run(["lint", "-f", "json", "--select", "ALL", name], cwd)
    try:
        found = {(f["code"], f["line"]) for f in _strict_json(res.out)}
    except ValueError:
        found = set()
    return found, res


def metamorphic_problems(cwd: Path, spec: str, text: str, line: int, pad: int = 0) -> list[str]:
    """Free text must not hide findings. ``spec`` is valid; the same spec with ``text`` set as meta.description,
    with ``text`` appended to line ``line`` as a comment, with a leading comment of at least ``pad`` characters,
    and with its table names quoted (the same TOML), keeps every finding located elsewhere."""
    problems = []
    check = run(["check", "spec.toml"], cwd)
    lint_files = run(["lint", "-f", "json", "spec.toml"], cwd)
    if check.code == 0 and "no spec files found" in lint_files.err:
        problems.append("lint: skips a spec that check accepts")
    if check.code != 0:
        return problems
    before, _ = lint_findings(cwd)
    before = {f for f in before if not f[0].startswith(("LNT", "SPC"))}
    lines = spec.split("\n")
    comment = re.sub(r"[\x00-\x08\x0a-\x1f\x7f]", " ", text)  # what a comment can hold (TOML 1.0)
    # (variant, lines it adds above every original line): each adds only free text, or quotes table names
    variants = {
        "description": (re.sub(r"(?m)^description = .*$", lambda m: "description = " + toml_string(text), spec,
                               count=1), 0),
        "comment": ("\n".join(lines[:line] + [lines[line] + "  # " + comment] + lines[line + 1:]), 0),
        "leading comment": ("# " + (comment or "x") * (1 + pad // max(1, len(comment))) + "\n" + spec, 1),
        "quoted table name": (re.sub(r"(?m)^\[([A-Za-z_.]+)\]", lambda m: "[" + ".".join(
            f'"{part}"' for part in m.group(1).split(".")) + "]", spec), 0),
    }
    if re.search(r"noqa-file", comment, re.IGNORECASE):  # a real file-wide suppression may hide anything
        del variants["comment"], variants["leading comment"]
    for kind, (variant, shift) in variants.items():
        (cwd / "variant.toml").write_text(variant, encoding="utf-8", errors="replace", newline="")
        after, res = lint_findings(cwd, "variant.toml")
        if res.code == 2 or "internal error" in res.err:
            continue
        after = {(code, n - shift) for code, n in after}
        lost = {f for f in before - after if not (kind == "comment" and f[1] == line + 1)}
        if lost:
            problems.append(f"lint: free text in a {kind} hides findings")
    return problems


META_BASES = sorted(name for name in SPECS if name in ("valid.toml", "risky.toml") or name.startswith("example-"))
# the inputs for free text: a file-wide suppression inside a string, and a suppression that a line
# separator other than LF/CRLF (U+2028, U+2029, U+0085, VT, FF) would move onto the next line (line 6 is the one
# above risky.toml's trust_remote_code); a long leading comment (pad)
META_SEEDS = [("risky.toml", "# llmspec: noqa-file", 6, 0), ("risky.toml", "# llmspec: noqa: SEC001", 6, 0)] + [
    ("risky.toml", f"note{sep}# llmspec: noqa", 6, 0) for sep in ("\u2028", "\u2029", "\u0085", "\x0b", "\x0c")
] + [("risky.toml", "x", 0, 300 * 1024)]
META = st.tuples(st.sampled_from(META_BASES), TEXT, st.integers(0, 40), st.sampled_from([0, 0, 0, 300 * 1024]))


@contextlib.contextmanager
def memory_cap(limit: int):
    """Cap this process's address space (for runs of old code that read /dev/zero to exhaustion)."""
    import resource

    old = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (limit, old[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, old)



# -- running a family ------------------------------------------------------------------------------------------
def fuzz_settings(n: int):
    """Derandomised (the same examples on every run), the seeds first, no shrinking (an example that breaks an
    invariant is reported as generated: shrinking re-runs slow cases)."""
    from hypothesis import HealthCheck, Phase, settings

    return settings(max_examples=n, derandomize=True, deadline=None, database=None,
                    phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))


def fuzz(command: str, n: int, report) -> None:
    """Run ``command``'s seeds and ``n`` generated examples; ``report(violations, example, outcome)`` gets each
    example's broken invariants (a test asserts there are none; collect.py counts them)."""
    import tempfile

    from hypothesis import example, given

    root = Path(tempfile.mkdtemp(prefix=f"llmspec-fuzz-{command}-"))

    def prop(ex):
        cwd = workspace(root / "w", ex)
        res = run(ex.args, cwd)
        report(violations(ex, res, cwd), ex, res)

    for ex in reversed(seeds(command)):
        prop = example(ex)(prop)
    fuzz_settings(n)(given(examples(command))(prop))()
    shutil.rmtree(root, ignore_errors=True)


def fuzz_free_text(n: int, report) -> None:
    """The metamorphic family: free text never hides a finding (``report(violations, args)``)."""
    import tempfile

    from hypothesis import example, given

    root = Path(tempfile.mkdtemp(prefix="llmspec-fuzz-meta-"))

    def prop(args):
        name, text, line, pad = args
        spec = SPECS[name]
        line = min(line, len(spec.split("\n")) - 1)
        cwd = workspace(root / "w", Example("lint", [], spec))
        report(metamorphic_problems(cwd, spec, text, line, pad), args)

    for seed in reversed(META_SEEDS):
        prop = example(seed)(prop)
    fuzz_settings(n)(given(META)(prop))()
    shutil.rmtree(root, ignore_errors=True)
