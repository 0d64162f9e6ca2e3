"""A model whose traffic stopped: the analysis loop keeps writing trailing windows without
predictions. The model list, the API's latest results and the model page show the latest
windows with data, and the page says since when no prediction came."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from modeltel.analyzer.base.results import make_results, read_results, write_results
from modeltel.analyzer.web.data import list_models, model_view
from modeltel.analyzer.web.page import model_page

T0 = datetime(2026, 5, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
LAST_PREDICTION = T0 + timedelta(hours=2, minutes=30)


def _windows(store) -> None:
    store.command(
        "INSERT INTO ml_predictions (model, version, timestamp, prediction_id, task) "
        "SELECT 'paused', '1', fromUnixTimestamp64Nano(toInt64({t0:Int64} + number * "
        "{step:Int64})), toString(number), 'classification' FROM numbers(151)",
        parameters={"t0": int(T0.timestamp() * 1e9), "step": 60 * 10**9},
    )
    records = []
    for k in range(6):  # hourly windows; the last three after the last prediction
        start = T0 + k * HOUR
        base = {
            "model": "paused",
            "version": "1",
            "window_start": start,
            "window_end": start + HOUR,
            "kind": "drift",
            "method": "psi",
        }
        for feature, drifted in (("age", True), ("income", False), ("city", True)):
            if start > LAST_PREDICTION:
                records.append({**base, "feature": feature, "status": "no_data"})
            else:
                records.append(
                    {
                        **base,
                        "feature": feature,
                        "value": 0.4 if drifted else 0.01,
                        "threshold": 0.2,
                        "status": "drift" if drifted else "ok",
                        "current_size": 60,
                    }
                )
    write_results(store, make_results(records))


def test_the_latest_windows_with_data_are_shown_with_the_pause_named(store) -> None:
    _windows(store)
    latest = read_results(store, model="paused", latest_window_only=True)
    assert set(latest["status"]) == {"drift", "ok"}
    assert latest["window_end"].max().to_pydatetime().replace(tzinfo=UTC) == T0 + 3 * HOUR

    entry = next(m for m in list_models(store) if m["model"] == "paused")
    assert (entry["drifted_features"], entry["features_checked"]) == (2, 3)

    view = model_view(store, "paused", "1", with_histograms=False)
    assert {r["feature"]: r["status"] for r in view.latest["drift"]} == {
        "age": "drift",
        "income": "ok",
        "city": "drift",
    }
    html = model_page(view)
    assert "No predictions since 2026-05-01 02:30 UTC" in html
    assert "up to 2026-05-01 03:00 UTC" in html
    assert "2026-05-01 05:00 UTC – 2026-05-01 06:00 UTC, had none" in html


def test_no_notice_while_predictions_arrive(store) -> None:
    _windows(store)
    store.command(
        "DELETE FROM ml_results WHERE window_start > {t:DateTime64(3)}",
        parameters={"t": LAST_PREDICTION},
    )
    html = model_page(model_view(store, "paused", "1", with_histograms=False))
    assert "No predictions since" not in html
