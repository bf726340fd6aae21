"""Design reviews: ``llmspec report`` (one spec as a Markdown or HTML document) and ``llmspec diff`` (what a
change to a spec does to parameters, memory, cost and lint findings).

The pipeline is data -> document -> renderer: :mod:`.model` gathers the spec, the estimate contract
(``llmspec.estimate.estimate(spec).to_dict()``), lint findings and eval results; :mod:`.sections` turns them into
a renderer-neutral :class:`~llmspec.report.doc.Document`; :mod:`.markdown` and :mod:`.html` render it. No torch,
transformers or lm_eval is imported here; matplotlib (the ``report`` extra) only when a chart is drawn.
"""

from __future__ import annotations

__all__ = ["build_report", "render"]


def build_report(path, overrides=(), results=None):
    """Gather everything about one spec and return its :class:`~llmspec.report.doc.Document`."""
    from llmspec.report.model import gather
    from llmspec.report.sections import report_document

    return report_document(gather(path, overrides, results))


def render(document, fmt: str, assets=None) -> str:
    """Render a document as ``"md"`` or ``"html"``. ``assets`` (Markdown only) writes charts beside the file."""
    if fmt == "html":
        from llmspec.report.html import render_html

        return render_html(document)
    from llmspec.report.markdown import render_markdown

    return render_markdown(document, assets)
