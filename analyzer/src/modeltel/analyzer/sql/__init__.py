"""SQL exploration: read-only queries over the store, checked before they run."""
