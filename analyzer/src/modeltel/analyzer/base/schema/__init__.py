"""Table declarations, cluster-aware rendering and versioned migrations."""

from modeltel.analyzer.base.schema.layout import Layout, Table, View, quote_ident
from modeltel.analyzer.base.schema.migrations import MIGRATIONS, Migration, all_statements

__all__ = ["MIGRATIONS", "Layout", "Migration", "Table", "View", "all_statements", "quote_ident"]
