"""What the tests share: stores, span builders, processes (Prometheus, chDB over HTTP,
Chromium), generated data. Imported as ``support.<module>``; no test imports another test."""
