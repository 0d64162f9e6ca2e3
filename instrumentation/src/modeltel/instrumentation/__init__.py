"""modeltel instrumentation (placeholder until built)."""
