"""Model health reports: ``modeltel report MODEL --period week|month --out F.html [--pdf F.pdf]``.

:func:`build_report` gathers a model version's results over the period,
:func:`render_html` draws one self-contained HTML file (inline CSS and SVG, no scripts; its
Segments section from :mod:`.segments`), and
:func:`html_to_pdf` prints it with headless Chromium (or WeasyPrint).
"""

from modeltel.analyzer.report.build import PERIODS, Report, build_report
from modeltel.analyzer.report.html import render_html
from modeltel.analyzer.report.pdf import html_to_pdf
from modeltel.analyzer.report.recommend import Recommendation, recommendations

__all__ = [
    "PERIODS",
    "Recommendation",
    "Report",
    "build_report",
    "html_to_pdf",
    "recommendations",
    "render_html",
]
