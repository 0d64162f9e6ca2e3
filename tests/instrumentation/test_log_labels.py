"""log_labels: ground truth as OTel log records (event ml.label)."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest

from modeltel.instrumentation import log_labels
from support.instrumentation import Telemetry, telemetry_fixture  # noqa: F401


def records(telemetry: Telemetry):
    return [r.log_record for r in telemetry.log_exporter.get_finished_logs()]


def test_single_label(telemetry: Telemetry) -> None:
    sent = log_labels("churn", "id-1", "yes", logger_provider=telemetry.logger_provider)
    assert sent == 1
    (record,) = records(telemetry)
    assert record.event_name == "ml.label"
    assert dict(record.attributes) == {
        "event.name": "ml.label",
        "ml.model.name": "churn",
        "ml.prediction.id": "id-1",
        "ml.label": "yes",
    }


def test_numeric_labels_carry_a_value(telemetry: Telemetry) -> None:
    log_labels("price", "p1", 12.5, logger_provider=telemetry.logger_provider)
    log_labels("churn", np.str_("p2"), np.int64(1), logger_provider=telemetry.logger_provider)
    first, second = records(telemetry)
    assert first.attributes["ml.label"] == "12.5"
    assert first.attributes["ml.label.value"] == 12.5
    assert second.attributes["ml.prediction.id"] == "p2"
    assert second.attributes["ml.label"] == "1"  # written like the predicted label "1"
    assert second.attributes["ml.label.value"] == 1.0


def test_batch_as_arrays(telemetry: Telemetry) -> None:
    ids = pd.Series(["a", "b", "c", "d"])
    labels = np.array([1.0, 0.0, np.nan, 1.0])
    sent = log_labels("churn", ids, labels, logger_provider=telemetry.logger_provider)
    assert sent == 3  # the NaN label is missing, not sent
    (record,) = records(telemetry)
    assert record.attributes["ml.prediction.id"] == ("a", "b", "d")
    assert record.attributes["ml.label"] == ("1", "0", "1")
    assert record.attributes["ml.label.value"] == (1.0, 0.0, 1.0)


def test_large_batches_are_chunked(telemetry: Telemetry) -> None:
    ids = [f"id{i}" for i in range(2500)]
    labels = ["x" if i % 2 else "y" for i in range(2500)]
    assert log_labels("m", ids, labels, logger_provider=telemetry.logger_provider) == 2500
    chunks = records(telemetry)
    assert [len(r.attributes["ml.prediction.id"]) for r in chunks] == [1000, 1000, 500]
    assert "ml.label.value" not in chunks[0].attributes
    assert [i for r in chunks for i in r.attributes["ml.prediction.id"]] == ids


def test_timestamp(telemetry: Telemetry) -> None:
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    log_labels("m", "a", "y", timestamp=when, logger_provider=telemetry.logger_provider)
    log_labels("m", "b", "y", timestamp=when.timestamp(), logger_provider=telemetry.logger_provider)
    first, second = records(telemetry)
    assert first.timestamp == second.timestamp == int(when.timestamp()) * 10**9


def test_mismatched_lengths_are_an_error(telemetry: Telemetry) -> None:
    with pytest.raises(ValueError, match="2 prediction ids"):
        log_labels("m", ["a", "b"], ["x"], logger_provider=telemetry.logger_provider)
    with pytest.raises(ValueError, match="one prediction id"):
        log_labels("m", "a", ["x", "y"], logger_provider=telemetry.logger_provider)
    with pytest.raises(ValueError, match="model"):
        log_labels("", "a", "x", logger_provider=telemetry.logger_provider)
    assert records(telemetry) == []


def test_nothing_to_send(telemetry: Telemetry) -> None:
    assert log_labels("m", [], [], logger_provider=telemetry.logger_provider) == 0
    assert log_labels("m", "a", None, logger_provider=telemetry.logger_provider) == 0
    assert records(telemetry) == []
