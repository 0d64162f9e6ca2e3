"""Webhook delivery of notifications (the retrain trigger's): one JSON POST, retried with
exponential backoff on connection errors, timeouts and 408/425/429/5xx answers."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

_RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class Webhook:
    """Where and how a notification is delivered."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 5.0
    retries: int = 4
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0


def post_json(
    webhook: Webhook,
    payload: Mapping[str, Any],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """POST ``payload`` as JSON; retry connection errors, timeouts, 408/429/5xx with
    exponential backoff (honouring ``Retry-After`` up to ``max_backoff``). True on 2xx."""
    body = json.dumps(payload, default=str).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "modeltel-analyzer"}
    headers.update(webhook.headers)
    for attempt in range(webhook.retries + 1):
        wait = min(webhook.backoff_s * (2**attempt), webhook.max_backoff_s)
        request = urllib.request.Request(webhook.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=webhook.timeout_s) as response:
                response.read()
            return True
        except urllib.error.HTTPError as exc:
            if exc.code not in _RETRY_STATUSES:
                logger.error("webhook %s refused the notification: HTTP %d", webhook.url, exc.code)
                return False
            retry_after = exc.headers.get("Retry-After") if exc.headers else None
            if retry_after and retry_after.strip().isdigit():
                wait = min(float(retry_after), webhook.max_backoff_s)
            problem = f"HTTP {exc.code}"
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            problem = str(getattr(exc, "reason", exc))
        if attempt < webhook.retries:
            logger.warning("webhook %s failed (%s); retrying in %.1fs", webhook.url, problem, wait)
            sleep(wait)
        else:
            logger.error(
                "webhook %s failed %d times (%s); will try again next cycle",
                webhook.url,
                webhook.retries + 1,
                problem,
            )
    return False
