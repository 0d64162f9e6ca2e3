"""The ingest layer: OTLP decoding, the ml projection of spans and the write pipeline into
the store. It imports only the base layer."""
