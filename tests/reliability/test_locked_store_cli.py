"""The embedded store held by a running ``modeltel serve``: every other command that would open
it exits 3 with a message saying to use ``--server`` (naming the owner's PID), and the same
commands succeed through ``--server`` (with the API token the server requires)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from modeltel.analyzer.cli import main
from support.reliability import ServeProcess

TOKEN = "lock-test-token"


@pytest.fixture(scope="module")
def owner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServeProcess, Path]]:
    root = tmp_path_factory.mktemp("locked")
    server = ServeProcess(
        store_url=f"chdb://{root / 'store'}",
        log=root / "serve.log",
        env={"MODELTEL_API_TOKEN": TOKEN},
    )
    server.start()
    reference = root / "train.csv"
    reference.write_text(
        "age,plan\n" + "".join(f"{20 + i % 50},{'ab'[i % 2]}\n" for i in range(200))
    )
    labels = root / "labels.csv"
    labels.write_text("prediction_id,label\np1,1\np2,0\n")
    try:
        yield server, root
    finally:
        server.stop()


def _commands(store: str, root: Path) -> list[list[str]]:
    at = ["--clickhouse-url", store]
    return [
        ["sql", "SELECT 1", *at],
        ["models", *at],
        ["analyze", "--model", "churn", *at],
        ["reference", "upload", "churn", str(root / "train.csv"), *at],
        ["reference", "list", *at],
        ["labels", "upload", "churn", str(root / "labels.csv"), *at],
        ["report", "churn", "--out", str(root / "r.html"), *at],
        ["analyzer", "--every", "1s", *at],
        ["serve", "--port", "0", "--grpc-port", "0", *at],
    ]


def test_commands_on_a_locked_store_exit_3_and_say_use_server(
    owner: tuple[ServeProcess, Path], capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    server, root = owner
    monkeypatch.delenv("MODELTEL_SERVER", raising=False)
    pid = str(server.process.pid)
    for argv in _commands(server.store_url, root):
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 3, (argv, err)
        assert "is open in another process" in err and f"PID {pid}" in err, (argv, err)
        assert "--server URL" in err, (argv, err)
        assert "Traceback" not in err


def test_the_real_command_line_says_the_same(owner: tuple[ServeProcess, Path]) -> None:
    server, _ = owner
    url = server.store_url
    answer = subprocess.run(
        [sys.executable, "-m", "modeltel.analyzer.cli", "sql", "SELECT 1", "--clickhouse-url", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert answer.returncode == 3
    assert answer.stderr.startswith("modeltel: error: the embedded store")
    assert "--server URL" in answer.stderr and answer.stdout == ""


def test_the_same_commands_work_through_server(
    owner: tuple[ServeProcess, Path], capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    server, root = owner
    monkeypatch.setenv("MODELTEL_API_TOKEN", TOKEN)
    via = ["--server", server.url]
    assert main(["reference", "upload", "churn", str(root / "train.csv"), *via]) == 0
    assert main(["labels", "upload", "churn", str(root / "labels.csv"), *via]) == 0
    capsys.readouterr()
    query = "SELECT uniqExact(row_id) AS n, groupUniqArray(feature) AS f FROM ml_reference"
    assert main(["sql", query, "--format", "json", *via]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["n"] == 200 and sorted(rows[0]["f"]) == ["age", "plan"]
    assert main(["models", "--format", "json", *via]) == 0
    models = json.loads(capsys.readouterr().out)
    assert "churn" in {m["model"] for m in models}
    # Without the token the server refuses, and the CLI says which setting is missing.
    monkeypatch.delenv("MODELTEL_API_TOKEN")
    assert main(["models", *via]) == 2
    assert "MODELTEL_API_TOKEN" in capsys.readouterr().err
