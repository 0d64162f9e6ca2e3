"""The drift methods, their default thresholds, and the size-aware default choice.

============== ======= =========== =========== ==================================
method         kind    numeric     categorical default threshold (drift when …)
============== ======= =========== =========== ==================================
ks             p-value yes         no          p < 0.05
chi_squared    p-value binned      yes         p < 0.05
psi            score   binned      yes         ≥ 0.25 (warning ≥ 0.1)
jensen_shannon score   binned      yes         ≥ 0.1
wasserstein    score   yes         no          ≥ 0.1 (normed by reference std)
kl_divergence  score   binned      yes         ≥ 0.1
hellinger      score   binned      yes         ≥ 0.1
total_variation score  binned      yes         ≥ 0.1
new_category_share score no        yes         ≥ 0.05
============== ======= =========== =========== ==================================

"binned": numeric features are compared over reference-quantile bins (``drift.bins``, 10 by
default), or over their distinct values when there are no more of them than bins.

The default (``auto``) follows Evidently's data-drift preset: with a reference of at most
``small_reference`` (1,000) rows, numeric features with more than ``few_values`` (5)
distinct values get ``ks`` and the others ``chi_squared`` (on two categories our
uncorrected chi-squared p-value equals Evidently's two-proportion z-test); above that,
``wasserstein`` (normed) for numeric features and ``jensen_shannon`` for the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from modeltel.analyzer.base.results import Status


@dataclass(frozen=True)
class Method:
    """A drift method: a p-value (drift when small) or a distance (drift when large), what it
    applies to, its default thresholds and the range of its score."""

    name: str
    pvalue: bool
    numeric: bool
    categorical: bool
    threshold: float
    warning: float | None = None
    bounds: tuple[float, float | None] = (0.0, None)


UNIT = (0.0, 1.0)
"""Scores between 0 and 1 (p-values, shares, Hellinger, total variation)."""

METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("ks", pvalue=True, numeric=True, categorical=False, threshold=0.05, bounds=UNIT),
        Method(
            "chi_squared", pvalue=True, numeric=True, categorical=True, threshold=0.05, bounds=UNIT
        ),
        Method("psi", pvalue=False, numeric=True, categorical=True, threshold=0.25, warning=0.1),
        Method(
            "jensen_shannon",
            pvalue=False,
            numeric=True,
            categorical=True,
            threshold=0.1,
            bounds=(0.0, math.sqrt(math.log(2))),
        ),
        Method("wasserstein", pvalue=False, numeric=True, categorical=False, threshold=0.1),
        Method("kl_divergence", pvalue=False, numeric=True, categorical=True, threshold=0.1),
        Method(
            "hellinger", pvalue=False, numeric=True, categorical=True, threshold=0.1, bounds=UNIT
        ),
        Method(
            "total_variation",
            pvalue=False,
            numeric=True,
            categorical=True,
            threshold=0.1,
            bounds=UNIT,
        ),
        Method(
            "new_category_share",
            pvalue=False,
            numeric=False,
            categorical=True,
            threshold=0.05,
            bounds=UNIT,
        ),
    )
}


def auto_method(
    categorical: bool,
    reference_size: int,
    distinct: int,
    *,
    small_reference: int = 1000,
    few_values: int = 5,
) -> tuple[str, str]:
    """The default method for a column and the reason, in words."""
    discrete = categorical or distinct <= few_values
    if categorical:
        kind = "categorical"
    elif discrete:
        kind = f"numeric with ≤ {few_values} distinct values"
    else:
        kind = f"numeric with > {few_values} distinct values"
    if reference_size <= small_reference:
        method = "chi_squared" if discrete else "ks"
        return method, f"{kind}, reference of {reference_size} ≤ {small_reference} rows"
    method = "jensen_shannon" if discrete else "wasserstein"
    return method, f"{kind}, reference of {reference_size} > {small_reference} rows"


def applies(method: str, categorical: bool) -> bool:
    spec = METHODS[method]
    return spec.categorical if categorical else spec.numeric


def resolve(
    requested: tuple[str, ...],
    categorical: bool,
    reference_size: int,
    distinct: int,
    *,
    small_reference: int,
    few_values: int,
) -> list[tuple[str, str]]:
    """Methods to compute for a column as (method, why); the first one is its verdict."""
    out: list[tuple[str, str]] = []
    for name in requested:
        if name == "auto":
            method, why = auto_method(
                categorical,
                reference_size,
                distinct,
                small_reference=small_reference,
                few_values=few_values,
            )
            candidates = [(method, f"auto: {why}")]
        elif name == "all":
            candidates = [(m, "all methods") for m in METHODS if applies(m, categorical)]
        else:
            candidates = [(name, "configured")]
        for method, why in candidates:
            if method not in (m for m, _ in out):
                out.append((method, why))
    return out


def status(method: str, value: float, threshold: float, *, warning: float | None = None) -> Status:
    """``drift``/``warning``/``ok`` for a score, ``no_data`` for NaN.

    p-value methods drift when value < threshold (≤ for a corrected threshold is applied by
    the caller); scores drift when value ≥ threshold and warn from ``warning``.
    """
    if value is None or math.isnan(value):
        return Status.NO_DATA
    if METHODS[method].pvalue:
        return Status.DRIFT if value < threshold else Status.OK
    if value >= threshold:
        return Status.DRIFT
    if warning is not None and warning < threshold and value >= warning:
        return Status.WARNING
    return Status.OK
