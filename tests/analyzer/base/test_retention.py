"""The ``retention:`` section on a real chDB store: expired rows are gone after a merge while
recent ones stay, results outlive the raw data, a changed value is re-applied, ``forever``
removes the TTL, applying twice does nothing, and a bad section is refused with its key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.base.retention import (
    Applied,
    Retention,
    apply,
    plan,
    table_sizes,
)
from modeltel.analyzer.base.schema.layout import Layout
from modeltel.analyzer.base.store import Store

DAY = 86400
NOW = datetime.now(UTC).replace(microsecond=0)


def engine(store: Store, table: str) -> str:
    rows = store.query_rows(
        "SELECT engine_full FROM system.tables WHERE database = {db:String} AND name = {t:String}",
        {"db": store.database, "t": table},
    )
    return str(rows[0][0])


def insert_spans(store: Store, times: list[datetime], prefix: str) -> None:
    """One insert (one part per day) of spans at ``times``."""
    store.insert(
        "otel_traces",
        [
            [t, f"{prefix}{i:030d}", f"{i:016d}", "svc", "predict", "Server"]
            for i, t in enumerate(times)
        ],
        ["Timestamp", "TraceId", "SpanId", "ServiceName", "SpanName", "SpanKind"],
    )


def insert_predictions(store: Store, times: list[datetime], prefix: str) -> None:
    store.insert(
        "ml_predictions",
        [["churn", "3", t, f"{prefix}{i}", 0.01, 1, 0] for i, t in enumerate(times)],
        ["model", "version", "timestamp", "prediction_id", "latency_s", "batch_size", "row_index"],
    )


def insert_results(store: Store, starts: list[datetime]) -> None:
    store.insert(
        "ml_results",
        [
            ["churn", "3", s, s + timedelta(hours=1), "service", "throughput", 5.0, "ok"]
            for s in starts
        ],
        ["model", "version", "window_start", "window_end", "kind", "metric", "value", "status"],
    )


def count(store: Store, table: str) -> int:
    return int(store.query_rows(f"SELECT count() FROM {store.table(table)}")[0][0])


def merge(store: Store, *tables: str) -> None:
    for table in tables:
        store.command(f"OPTIMIZE TABLE {store.table(table)} FINAL")


def test_expired_rows_are_gone_after_a_merge_and_results_outlive_the_raw_data(store) -> None:
    old_days = [NOW - timedelta(days=40), NOW - timedelta(days=41)]
    insert_spans(store, old_days * 3, "a")
    insert_spans(store, [NOW - timedelta(minutes=5)] * 4, "b")
    insert_predictions(store, [NOW - timedelta(days=200)] * 5, "old")
    insert_predictions(store, [NOW - timedelta(hours=2)] * 3, "new")
    insert_results(store, [*old_days, NOW - timedelta(hours=3)])
    store.insert(
        "ml_labels",
        [["churn", "old0", "1", NOW - timedelta(days=200)], ["churn", "new0", "0", NOW]],
        ["model", "prediction_id", "label", "timestamp"],
    )
    kept = Retention.from_config(
        {"retention": {"raw": "7d", "predictions": "90d", "results": "forever"}}
    )
    apply(store, kept)
    merge(store, "otel_traces", "otel_traces_trace_id_ts", "ml_predictions", "ml_labels")
    merge(store, "ml_results")

    assert count(store, "otel_traces") == 4  # the spans of 40 and 41 days ago are gone
    assert count(store, "otel_traces_trace_id_ts") == 4
    ids = store.query_rows("SELECT prediction_id FROM ml_predictions ORDER BY prediction_id")
    assert [i for (i,) in ids] == ["new0", "new1", "new2"]
    labels = store.query_rows("SELECT prediction_id FROM ml_labels FINAL")
    assert [i for (i,) in labels] == ["new0"]
    # the results of the windows whose spans expired are still there
    assert count(store, "ml_results") == 3


def test_a_changed_value_is_modified_forever_removes_it_and_twice_is_a_no_op(store) -> None:
    week = Retention(raw=7 * DAY, predictions=90 * DAY)
    first = apply(store, week)
    assert first, "the first application changes the tables"
    assert "TTL toDateTime(Timestamp) + toIntervalDay(7)" in engine(store, "otel_traces")
    assert "TTL TimestampTime + toIntervalDay(7)" in engine(store, "otel_logs")
    predictions = engine(store, "ml_predictions")
    assert "TTL toDateTime(timestamp) + toIntervalDay(90)" in predictions
    assert "ttl_only_drop_parts = 1" in predictions
    assert "TTL" not in engine(store, "ml_results")
    assert "TTL" not in engine(store, "ml_reference")
    assert apply(store, week) == []

    hours = apply(store, Retention(raw=12 * 3600, predictions=90 * DAY))
    assert all("MODIFY TTL" in s and "toIntervalHour(12)" in s for s in hours)
    assert len(hours) == sum(1 for s in first if "toIntervalDay(7)" in s)
    assert "TTL toDateTime(Timestamp) + toIntervalHour(12)" in engine(store, "otel_traces")
    assert "toIntervalDay(90)" in engine(store, "ml_predictions")

    removed = apply(store, Retention())
    assert removed and all(s.endswith("REMOVE TTL") for s in removed)
    for table in ("otel_traces", "otel_metrics_sum", "ml_predictions", "ml_labels"):
        assert " TTL " not in engine(store, table), table
    assert apply(store, Retention()) == []


def test_on_a_cluster_the_local_tables_are_altered_on_cluster() -> None:
    layout = Layout(database="otel", cluster="prod")
    statements = plan(
        layout,
        Retention(raw=3 * DAY, predictions=90 * 60),
        {
            "otel_traces": Applied(ttl=None, drop_parts=True),
            "ml_predictions": Applied(ttl=None, drop_parts=False),
            "ml_results": Applied(
                ttl="toDateTime(window_start) + toIntervalDay(30)", drop_parts=True
            ),
        },
    )
    assert statements == [
        "ALTER TABLE `otel`.`otel_traces_local` ON CLUSTER `prod` "
        "MODIFY TTL toDateTime(Timestamp) + toIntervalDay(3)",
        "ALTER TABLE `otel`.`ml_predictions_local` ON CLUSTER `prod` "
        "MODIFY SETTING ttl_only_drop_parts = 1",
        "ALTER TABLE `otel`.`ml_predictions_local` ON CLUSTER `prod` "
        "MODIFY TTL toDateTime(timestamp) + toIntervalMinute(90)",
        "ALTER TABLE `otel`.`ml_results_local` ON CLUSTER `prod` REMOVE TTL",
    ]


def test_table_sizes_count_the_rows_and_bytes_of_each_table(store) -> None:
    insert_spans(store, [NOW - timedelta(minutes=m) for m in range(50)], "c")
    insert_predictions(store, [NOW] * 7, "p")
    apply(store, Retention(raw=7 * DAY))
    sizes = {s.table: s for s in table_sizes(store)}
    traces = sizes["otel_traces"]
    assert (traces.rows, traces.group) == (50, "raw")
    assert traces.ttl == "toDateTime(Timestamp) + toIntervalDay(7)"
    assert traces.compressed > 0 and traces.uncompressed > 0
    assert (sizes["ml_predictions"].rows, sizes["ml_predictions"].group) == (7, "predictions")
    assert sizes["ml_predictions"].ttl is None
    assert sizes["ml_reference"].group == "" and sizes["ml_reference"].rows == 0
    assert "otel_traces_ingest" not in sizes  # a Null table stores nothing


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"logs": "7d"}, "config key retention.logs is not known; expected one of predictions"),
        ({"raw": "soon"}, "config key retention.raw must be a duration like 7d, 12h or forever"),
        ({"raw": "0s"}, "config key retention.raw must be at least 1s"),
        ({"predictions": -3}, "config key retention.predictions must be a duration"),
        ({"results": True}, "config key retention.results must be a duration"),
        ({"raw": ["7d"]}, "config key retention.raw must be a duration"),
        ("7d", "config key 'retention' must be a mapping, not str"),
    ],
)
def test_a_bad_section_is_refused_naming_the_key(section, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Retention.from_config({"retention": section})
    assert str(raised.value).startswith(message), raised.value


def test_every_key_is_optional_and_forever_means_no_ttl() -> None:
    assert Retention.from_config({}) == Retention()
    assert Retention.from_config({"retention": None}) == Retention()
    parsed = Retention.from_config({"retention": {"raw": "1h30m", "results": "Forever"}})
    assert parsed == Retention(raw=5400, predictions=None, results=None)
