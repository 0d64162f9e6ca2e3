"""Long fuzz run of the OTLP receiver: hostile payloads posted to ``modeltel serve``.

Starts ``modeltel serve`` on a fresh embedded store (OTLP/HTTP only) and posts, per category,
``--examples`` payloads drawn by the strategies of the fuzz tests
(``tests/support/otlp_fuzz.py``): valid requests with extreme values, their
protobuf bytes mutated, OTLP-shaped and arbitrary JSON (invalid UTF-8, deep nesting, huge
numbers), and broken gzip/deflate bodies, for traces, logs and metrics. Prints the answers
per category; any 5xx, any refusal without a message, or a server that stops answering is a
failure (listed, exit code 1).

    python bench/fuzz_otlp.py                      # 2,000 payloads per category
    python bench/fuzz_otlp.py --examples 200
"""

from __future__ import annotations

import argparse
import collections
import http.client
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from soak import free_port, rss_mib, wait_healthy  # noqa: E402
from support.otlp_fuzz import REQUESTS, compressed, json_bodies, mutated  # noqa: E402

PROTOBUF, JSON = "application/x-protobuf", "application/json"


def tests_for(signal: str, post) -> dict:
    """The three payload families of one signal, as functions of hypothesis ``data``."""

    def valid(data) -> None:
        body = data.draw(REQUESTS[signal]).SerializeToString()
        post(f"{signal} valid, extreme", signal, body, PROTOBUF)

    def protobuf(data) -> None:
        body = data.draw(REQUESTS[signal]).SerializeToString()
        post(f"{signal} mutated protobuf", signal, data.draw(mutated(body)), PROTOBUF)

    def hostile_json(data) -> None:
        post(f"{signal} hostile JSON", signal, data.draw(json_bodies(signal)), JSON)

    return {"valid, extreme": valid, "mutated protobuf": protobuf, "hostile JSON": hostile_json}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=2000, help="payloads per category")
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="modeltel-fuzz-")) / "store"
    port = free_port()
    log = data.parent / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "modeltel.analyzer.cli", "serve"),
                *("--clickhouse-url", f"chdb://{data}", "--port", str(port)),
                *("--grpc-port", "0", "--analyze-every", "0"),
            ],
            stdout=out,
            stderr=out,
            env={**os.environ, "MODELTEL_MAX_BODY_BYTES": str(1 << 20)},
        )
    tally: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    failures: list[str] = []
    resent: collections.Counter[str] = collections.Counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def post(category: str, signal: str, body: bytes, content_type: str, **headers: str) -> None:
        nonlocal conn
        for attempt in (1, 2):
            try:
                conn.request(
                    "POST", f"/v1/{signal}", body, {"Content-Type": content_type, **headers}
                )
                response = conn.getresponse()
                answer = response.read()
                break
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                if attempt == 1:
                    # The server closes idle keep-alive connections (5 s); a request sent on
                    # one that was just closed never reached it: send it once more.
                    resent[category] += 1
                    continue
                tally[category]["no answer"] += 1
                failures.append(f"{category}: no answer ({exc!r}) to {body[:80]!r}")
                return
        tally[category][str(response.status)] += 1
        if response.status >= 500 or (response.status != 200 and not answer):
            failures.append(
                f"{category}: HTTP {response.status} {answer[:200]!r} for {body[:80]!r}"
            )

    config = settings(
        max_examples=args.examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )

    def run(category: str, test) -> None:
        started = time.monotonic()
        config(given(data=st.data())(test))()
        done = sum(tally[category].values())
        print(
            f"{category:<28} {done:>6,} cases in {time.monotonic() - started:6.1f} s   "
            + "  ".join(f"{k}: {v:,}" for k, v in sorted(tally[category].items())),
            flush=True,
        )

    try:
        wait_healthy(port, server)
        print(
            f"modeltel OTLP fuzz — {args.examples:,} payloads per category, server PID {server.pid}"
        )
        for signal in ("traces", "logs", "metrics"):
            for name, test in tests_for(signal, post).items():
                run(f"{signal} {name}", test)

        def compression(data):
            body = data.draw(REQUESTS["traces"]).SerializeToString()
            payload, encoding = data.draw(compressed(body))
            post(
                "broken compression", "traces", payload, PROTOBUF, **{"Content-Encoding": encoding}
            )

        run("broken compression", compression)
        conn.close()
        health = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        health.request("GET", "/healthz")
        alive = health.getresponse().status == 200
        health.close()
        rss = rss_mib(server.pid)
    finally:
        server.terminate()
        code = server.wait(120)
    total = sum(sum(c.values()) for c in tally.values())
    statuses: collections.Counter[str] = collections.Counter()
    for counts in tally.values():
        statuses.update(counts)
    print()
    print(f"cases tried   {total:,}")
    print("answers       " + "  ".join(f"{k}: {v:,}" for k, v in sorted(statuses.items())))
    print(f"5xx or silent {len(failures)}")
    print(f"resent        {sum(resent.values())} (keep-alive connection closed by the server)")
    print(
        f"server        {'healthy' if alive else 'NOT HEALTHY'} afterwards, RSS {rss:.0f} MiB, "
        f"exit code after SIGTERM {code}"
    )
    for failure in failures[:20]:
        print("  " + failure)
    return 1 if failures or not alive else 0


if __name__ == "__main__":
    sys.exit(main())
