"""Table declarations, cluster-aware rendering and versioned migrations."""

from modeltel.analyzer.schema.layout import Layout, Table, View, quote_ident
from modeltel.analyzer.schema.migrations import MIGRATIONS, Migration, all_statements

__all__ = ["MIGRATIONS", "Layout", "Migration", "Table", "View", "all_statements", "quote_ident"]
