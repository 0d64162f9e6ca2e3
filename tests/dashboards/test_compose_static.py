"""docker-compose.yml and otel-collector.yaml, checked statically (no Docker engine here): they
parse, every file they mount exists, and ports, database and table names agree with modeltel's
own settings, schema and CLI."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from modeltel.analyzer.base import settings
from modeltel.analyzer.base.config import load_config
from modeltel.analyzer.base.schema.otel import OTEL_TABLES
from modeltel.analyzer.cli import build_parser
from modeltel.analyzer.orchestration.loop import LoopSettings
from modeltel.analyzer.orchestration.retrain import RetrainPolicy


@pytest.fixture(scope="module")
def compose(repo_root: Path) -> dict:
    return yaml.safe_load((repo_root / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def collector(repo_root: Path) -> dict:
    return yaml.safe_load((repo_root / "otel-collector.yaml").read_text())


def mounts(service: dict) -> dict[str, str]:
    """container path → host path of a service's bind mounts."""
    out = {}
    for volume in service.get("volumes", []):
        host, container, *_ = volume.split(":")
        if host.startswith("."):
            out[container] = host
    return out


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def serve_defaults() -> dict[str, int]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    serve = sub.choices["serve"]
    return {"port": serve.get_default("port"), "grpc_port": serve.get_default("grpc_port")}


def test_collector_receives_otlp_on_modeltels_ports(collector: dict) -> None:
    protocols = collector["receivers"]["otlp"]["protocols"]
    defaults = serve_defaults()
    assert protocols["http"]["endpoint"].endswith(f":{defaults['port']}")
    assert protocols["grpc"]["endpoint"].endswith(f":{defaults['grpc_port']}")


def test_collector_writes_the_tables_modeltel_reads(collector: dict, compose: dict) -> None:
    exporter = collector["exporters"]["clickhouse"]
    tables = {table.name for table in OTEL_TABLES}
    assert exporter["database"] == settings.DEFAULT_DATABASE
    assert exporter["traces_table_name"] in tables
    assert exporter["logs_table_name"] in tables
    metric_tables = {kind: cfg["name"] for kind, cfg in exporter["metrics_tables"].items()}
    assert set(metric_tables) == {"gauge", "sum", "summary", "histogram", "exponential_histogram"}
    assert all(metric_tables[k] == f"otel_metrics_{k}" for k in metric_tables)
    assert set(metric_tables.values()) <= tables
    assert exporter["create_schema"] is False  # modeltel's migrations own the schema
    endpoint = urlparse(exporter["endpoint"])
    assert endpoint.hostname in compose["services"]
    assert f"{endpoint.port}:{endpoint.port}" in compose["services"][endpoint.hostname]["ports"]


def test_collector_pipelines(collector: dict) -> None:
    pipelines = collector["service"]["pipelines"]
    assert set(pipelines) == {"traces", "logs", "metrics"}
    for name, pipeline in pipelines.items():
        assert pipeline["receivers"] == ["otlp"], name
        assert pipeline["processors"][0] == "memory_limiter", name
        assert "batch" in pipeline["processors"], name
        assert "clickhouse" in pipeline["exporters"], name
        for kind, ids in (
            ("receivers", pipeline["receivers"]),
            ("processors", pipeline["processors"]),
            ("exporters", pipeline["exporters"]),
        ):
            assert set(ids) <= set(collector[kind]), f"{name}: undefined {kind}"
    assert "prometheus" in pipelines["metrics"]["exporters"]
    assert set(collector["service"]["extensions"]) <= set(collector["extensions"])


def test_compose_services_and_mounted_files(compose: dict, repo_root: Path) -> None:
    services = compose["services"]
    assert {
        "otel-collector",
        "clickhouse",
        "prometheus",
        "alertmanager",
        "grafana",
        "modeltel-analyzer",
        "demo-app",
    } <= set(services)
    for name, service in services.items():
        for container, host in mounts(service).items():
            assert (repo_root / host).exists(), f"{name} mounts missing {host} at {container}"
        build = service.get("build")
        if build:
            dockerfile = repo_root / build["context"] / build["dockerfile"]
            assert dockerfile.exists(), name
            for line in dockerfile.read_text().splitlines():
                if line.startswith("COPY "):
                    source = line.split()[1]
                    assert (repo_root / build["context"] / source).exists(), f"{dockerfile}: {line}"
        for dependency in service.get("depends_on", []):
            assert dependency in services, f"{name} depends on unknown {dependency}"


def test_collector_service_uses_this_config(compose: dict, collector: dict) -> None:
    service = compose["services"]["otel-collector"]
    config_path = service["command"][0].split("=", 1)[1]
    assert mounts(service)[config_path] == "./otel-collector.yaml"
    clickhouse = compose["services"]["clickhouse"]["environment"]
    assert service["environment"]["CLICKHOUSE_USER"] == clickhouse["CLICKHOUSE_USER"]
    assert service["environment"]["CLICKHOUSE_PASSWORD"] == clickhouse["CLICKHOUSE_PASSWORD"]
    assert clickhouse["CLICKHOUSE_DB"] == collector["exporters"]["clickhouse"]["database"]
    ports = {p.split(":")[0] for p in service["ports"]}
    for protocol in collector["receivers"]["otlp"]["protocols"].values():
        assert protocol["endpoint"].rsplit(":", 1)[1] in ports
    assert "modeltel-analyzer" in service["depends_on"]  # tables exist before the first insert


def test_analyzer_command_is_a_valid_modeltel_command(compose: dict, repo_root: Path) -> None:
    service = compose["services"]["modeltel-analyzer"]
    command = service["command"]
    assert command[0] == "modeltel"
    args = build_parser().parse_args(command[1:])
    assert args.command == "analyzer"
    url = urlparse(args.clickhouse_url)
    clickhouse = compose["services"]["clickhouse"]
    assert url.hostname == "clickhouse"
    assert f"{url.port}:{url.port}" in clickhouse["ports"]
    assert url.username == clickhouse["environment"]["CLICKHOUSE_USER"]
    assert args.database == clickhouse["environment"]["CLICKHOUSE_DB"] == settings.DEFAULT_DATABASE
    assert f"{args.port}:{args.port}" in service["ports"]
    # the config file the image carries (dashboards/compose → /app/compose) is valid
    assert args.config.startswith("/app/compose/")
    config = load_config(repo_root / "dashboards" / "compose" / Path(args.config).name)
    LoopSettings.from_config(config)
    policy = RetrainPolicy.from_config(config, environ={})
    assert policy.webhook is not None
    assert urlparse(policy.webhook.url).hostname in compose["services"]


def test_prometheus_scrapes_the_analyzer_and_collector(
    compose: dict, collector: dict, repo_root: Path
) -> None:
    service = compose["services"]["prometheus"]
    config_path = option_value(service["command"], "--config.file")
    volume = mounts(service)
    config = yaml.safe_load((repo_root / volume[config_path]).read_text())
    for rule_file in config["rule_files"]:
        assert rule_file in volume, f"rule file {rule_file} is not mounted"
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"][0] for job in config["scrape_configs"]
    }
    analyzer_port = option(compose["services"]["modeltel-analyzer"]["command"], "--port")
    assert targets["modeltel-analyzer"] == f"modeltel-analyzer:{analyzer_port}"
    collector_port = collector["exporters"]["prometheus"]["endpoint"].rsplit(":", 1)[1]
    assert targets["otel-collector"] == f"otel-collector:{collector_port}"
    alertmanager = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][0]
    host, port = alertmanager.split(":")
    assert f"{port}:{port}" in compose["services"][host]["ports"]


def option_value(command: list[str], name: str) -> str:
    return next(arg.split("=", 1)[1] for arg in command if arg.startswith(name + "="))


def test_alertmanager_routes_to_a_webhook_service(compose: dict, repo_root: Path) -> None:
    service = compose["services"]["alertmanager"]
    config_path = option_value(service["command"], "--config.file")
    config = yaml.safe_load((repo_root / mounts(service)[config_path]).read_text())
    receivers = {r["name"]: r for r in config["receivers"]}
    routed = {config["route"]["receiver"]} | {r["receiver"] for r in config["route"]["routes"]}
    assert routed <= set(receivers)
    for receiver in receivers.values():
        for hook in receiver["webhook_configs"]:
            url = urlparse(hook["url"])
            assert url.hostname in compose["services"]
            assert f"{url.port}:{url.port}" in compose["services"][url.hostname]["ports"]


def test_grafana_provisioning_matches_the_dashboards(compose: dict, repo_root: Path) -> None:
    service = compose["services"]["grafana"]
    assert "grafana-clickhouse-datasource" in service["environment"]["GF_INSTALL_PLUGINS"]
    volume = mounts(service)
    provisioning = repo_root / volume["/etc/grafana/provisioning"]
    sources = yaml.safe_load((provisioning / "datasources" / "modeltel.yaml").read_text())
    by_uid = {s["uid"]: s for s in sources["datasources"]}
    clickhouse = by_uid["clickhouse"]
    assert clickhouse["type"] == "grafana-clickhouse-datasource"
    env = compose["services"]["clickhouse"]["environment"]
    assert clickhouse["jsonData"]["host"] == "clickhouse"
    assert (
        f"{clickhouse['jsonData']['port']}:{clickhouse['jsonData']['port']}"
        in compose["services"]["clickhouse"]["ports"]
    )
    assert clickhouse["jsonData"]["defaultDatabase"] == env["CLICKHOUSE_DB"]
    assert clickhouse["jsonData"]["username"] == env["CLICKHOUSE_USER"]
    assert clickhouse["secureJsonData"]["password"] == env["CLICKHOUSE_PASSWORD"]
    assert urlparse(by_uid["prometheus"]["url"]).hostname == "prometheus"
    providers = yaml.safe_load((provisioning / "dashboards" / "modeltel.yaml").read_text())
    path = providers["providers"][0]["options"]["path"]
    dashboards_dir = repo_root / volume[path]
    boards = sorted(dashboards_dir.glob("*.json"))
    assert [b.stem for b in boards] == sorted(
        f"modeltel-{name}"
        for name in ("overview", "drift", "performance", "service", "quality", "fairness")
    )
    for board in boards:
        for panel in json.loads(board.read_text())["panels"]:
            assert panel["datasource"]["uid"] in by_uid, f"{board.name}: {panel['title']}"
            for target in panel.get("targets", []):
                assert target["datasource"]["uid"] in by_uid


def test_demo_services_run_existing_code(compose: dict, repo_root: Path) -> None:
    app = compose["services"]["demo-app"]["command"]
    module = option(app, "--factory").split(":")[0]
    assert (repo_root / (module.replace(".", "/") + ".py")).exists()
    env = compose["services"]["demo-app"]["environment"]
    endpoint = urlparse(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
    assert endpoint.hostname == "otel-collector"
    assert f"{endpoint.port}:{endpoint.port}" in compose["services"]["otel-collector"]["ports"]
    traffic = compose["services"]["demo-traffic"]["command"]
    assert (repo_root / "dashboards" / traffic[1]).exists()
