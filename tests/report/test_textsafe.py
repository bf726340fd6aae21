"""llmspec.textsafe against real parsers, over random text: Markdown rendered as GitHub renders it (markdown-it-py with
mdit-py-plugins' GFM plugin), HTML through html.parser, XML through xml.etree."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st
from report_helpers import gfm, inline_text, markdown_tables

from llmspec.textsafe import html_text, md_code, md_text, one_line, visible, xml_text

PIECES = ["\r", "\n", "\r\n", "\u2028", "\x85", "\t", "\x1b", "\x00", "`", "``", "```", "|", "\\", "\\|", "<", ">",
          "<!--", "-->", "[", "]", "!", "*", "_", "#", "-", "+", "=", "~", "&", "&amp;", "$", "@", ":", " ", "    ",
          "1.", "1)", "> [!TIP]", "![a](b)", "[a]: b", "<b>", "https://x.y", "www.x.y", "a@b.co", "---", "==="]
TEXT = st.lists(st.sampled_from(PIECES) | st.characters(exclude_categories=("Cs",)), max_size=12).map("".join)


def _code(text: str) -> str:
    """What a code span of ``text`` must show: exactly its text on one line (md_code pads it so that CommonMark's
    stripping of one space on each side takes only the padding); an empty text as a single space."""
    return one_line(text) or " "


def _inlines(md: str) -> list:
    return [t for t in gfm().parse(md) if t.type == "inline"]


@settings(max_examples=300, deadline=None)
@given(TEXT, TEXT)
def test_text_renders_as_itself_in_a_paragraph_a_list_item_and_a_quote(before, text):
    shown = one_line(text).strip()
    for prefix in ("", "- ", "> "):
        md = f"{prefix}{md_text(text, block_start=True)}\n"
        tokens = gfm().parse(md)
        blocks = [t.type for t in tokens if t.type.endswith("_open")]
        assert blocks == {"": ["paragraph_open"], "- ": ["bullet_list_open", "list_item_open", "paragraph_open"],
                          "> ": ["blockquote_open", "paragraph_open"]}[prefix] or not shown, (md, blocks)
        if shown:
            assert [inline_text(t) for t in _inlines(md)] == [shown], md


@settings(max_examples=300, deadline=None)
@given(TEXT, TEXT)
def test_text_and_code_stay_in_their_table_cell(text, code):
    md = f"| a | b | c |\n|---|---|---|\n| {md_text(text)} | {md_code(code, table=True)} | end |\n"
    tables = markdown_tables(md)
    assert len(tables) == 1 and len(tables[0]) == 2, md
    row = tables[0][1]
    assert row[0] == one_line(text).strip() and row[2] == "end", (md, row)
    assert row[1] == f"`{_code(code)}`", (md, row)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_a_code_span_is_one_code_span(code):
    md = f"x {md_code(code)} y\n"
    children = [c for t in _inlines(md) for c in t.children or ()]
    assert [c.type for c in children] == ["text", "code_inline", "text"], md
    assert children[1].content == _code(code), md


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_html_text_is_text_in_an_element_and_an_attribute(text):
    found: list = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

        def handle_data(self, data):
            found.append(data)

        def handle_comment(self, data):
            found.append(("comment", data))

    parser = Collect(convert_charrefs=True)
    parser.feed(f'<p title="{html_text(text)}">{html_text(text)}</p>')
    parser.close()
    shown = one_line(text)
    assert found[0] == ("p", [("title", shown)])
    assert "".join(x for x in found[1:] if isinstance(x, str)) == shown


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_xml_text_parses_and_visible_has_no_control_characters(text):
    root = ET.Element("r", a=xml_text(text))
    root.text = xml_text(text)
    parsed = ET.fromstring(ET.tostring(root, encoding="unicode").encode("utf-8", "surrogatepass"))
    assert parsed.text in (None, "") or "\r" not in parsed.text
    shown = visible(text)
    assert all(ch == "\t" or (ord(ch) >= 0x20 and not 0x7F <= ord(ch) <= 0x9F) for ch in shown)
    assert "\u2028" not in shown and "\u2029" not in shown
