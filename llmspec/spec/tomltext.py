"""TOML files as text: bounded reads, lines as TOML counts them, parse-error positions, real comments.

One place for the facts every reader of a TOML file (spec loader, project config, lint discovery, suppressions)
must agree on:

- **What may be read.** Regular files only (a FIFO, a device such as ``/dev/zero`` or a folder is refused before
  any byte is read), at most :data:`MAX_BYTES`; a symlink loop or a NUL in the path is an error, not a crash.
- **Where a line ends.** TOML ends lines at LF and CRLF only (TOML 1.0, "Newline means LF (0x0A) or CRLF"), so
  ``str.splitlines()`` (which also breaks at U+2028, U+2029, U+0085, VT, FF and a bare CR) must not be used on
  TOML text: it would disagree with every position tomllib and our scanner report.
- **Where a parse error is.** tomllib says "(at line L, column C)" or "(at end of document)".
- **What is a comment.** A ``#`` starts a comment only outside strings; :func:`in_comment` asks tomllib itself.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tomllib

MAX_BYTES = 4 * 2**20
"""Largest TOML file llmspec reads (specs, bases, configs, hf_config JSON): 4 MiB. A spec is a page of TOML; a
bigger file is almost certainly the wrong file, and the cap keeps ``extends = "/dev/zero"``-style mistakes from
exhausting memory."""

_TOML_POS = re.compile(r"^(?P<msg>.*?)\s*\(at line (?P<line>\d+), column (?P<col>\d+)\)\s*$", re.S)
_AT_END = re.compile(r"\s*\(at end of document\)\s*$")


class ReadError(Exception):
    """A file that cannot be read as text; ``line``/``col`` point into the file when the problem is inside it."""

    def __init__(self, message: str, line: int = 1, col: int = 1, missing: bool = False):
        super().__init__(message)
        self.message, self.line, self.col, self.missing = message, line, col, missing


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def read_bytes(path: str | os.PathLike, limit: int = MAX_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, or :class:`ReadError` with a one-line reason.

    The file is opened non-blocking and checked with ``fstat`` on the open descriptor, so a FIFO (even one swapped
    in after a check by name) never blocks the reader."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except ValueError:  # "embedded null byte"
        raise ReadError("the path contains a NUL character; check how it was written") from None
    except FileNotFoundError:
        raise ReadError("no such file", missing=True) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ReadError("symbolic link loop (a link that points back at itself); fix the link") from None
        if exc.errno == errno.EISDIR:
            raise ReadError("is a directory, not a file; name a .toml file") from None
        raise ReadError(f"cannot read file ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ReadError("is a directory, not a file; name a .toml file")
        if not stat.S_ISREG(info.st_mode):
            raise ReadError(f"is {_kind(info.st_mode)}, not a regular file; name a file")
        if info.st_size > limit:
            raise ReadError(f"file is larger than {_size(limit)} (the limit for a TOML file); is it the right file?")
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:  # grew while we read
            raise ReadError(f"file is larger than {_size(limit)} (the limit for a TOML file); is it the right file?")
        return b"".join(chunks)
    except OSError as exc:
        raise ReadError(f"cannot read file ({exc.strerror or exc})") from None
    finally:
        os.close(fd)


def _size(limit: int) -> str:
    return f"{limit // 2**20} MiB" if limit >= 2**20 and limit % 2**20 == 0 else f"{limit} bytes"


def decode(data: bytes) -> str:
    """UTF-8 text without a BOM; :class:`ReadError` at the position of the first undecodable byte or NUL."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = byte_position(data, exc.start)
        raise ReadError(f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8", line, col) from None
    nul = text.find("\x00")
    if nul >= 0:
        line, col = position(text, nul)
        raise ReadError("binary data (a NUL byte); a TOML file is UTF-8 text", line, col)
    return text


def read_text(path: str | os.PathLike, limit: int = MAX_BYTES) -> str:
    """:func:`read_bytes` then :func:`decode`."""
    return decode(read_bytes(path, limit))


def lines(text: str) -> list[str]:
    """The lines of TOML text, split where TOML splits them (LF, with the CR of a CRLF dropped)."""
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def position(text: str, index: int) -> tuple[int, int]:
    """1-based (line, column) of a character index, counting lines as TOML does."""
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


def byte_position(data: bytes, index: int) -> tuple[int, int]:
    line_start = data.rfind(b"\n", 0, index) + 1
    return data.count(b"\n", 0, index) + 1, len(data[line_start:index].decode("utf-8", "replace")) + 1


def error_position(exc: tomllib.TOMLDecodeError, text: str) -> tuple[int, int, str]:
    """(line, col, message) of a tomllib error; "at end of document" points after the last character."""
    message = str(exc)
    match = _TOML_POS.match(message)
    if match:
        return int(match["line"]), int(match["col"]), match["msg"]
    found = lines(text.rstrip("\n"))
    return len(found), len(found[-1]) + 1, _AT_END.sub("", message)


def in_comment(text: str, index: int, parsed: dict | None = None) -> bool:
    """Whether the ``#`` at ``index`` starts a real TOML comment (not text inside a string).

    Asked of tomllib itself: cutting a comment off leaves the document unchanged, while cutting into a string
    changes a value or breaks the parse. ``parsed`` is the document parsed with ``parse_float=str`` (pass it when
    asking about many positions)."""
    if text[index : index + 1] != "#":
        return False
    end = text.find("\n", index)
    end = len(text) if end < 0 else end
    if end > index and text[end - 1] == "\r":
        end -= 1
    try:
        whole = parsed if parsed is not None else tomllib.loads(text, parse_float=str)
        cut = tomllib.loads(text[:index] + text[end:], parse_float=str)
    except (tomllib.TOMLDecodeError, RecursionError):
        return False
    return cut == whole


MAX_NESTING = 64
"""Deepest nesting of tables and arrays llmspec accepts in a TOML or JSON document. A spec nests about five
levels (``eval.gates[0].min``); the cap keeps pathological documents (a table header 500 keys deep) from
exhausting Python's recursion limit in the code that merges, copies and validates them."""


def too_deep(data: object, limit: int = MAX_NESTING) -> tuple | None:
    """The path of the first value nested deeper than ``limit`` tables/arrays, None when there is none.
    Iterative, so it cannot itself run out of recursion."""
    stack: list[tuple[object, tuple]] = [(data, ())]
    while stack:
        node, path = stack.pop()
        if len(path) > limit:
            return path
        if isinstance(node, dict):
            stack.extend((v, (*path, k)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(node))
    return None
