"""The public surface, and importing without numpy, pandas or scikit-learn."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap

import pytest

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


def test_monitor_and_instrument_show_their_keyword_arguments() -> None:
    shared = [
        "name",
        "version",
        "task",
        "feature_names",
        "categorical",
        "sample_rate",
        "prediction_id",
        "max_batch_span_rows",
        "batch_overflow",
        "explainer",
        "attribution_rate",
        "features_include",
        "features_exclude",
        "feature_treatments",
        "hash_salt",
        "tracer_provider",
        "meter_provider",
    ]
    for function, positional, own in (
        (instrumentation.monitor, "fn", "classes"),
        (instrumentation.instrument, "estimator", "predict_scores"),
    ):
        parameters = inspect.signature(function).parameters
        assert list(parameters) == [positional, *shared, own]
        keywords = [p for p in parameters.values() if p.kind is p.KEYWORD_ONLY]
        assert [p.name for p in keywords] == [*shared, own]
        assert all(p.default is (False if p.name == "predict_scores" else None) for p in keywords)


def test_an_unknown_keyword_argument_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="monitor\\(\\) got an unexpected keyword argument 'nmae'"):
        instrumentation.monitor(lambda x: x, nmae="churn")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="'classes'"):
        instrumentation.instrument(object(), classes=[0, 1])  # type: ignore[call-arg]
