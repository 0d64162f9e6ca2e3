"""HTTP and gRPC servers of ``modeltel serve``."""
