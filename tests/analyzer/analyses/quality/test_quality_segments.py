"""Quality per segment (``quality.segment_by``), counted in the same statements as the overall
records: a segment's ratios are those of its rows, the bad segment alerts alone, small
segments get ``no_data`` records saying why, and the overall records do not change."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from modeltel.analyzer.base.errors import ConfigError
from modeltel.analyzer.inputs.reference import upload_reference
from modeltel.analyzer.orchestration.analyzer import Analyzer
from support.perfdata import HOUR, at, insert_features, insert_predictions

COUNTRIES = {"fr": 400, "de": 500, "it": 300, "lu": 30}
"""Predictions per country; fr's amounts are often missing or out of range, lu is small."""
CONFIG = {"quality": {"segment_by": "country", "min_segment_size": 50}}


def shop(store) -> pd.DataFrame:
    """Predictions of ``shop`` with a country and an amount each (None: not sent), as one row
    per prediction; the reference's amounts lie in [0, 100]."""
    rng = np.random.default_rng(3)
    upload_reference(
        store,
        "shop",
        pd.DataFrame(
            {"amount": rng.uniform(0, 100, 500), "country": rng.choice(list(COUNTRIES), 500)}
        ),
        version="1",
    )
    country = [c for c, n in COUNTRIES.items() for _ in range(n)]
    rng.shuffle(country)
    n = len(country)
    amount = []
    for c in country:
        if c == "fr" and rng.random() < 0.3:
            amount.append(None)
        elif c == "fr" and rng.random() < 0.25:
            amount.append(float(rng.uniform(150, 300)))
        else:
            amount.append(float(rng.uniform(1, 99)))
    ids = [f"o{i}" for i in range(n)]
    times = [at(i * 3000 / n) for i in range(n)]
    insert_predictions(store, "shop", ids, times, labels=["buy"] * n)
    insert_features(store, "shop", "country", ids, times, texts=country, categorical=True)
    sent = [i for i, a in enumerate(amount) if a is not None]
    insert_features(
        store,
        "shop",
        "amount",
        [ids[i] for i in sent],
        [times[i] for i in sent],
        numbers=[amount[i] for i in sent],
    )
    return pd.DataFrame({"country": country, "amount": amount})


def records(frame: pd.DataFrame, segment: str, feature: str = "amount") -> dict[str, pd.Series]:
    rows = frame[(frame.segment == segment) & (frame.feature == feature)]
    assert rows.metric.is_unique, rows
    return {str(r.metric): r for r in rows.itertuples()}


def test_missing_and_out_of_range_per_segment_equal_pandas(store) -> None:
    truth = shop(store)
    out = Analyzer(store, CONFIG).quality("shop", "1", window=HOUR, write=False)
    assert set(out.segment) == {"", *(f"country={c}" for c in COUNTRIES)}
    for country in ("fr", "de", "it"):
        rows = truth[truth.country == country]
        mine = records(out, f"country={country}")
        assert mine["missing_ratio"].value == pytest.approx(rows.amount.isna().mean(), abs=1e-12)
        assert mine["missing_ratio"].current_size == len(rows)
        present = rows.amount.dropna()
        outside = ((present < 0) | (present > 100)).mean()
        reference_range = json.loads(mine["out_of_range_ratio"].details)
        assert reference_range["min"] >= 0 and reference_range["max"] <= 100
        lo, hi = reference_range["min"], reference_range["max"]
        assert outside == ((present < lo) | (present > hi)).mean()
        assert mine["out_of_range_ratio"].value == pytest.approx(outside, abs=1e-12)
        assert mine["out_of_range_ratio"].current_size == len(present)
    # the bad segment's records alert, the clean ones do not
    alerting = out[out.status == "alert"]
    assert set(alerting[alerting.segment != ""].segment) == {"country=fr"}
    fr = records(out, "country=fr")
    assert fr["missing_ratio"].status == "alert" and fr["out_of_range_ratio"].status == "alert"
    for clean in ("country=de", "country=it"):
        assert {r.status for r in records(out, clean).values()} == {"ok"}


def test_a_small_segment_gets_no_data_saying_why(store) -> None:
    shop(store)
    out = Analyzer(store, CONFIG).quality("shop", "1", window=HOUR, write=False)
    small = out[out.segment == "country=lu"]
    assert not small.empty and set(small.status) == {"no_data"} and small.value.isna().all()
    reason = json.loads(small.iloc[0].details)["reason"]
    assert "30 prediction(s)" in reason and "quality.min_segment_size (50)" in reason


def test_overall_records_are_unchanged_by_segments(store) -> None:
    shop(store)
    plain = Analyzer(store).quality("shop", "1", window=HOUR, write=False)
    split = Analyzer(store, CONFIG).quality("shop", "1", window=HOUR, write=False)
    assert set(plain.segment) == {""}
    overall = split[split.segment == ""].drop(columns="run_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(overall, plain.drop(columns="run_id"))
    # the option replaces the config's dimensions
    asked = Analyzer(store).run(
        "quality", "shop", "1", window=HOUR, write=False, segment_by="country"
    )
    assert set(asked.segment) == set(split.segment)


def test_a_bad_dimension_or_setting_is_a_config_error_naming_it(store) -> None:
    shop(store)
    with pytest.raises(ConfigError, match="'contry'"):
        Analyzer(store).run("quality", "shop", "1", window=HOUR, segment_by="contry")
    with pytest.raises(ConfigError, match=r"quality\.max_segments must be at most 200"):
        Analyzer(store, {"quality": {"max_segments": 201}})
    with pytest.raises(ConfigError, match=r"quality\.min_segment_size"):
        Analyzer(store, {"quality": {"min_segment_size": 0}})
    with pytest.raises(ConfigError, match=r"quality\.segment_by"):
        Analyzer(store, {"quality": {"segment_by": [3]}})


def test_the_cli_on_the_store_splits_quality_by_segment(store, capsys) -> None:
    from modeltel.analyzer.cli import main

    truth = shop(store)
    when = ["--start", HOUR.start.isoformat(), "--end", HOUR.end.isoformat(), "--window", "1h"]
    where = ["--clickhouse-url", store.url, "--database", store.database]
    argv = ["analyze", "--model", "shop", "--only", "quality", "--segment-by", "country"]
    assert main([*argv, *when, *where, "--format", "json", "--no-write"]) == 0
    printed = json.loads(capsys.readouterr().out)
    missing = {
        r["segment"]: r["value"]
        for r in printed
        if r["metric"] == "missing_ratio" and r["feature"] == "amount"
    }
    fr = truth[truth.country == "fr"]
    assert missing["country=fr"] == pytest.approx(fr.amount.isna().mean(), abs=1e-12)
    assert missing[""] == pytest.approx(truth.amount.isna().mean(), abs=1e-12)
    assert missing["country=lu"] is None


def test_service_and_numeric_bins_are_segments_too(store) -> None:
    truth = shop(store)
    out = Analyzer(store).run(
        "quality", "shop", "1", window=HOUR, write=False, segment_by="service.name,amount"
    )
    service = records(out, "service.name=svc")  # every prediction is served by svc
    assert service["missing_ratio"].value == pytest.approx(truth.amount.isna().mean(), abs=1e-12)
    bins = {s for s in out.segment if s.startswith("amount=")}
    assert "amount=(missing)" in bins and len(bins) > 5
    missing = records(out, "amount=(missing)")["missing_ratio"]
    assert missing.value == 1.0 and missing.current_size == truth.amount.isna().sum()
    amount = out[(out.metric == "missing_ratio") & (out.feature == "amount")]
    assert amount[amount.segment.isin(bins)].current_size.sum() == len(truth)
