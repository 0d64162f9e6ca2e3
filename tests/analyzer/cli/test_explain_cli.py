"""``modeltel explain`` as a user runs it (the CLI entry point in this process), on the store
itself and through a running ``modeltel serve``: the planted cause is the first slice, the JSON
is the analyzer's explanation, and bad options exit with a sentence naming the problem."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from modeltel.analyzer.cli import main
from modeltel.analyzer.orchestration.analyzer import Analyzer
from support.explain import AFTER, BEFORE, MODEL, plant

END = AFTER.end.isoformat()


def table_rows(out: str, title: str) -> list[list[str]]:
    """The rows of the table under ``title`` (cells split on runs of two spaces)."""
    lines = out.splitlines()
    start = lines.index(title) + 3  # title, header, rule
    rows = []
    for line in lines[start:]:
        if not line.strip():
            break
        rows.append([c.strip() for c in line.split("  ") if c.strip()])
    return rows


@pytest.fixture
def planted(store):
    """The "flip" hours in ``store`` (after, clinic=east's labels disagree far more often)."""
    return plant(store, "flip")


@pytest.mark.parametrize("where", ["store", "server"])
def test_the_flipped_clinic_is_printed_first_and_the_json_is_the_explanation(
    where, planted, store, request, capsys
) -> None:
    if where == "server":
        options = ["--server", request.getfixturevalue("server").url]
    else:
        options = ["--clickhouse-url", store.url, "--database", store.database]

    assert main(["explain", MODEL, "--end", END, *options]) == 0
    printed = capsys.readouterr()
    lines = printed.out.splitlines()
    assert lines[0].startswith("accuracy fell from ")
    assert "of the fall is clinic=east" in lines[0]
    slices = table_rows(printed.out, "top slices:")
    first = slices[0]
    assert first[0] == "clinic=east *"  # material
    before, after = planted
    east_before = (before.frame.clinic == "east").mean()
    east_after = (after.frame.clinic == "east").mean()
    assert first[1] == f"{100 * east_before:.1f} % → {100 * east_after:.1f} %"
    east = after.frame.clinic == "east"
    assert first[2].endswith(f"→ {after.accuracy(east):.3g}")
    assert first[4].startswith("-")  # it explains a fall
    assert len(slices) == 10
    pairs = table_rows(printed.out, "top pairs:")
    assert pairs and "clinic=east" in pairs[0][0] and " & " in pairs[0][0]

    assert main(["explain", MODEL, "--end", END, "--format", "json", *options]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer == Analyzer(store).explain(MODEL, end=AFTER.end).to_dict()


def test_options_reach_the_explanation(planted, store, server, capsys) -> None:
    asked = [
        "--window",
        "1h",
        "--baseline-start",
        BEFORE.start.isoformat(),
        "--dimension",
        "clinic",
        "--dimension",
        "gender",
        "--max-values",
        "2",
        "--top",
        "5",
        "--version",
        "1",
    ]
    expected = (
        Analyzer(store)
        .explain(
            MODEL,
            "1",
            window="1h",
            end=AFTER.end,
            baseline_start=BEFORE.start,
            dimensions=["clinic", "gender"],
            max_values=2,
            top=5,
        )
        .to_dict()
    )
    assert expected["dimensions"] == ["clinic", "gender"]
    # two clinics and the others, two genders; five of their six pairs
    names = [s["slice"] for s in expected["slices"]]
    assert len(names) == 5 and "clinic=other" in names
    assert len(expected["pairs"]) == 5
    local = ["--clickhouse-url", store.url, "--database", store.database]
    for options in (local, ["--server", server.url]):
        assert main(["explain", MODEL, "--end", END, *asked, "--format", "json", *options]) == 0
        assert json.loads(capsys.readouterr().out) == expected


@pytest.mark.parametrize(
    ("arguments", "code", "needle"),
    [
        (["--metric", "nope"], 2, "cannot explain metric 'nope'"),
        (["--metric", "mae"], 2, "mae"),
        (["--window", "abc"], 2, "window 'abc' is not a duration"),
        (
            ["--baseline-start", (BEFORE.start + timedelta(minutes=5)).isoformat()],
            2,
            "whole number of windows",
        ),
        (["--end", "yesterday"], 2, "--end 'yesterday' is not a time"),
        (["--dimension", "weight"], 2, "no feature 'weight'"),
        (["--top", "0"], 2, "top must be a positive number"),
        (["--version", "9"], 4, "no predictions of version '9'"),
    ],
)
@pytest.mark.parametrize("where", ["store", "server"])
def test_bad_options_exit_2_or_4_naming_the_problem(
    where, arguments, code, needle, store, request, capsys
) -> None:
    plant(store, "flip", n=300)
    if where == "server":
        options = ["--server", request.getfixturevalue("server").url]
    else:
        options = ["--clickhouse-url", store.url, "--database", store.database]
    assert main(["explain", MODEL, "--end", END, *arguments, *options]) == code
    printed = capsys.readouterr()
    assert printed.out == ""
    assert needle in printed.err


@pytest.mark.parametrize("where", ["store", "server"])
def test_an_unknown_model_exits_4(where, store, request, capsys) -> None:
    plant(store, "none", n=300)
    if where == "server":
        options = ["--server", request.getfixturevalue("server").url]
    else:
        options = ["--clickhouse-url", store.url, "--database", store.database]
    assert main(["explain", "nobody", "--end", END, *options]) == 4
    printed = capsys.readouterr()
    assert "nobody" in printed.err and printed.out == ""
