"""Document -> one self-contained HTML page: inline CSS, inline SVG charts, no scripts, nothing fetched from the
network (a reviewer can open it from a CI artifact, offline)."""

from __future__ import annotations

from llmspec.report.doc import Bullets, Callout, Chart, Document, Para, Table, plain, spans
from llmspec.textsafe import html_text

_CSS = """
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#ffffff; --soft:#f6f8fa; }
* { box-sizing: border-box; }
body { font: 15px/1.5 -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; color: var(--fg);
       background: var(--bg); margin: 0; }
main { max-width: 1040px; margin: 0 auto; padding: 24px 32px 48px; }
h1 { font-size: 28px; margin: 0 0 4px; } h2 { font-size: 20px; border-bottom: 1px solid var(--line);
     padding-bottom: 4px; margin-top: 32px; }
.subtitle { color: var(--muted); margin: 0 0 12px; }
nav { font-size: 13px; margin-bottom: 8px; } nav a { margin-right: 12px; color: #0969da; text-decoration: none; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 14px; }
th, td { border: 1px solid var(--line); padding: 4px 10px; vertical-align: top; }
th { background: var(--soft); text-align: left; } td.r { text-align: right; white-space: nowrap; }
tr:nth-child(even) td { background: #fbfcfd; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--soft);
       padding: 1px 4px; border-radius: 4px; }
.callout { border-left: 4px solid; padding: 8px 12px; margin: 12px 0; border-radius: 4px; }
.callout.ok { border-color: #1a7f37; background: #dafbe1; } .callout.warn { border-color: #9a6700; background: #fff8c5; }
.callout.error { border-color: #cf222e; background: #ffebe9; }
figure { margin: 12px 0; } figure svg { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 13px; }
footer { color: var(--muted); font-size: 12px; border-top: 1px solid var(--line); margin-top: 32px; padding-top: 8px; }
"""


def inline(text: str) -> str:
    """Document markup -> HTML: bold and code marks become elements, every character of the text is escaped."""
    out = []
    for span in spans(text):
        piece = html_text(span.text)
        if span.code:
            piece = f"<code>{piece}</code>"
        out.append(f"<strong>{piece}</strong>" if span.bold else piece)
    return "".join(out)


def render_html(doc: Document) -> str:
    body = [f"<h1>{inline(doc.title)}</h1>"]
    if doc.subtitle:
        body.append(f'<p class="subtitle">{inline(doc.subtitle)}</p>')
    body.append("<nav>" + "".join(f'<a href="#{html_text(s.anchor)}">{inline(s.title)}</a>' for s in doc.sections) + "</nav>")
    for section in doc.sections:
        body.append(f'<section id="{html_text(section.anchor)}"><h2>{inline(section.title)}</h2>')
        body.extend(_block(b) for b in section.blocks)
        body.append("</section>")
    if doc.footer:
        body.append(f"<footer>{inline(doc.footer)}</footer>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html_text(plain(doc.title))} - llmspec report</title>\n<style>{_CSS}</style>\n</head>\n"
            "<body>\n<main>\n" + "\n".join(body) + "\n</main>\n</body>\n</html>\n")


def _block(block) -> str:
    if isinstance(block, Para):
        return f"<p>{inline(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{inline(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Callout):
        return f'<div class="callout {html_text(block.kind)}">{inline(block.text)}</div>'
    if isinstance(block, Table):
        head = "".join(f"<th>{inline(h)}</th>" for h in block.headers)
        rows = []
        for row in block.rows:
            cells = "".join(f'<td class="{html_text(a)}">{inline(c)}</td>' for c, a in zip(row, block.align or []))
            rows.append(f"<tr>{cells}</tr>")
        return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
    if isinstance(block, Chart):
        if block.svg is None:
            return f'<p class="chart-missing"><em>{inline(block.note)}</em></p>'
        return (f'<figure class="chart" id="chart-{html_text(block.name)}" role="img" '
                f'aria-label="{html_text(plain(block.alt))}">\n{block.svg}\n<figcaption>{inline(block.alt)}</figcaption></figure>')
    raise TypeError(f"unknown block {type(block).__name__}")
