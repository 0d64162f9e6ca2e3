"""What one recorded prediction stands for: the ``ml.sampling.weight`` of a span.

A span is recorded for a share of the calls (``sample_rate``, then the tracer's own sampler),
and a batch larger than ``max_batch_span_rows`` under ``batch_overflow="sample"`` keeps a
share of its rows. The weight is the inverse of the product of those shares, so the analyzer
can count calls and predictions from the recorded spans (see ``docs/sampling.md``).

Only samplers whose share is known are counted: the SDK's ``TraceIdRatioBased`` (alone or as
the root of ``ParentBased``; a sampled parent is taken to have been sampled at that ratio) and
the always-on/always-off ones. Consistent probability samplers record their share in the
span's ``tracestate`` (``ot=th:…``) instead, and the analyzer reads it there, so they count 1
here and nothing is counted twice.
"""

from __future__ import annotations

import weakref
from typing import Any

_shares: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


def _sampler_share(sampler: Any) -> float:
    """The share of root spans ``sampler`` records (1 when it is not known)."""
    for _ in range(8):  # ParentBased wraps its root sampler; a few levels at most
        root = getattr(sampler, "_root", None)
        if root is None:
            break
        sampler = root
    rate = getattr(sampler, "rate", None)
    if isinstance(rate, (int, float)) and 0.0 < float(rate) <= 1.0:
        return float(rate)
    return 1.0


def tracer_share(tracer: Any) -> float:
    """The share of prediction spans the tracer's sampler records (1 when not known)."""
    real = getattr(tracer, "_real_tracer", None) or tracer  # the global provider's proxy
    try:
        found = _shares.get(real)
    except TypeError:  # not weak-referenceable: compute every time
        return _sampler_share(getattr(real, "sampler", None))
    if found is None:
        found = _sampler_share(getattr(real, "sampler", None))
        if getattr(real, "sampler", None) is not None:
            _shares[real] = found
    return found


def weight(sample_rate: float, tracer: Any, rows: int = 1, kept: int = 1) -> float:
    """The weight of each row of a span: 1 / (recorded share of calls × kept share of rows)."""
    share = min(max(sample_rate, 0.0), 1.0) * tracer_share(tracer)
    if kept < rows:
        share *= kept / rows
    return 1.0 / share if share > 0.0 else 1.0
