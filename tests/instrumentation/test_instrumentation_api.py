"""The public surface, and importing without numpy, pandas or scikit-learn."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import modeltel.instrumentation as instrumentation


def test_public_surface_is_pinned() -> None:
    assert instrumentation.__all__ == [
        "__version__",
        "attributions",
        "instrument",
        "last_prediction_ids",
        "log_labels",
        "monitor",
        "prediction_ids",
        "setup",
    ]
    for name in instrumentation.__all__:
        assert hasattr(instrumentation, name)


def test_modeltel_is_a_namespace_package() -> None:
    import modeltel

    assert getattr(modeltel, "__file__", None) is None


def test_works_without_numpy_pandas_sklearn() -> None:
    code = textwrap.dedent(
        """
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("numpy", "pandas", "sklearn", "scipy"):
                    raise ImportError(f"{name} is blocked")
                return None

        sys.meta_path.insert(0, Block())
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        import modeltel.instrumentation as mi
        from modeltel.instrumentation.auto import SklearnInstrumentor

        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        predict = mi.monitor(lambda rows: [r["a"] * 2.0 for r in rows], name="pure",
                             tracer_provider=provider)
        assert predict([{"a": 1.0, "b": "x"}, {"a": float("nan"), "b": None}])[0] == 2.0
        attributes = exporter.get_finished_spans()[0].attributes
        assert attributes["ml.feature.a"] == (1.0, None), attributes
        assert attributes["ml.feature.b"] == ("x", None), attributes
        SklearnInstrumentor().instrument()  # scikit-learn missing: a quiet no-op
        assert not any(m.split(".")[0] in ("numpy", "pandas", "sklearn") for m in sys.modules)
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
