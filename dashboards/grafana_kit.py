"""Building blocks of the modeltel dashboards on grafana-foundation-sdk: data source refs,
PromQL and ClickHouse targets, panels and the model/version template variables."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import dashboard, prometheus, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    VariableRefresh,
    VariableSort,
)

PROM = DataSourceRef(type_val="prometheus", uid="prometheus")
CH = DataSourceRef(type_val="grafana-clickhouse-datasource", uid="clickhouse")
SEL = 'ml_model_name="$model", ml_model_version="$version"'
PREDICTION_FEATURE = 'ml_feature_name=~"prediction\\\\..*"'
INPUT_FEATURE = 'ml_feature_name!~"prediction\\\\..*", ml_feature_name!=""'


class ClickHouseQuery(cogvariants.Dataquery):
    """A raw-SQL query of grafana-clickhouse-datasource (v4 query model)."""

    def __init__(self, ref_id: str, sql: str, query_type: str) -> None:
        self.ref_id, self.sql, self.query_type = ref_id, sql.strip(), query_type

    def to_json(self) -> dict[str, object]:
        return {
            "refId": self.ref_id,
            "datasource": {"type": CH.type_val, "uid": CH.uid},
            "editorType": "sql",
            "queryType": self.query_type,
            "format": 0 if self.query_type == "timeSeries" else 1,
            "rawSql": self.sql,
        }


class SQL(cogbuilder.Builder[cogvariants.Dataquery]):
    def __init__(self, sql: str, *, table_format: bool = False, ref_id: str = "A") -> None:
        self._query = ClickHouseQuery(ref_id, sql, "table" if table_format else "timeSeries")

    def build(self) -> cogvariants.Dataquery:
        return self._query


def prom(expr: str, legend: str = "", *, instant: bool = False, ref_id: str = "A"):
    query = prometheus.Dataquery().expr(expr).ref_id(ref_id).datasource(PROM)
    if legend:
        query = query.legend_format(legend)
    return query.instant().format("table") if instant else query.range()


def health_thresholds() -> dashboard.ThresholdsConfig:
    return (
        dashboard.ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(None, "red"), Threshold(50, "orange"), Threshold(80, "green")])
    )


def out_of_bounds_thresholds() -> dashboard.ThresholdsConfig:
    """Green at 0, red from 1: a count of metrics outside their bounds."""
    return (
        dashboard.ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(None, "green"), Threshold(1, "red")])
    )


def series(title: str, *targets: Any, unit: str = "", ds: DataSourceRef = PROM, w: int = 12):
    panel = timeseries.Panel().title(title).datasource(ds).height(8).span(w)
    for target in targets:
        panel = panel.with_target(target)
    return panel.unit(unit) if unit else panel


def grid(title: str, *targets: Any, ds: DataSourceRef = PROM, w: int = 12):
    panel = table.Panel().title(title).datasource(ds).height(8).span(w)
    for target in targets:
        panel = panel.with_target(target)
    return panel


def variables(board: dashboard.Dashboard, *, with_feature: bool = False, multi: bool = False):
    model = (
        dashboard.QueryVariable("model")
        .label("model")
        .datasource(PROM)
        .query("label_values(ml_health_score, ml_model_name)")
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .multi(multi)
        .include_all(multi)
    )
    board = board.with_variable(model)
    if multi:
        return board
    board = board.with_variable(
        dashboard.QueryVariable("version")
        .label("version")
        .datasource(PROM)
        .query('label_values(ml_health_score{ml_model_name="$model"}, ml_model_version)')
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_DESC)
    )
    if with_feature:
        board = board.with_variable(
            dashboard.QueryVariable("feature")
            .label("feature")
            .datasource(PROM)
            .query(f"label_values(ml_drift_score{{{SEL}, {INPUT_FEATURE}}}, ml_feature_name)")
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(VariableSort.ALPHABETICAL_ASC)
        )
    return board


def base(uid: str, title: str, description: str) -> dashboard.Dashboard:
    links = [
        dashboard.DashboardLink("modeltel")
        .type("dashboards")
        .tags(["modeltel"])
        .as_dropdown(True)
        .include_vars(True)
        .keep_time(True)
    ]
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["modeltel", "ml"])
        .time("now-6h", "now")
        .refresh("1m")
        .timezone("browser")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .links(links)
    )
