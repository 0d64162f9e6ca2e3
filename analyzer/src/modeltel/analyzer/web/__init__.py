"""The built-in web page of ``modeltel serve`` and the pieces the reports share with it.

- :mod:`.data` gathers what is shown (model list, one model's result history) as aggregates;
- :mod:`.charts` draws dependency-free SVG charts;
- :mod:`.segments` lists a model's segments and picks one segment's records;
- :mod:`.sections` renders a model's drift, performance, service and quality sections;
- :mod:`.page` builds the pages; :mod:`.routes` serves them with ``/api/models`` and
  ``/api/sql``.
"""

from modeltel.analyzer.web.routes import web_router

__all__ = ["web_router"]
