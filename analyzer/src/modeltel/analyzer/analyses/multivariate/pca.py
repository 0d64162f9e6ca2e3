"""PCA reconstruction error: the fit (numpy, on a reference sample) and its application as SQL.

Fit: each feature is standardised with the mean and population standard deviation of its
present values in the sample; a missing value becomes 0 (mean imputation). The
standardised matrix Z has zero column means, so its SVD is a PCA: ``Z = U S Vᵀ``. The model
keeps the k leading components, the fewest explaining ``variance`` of the total (NannyML's
default 0.65), or a fixed ``components``; k < d so that something is left to reconstruct.

A row's reconstruction error is ``‖z − V_k V_kᵀ z‖²``, the squared distance between its
standardised features and their projection on the kept components. With the orthonormal
basis V it equals ``‖z‖² − Σ_{j≤k} (v_j·z)²`` and also ``Σ_{j>k} (v_j·z)²``; the SQL uses
whichever needs fewer sums (k + 1, or d − k when the basis is complete).

Applied in ClickHouse to the long tables (``ml_features``, ``ml_reference``): one branch per
feature (``feature = f``: a primary-key range, every constant of that feature known) emits
``z`` and its products with the loadings; ``GROUP BY`` prediction sums them, i.e. pivots
and multiplies by the component matrix in one pass. Predictions are grouped on
``cityHash64(prediction_id)`` (a 64-bit key groups far faster than the id text; two ids of a
window collide with probability about n²/2⁶⁵, 3·10⁻⁸ for a million predictions).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from modeltel.analyzer.base.errors import NotFoundError
from modeltel.analyzer.base.query import Params


@dataclass(frozen=True)
class PcaModel:
    """A fitted reconstruction model: d features, k kept components."""

    features: tuple[str, ...]
    means: np.ndarray  # (d,)
    stds: np.ndarray  # (d,)
    basis: np.ndarray  # (d, r) orthonormal columns: the principal axes, leading first
    k: int
    explained: float
    """Share of the sample's variance the k kept components explain."""
    sample_rows: int

    @property
    def components(self) -> np.ndarray:
        """The kept principal axes, (d, k)."""
        return self.basis[:, : self.k]

    @property
    def residual_form(self) -> bool:
        """True when the error is summed over the discarded axes (fewer sums)."""
        d = len(self.features)
        return self.basis.shape[1] == d and d - self.k < self.k + 1

    def standardise(self, matrix: np.ndarray) -> np.ndarray:
        """Rows × features (NaN or ±inf for missing) → z, missing as 0."""
        z = (np.asarray(matrix, dtype=float) - self.means) / self.stds
        z[~np.isfinite(z)] = 0.0
        return z

    def residuals(self, matrix: np.ndarray) -> np.ndarray:
        """Per-row, per-feature residuals ``z − V_k V_kᵀ z``."""
        z = self.standardise(matrix)
        v = self.components
        return z - (z @ v) @ v.T

    def errors(self, matrix: np.ndarray) -> np.ndarray:
        """Reconstruction error of each row (the numpy reference of the SQL)."""
        return (self.residuals(matrix) ** 2).sum(axis=1)


def fit(
    matrix: np.ndarray,
    features: Sequence[str],
    *,
    variance: float = 0.65,
    components: int | None = None,
) -> PcaModel:
    """Fit on a sample (rows × features, NaN for missing); NotFoundError when it cannot be."""
    x = np.asarray(matrix, dtype=float).copy()
    x[~np.isfinite(x)] = np.nan
    names = list(features)
    present = ~np.isnan(x)
    counts = present.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, np.nansum(x, axis=0) / np.maximum(counts, 1), np.nan)
        centred = np.where(present, x - means, 0.0)
        stds = np.sqrt((centred**2).sum(axis=0) / np.maximum(counts, 1))
    usable = (counts >= 2) & np.isfinite(stds) & (stds > 1e-12 * np.maximum(np.abs(means), 1.0))
    if usable.sum() < 2:
        raise NotFoundError(
            "the reference has fewer than two numerical features that vary; "
            "multivariate drift needs at least two"
        )
    names = [n for n, ok in zip(names, usable, strict=True) if ok]
    means, stds, centred = means[usable], stds[usable], centred[:, usable]
    rows = int(x.shape[0])
    d = len(names)
    if rows < d + 1:
        raise NotFoundError(f"the reference sample has {rows} rows; {d} features need more")
    z = centred / stds
    _, singular, vt = np.linalg.svd(z, full_matrices=False)
    share = singular**2 / max(float((singular**2).sum()), 1e-300)
    if components is not None:
        k = min(components, d - 1)
    else:
        k = int(np.searchsorted(np.cumsum(share), variance - 1e-12) + 1)
        k = max(1, min(k, d - 1))
    # a deterministic sign per axis (largest loading positive): same model, same SQL
    basis = vt.T.copy()
    signs = np.sign(basis[np.argmax(np.abs(basis), axis=0), np.arange(basis.shape[1])])
    basis *= np.where(signs == 0, 1.0, signs)
    return PcaModel(
        features=tuple(names),
        means=means,
        stds=stds,
        basis=basis,
        k=k,
        explained=float(share[:k].sum()),
        sample_rows=rows,
    )


def _lit(value: float) -> str:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"not a finite number: {value!r}")
    return f"({number!r})"


def scored_sql(
    model: PcaModel,
    params: Params,
    *,
    table: str,
    where: str,
    ident: str,
    key: str | None = None,
    key_of_ident: str = "toInt64(0)",
) -> str:
    """SQL with one row per scored entity: ``w`` (its window or chunk), ``h`` (the ``ident``
    expression) and ``err``, the reconstruction error.

    ``table`` is ``ml_features`` or ``ml_reference`` (long: feature, value_num), ``where``
    selects its rows (without the feature) and ``ident`` names an entity (prediction or
    reference row). ``key``, a per-row expression, splits entities into windows (grouping
    on ``(w, h)``); without it, entities are grouped on ``h`` alone (a 64-bit key: about
    twice as fast) and ``w`` is ``key_of_ident``, an expression of ``h``. Entities without
    any present feature have no row.
    """
    residual = model.residual_form
    axes = model.basis[:, model.k :] if residual else model.components
    window = f"{key} AS w, " if key is not None else ""
    branches = []
    for i, feature in enumerate(model.features):
        products = ", ".join(f"z * {_lit(axes[i, j])} AS c{j}" for j in range(axes.shape[1]))
        branches.append(
            f"SELECT {window}{ident} AS h, "
            f"(assumeNotNull(value_num) - {_lit(model.means[i])}) / {_lit(model.stds[i])} AS z, "
            f"{products} FROM {table} WHERE {where} "
            f"AND feature = {params.add(feature, 'String')} "
            "AND value_num IS NOT NULL AND isFinite(assumeNotNull(value_num))"
        )
    squares = " + ".join(f"pow(sum(c{j}), 2)" for j in range(axes.shape[1]))
    err = squares if residual else f"sum(z * z) - ({squares})"
    union = "\n UNION ALL ".join(branches)
    if key is not None:
        return f"SELECT w, h, greatest({err}, 0) AS err FROM ({union}) GROUP BY w, h"
    return f"SELECT {key_of_ident} AS w, h, greatest({err}, 0) AS err FROM ({union}) GROUP BY h"
