"""What an analysis is: the interface every entry of :data:`modeltel.analyzer.analyses.ANALYSES`
implements, and the catalogue of the metrics it produces.

An :class:`Analysis` declares

- ``kind``: the ``kind`` of its result records (``drift``, ``service`` …) and its key in the
  registry;
- ``settings``: its configuration section, a :class:`~modeltel.analyzer.base.config.Section`
  (validated once, ``models.<model>`` overriding any key for one model);
- ``compute``: a :class:`Compute`, the results of some model versions over windows;
- ``metrics``: its catalogue, one :class:`MetricSpec` per metric its records carry;
- ``reference_stored`` (optional): called with the store and the
  :class:`~modeltel.analyzer.base.sources.ReferenceSource` each time a reference upload is
  stored (drift keeps the reference's profiles, so its first run after an upload reads them);
- ``open_metric`` (optional): the catalogue entry of the metrics it names at run time (custom
  metrics take their names from the configuration);
- ``row_request`` (optional): for an analysis aggregating over one row per prediction, the
  :class:`~modeltel.analyzer.base.row_scan.RowRequest` of a model (None when nothing is
  configured for it), so that one scan of a version's rows serves every such analysis of a
  cycle (:func:`~modeltel.analyzer.base.row_scan.rows_for`);
- ``validate`` (optional): called with the store, its loaded settings and the Analyzer's
  :class:`Run` (what it finds may be kept in ``run.state`` for the computations) when an
  Analyzer starts; raises :class:`~modeltel.analyzer.base.errors.ConfigError` for settings the store
  refuses (a custom metric's SQL).

The Analyzer, the analysis loop, ``/metrics``, the health score, the API, the web page and the
reports find every analysis in the registry and read these declarations; none of them names
an analysis's metrics itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from modeltel.analyzer.base.config import Section
from modeltel.analyzer.base.gauges import Gauge
from modeltel.analyzer.base.results import Result
from modeltel.analyzer.base.row_scan import RowRequest, RowScans
from modeltel.analyzer.base.sources import ReferenceSource
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window

Target = tuple[str, str]
"""A model version: (model, version)."""


@dataclass
class Run:
    """What a computation may use besides its inputs."""

    state: dict[Any, Any] = field(default_factory=dict)
    """Kept between the computations of one Analyzer (reference counts, fitted models …)."""
    storing: bool = True
    """The results will be written to ``ml_results``: an analysis may add earlier windows
    whose inputs changed since it last stored them (late labels)."""
    scans: RowScans = field(default_factory=RowScans)
    """The Analyzer's scans of prediction rows, shared by its analyses."""


Compute = Callable[..., list[Result]]
"""``compute(store, targets, windows, settings, run, **options) -> list[Result]``: the
results of every target over ``windows`` (aligned, consecutive, oldest first), with
``settings`` the analysis's loaded :class:`Section` (``settings.for_model(model)`` is what a
model runs with) and ``run`` a :class:`Run`. Raises
:class:`~modeltel.analyzer.base.errors.NotFoundError` when there is nothing to compute yet (no
reference, no attributions). ``options`` are the analysis's own keyword arguments (drift's
``reference``, performance's ``sliding`` …)."""


@dataclass(frozen=True)
class MetricSpec:
    """One metric of an analysis: what its records mean and how they are published.

    ``name`` is the records' ``metric`` (for drift, whose records carry no metric, their
    ``method``: see :func:`metric_name`).
    """

    name: str
    gauge: Gauge | None = None
    """The gauge its value is published as (None: not published)."""
    higher_is_better: bool | None = None
    """True when a larger value is better, False when a smaller one is, None when neither."""
    bounds: tuple[float | None, float | None] = (None, None)
    """The range its value can take (None: unbounded on that side)."""
    component: str | None = None
    """The health-score component it counts toward (``drift``, ``performance``, ``service``
    or ``quality``; see :mod:`modeltel.analyzer.orchestration.health`), None when it does
    not count."""
    alarm: str = ""
    """What the health score says when a record of it that names no feature is bad."""
    attributes: Mapping[str, str] = field(default_factory=dict, hash=False)
    """Fixed attributes of its gauges (``quantile`` of a latency percentile)."""
    threshold_gauge: Gauge | None = None
    """The gauge its ``threshold`` is published as."""
    verdict_gauge: Gauge | None = None
    """The gauge of its decision: 1 when the status is drift or alert, 0 when ok or warning."""

    @property
    def unit(self) -> str:
        """UCUM unit of the value ("" when dimensionless)."""
        return self.gauge.unit if self.gauge is not None else ""

    @property
    def gauges(self) -> tuple[Gauge, ...]:
        return tuple(
            g for g in (self.gauge, self.verdict_gauge, self.threshold_gauge) if g is not None
        )


@dataclass(frozen=True)
class Analysis:
    """One analysis (see the module docstring)."""

    kind: str
    title: str
    """What it finds, in a few words (API summary, page heading)."""
    settings: type[Section]
    compute: Compute
    metrics: tuple[MetricSpec, ...]
    reference_stored: Callable[[Store, ReferenceSource], None] | None = None
    open_metric: MetricSpec | None = None
    validate: Callable[[Store, Any, Run], None] | None = None
    row_request: Callable[[Store, Any, Run, str], RowRequest | None] | None = None

    @cached_property
    def _by_name(self) -> dict[str, MetricSpec]:
        return {m.name: m for m in self.metrics}

    def metric(self, name: str) -> MetricSpec | None:
        """The catalogue entry of ``name`` (its ``open_metric`` for a name it does not
        declare; None without one)."""
        return self._by_name.get(name, self.open_metric)

    @property
    def gauges(self) -> tuple[Gauge, ...]:
        """Its gauges, each once, in catalogue order."""
        specs = (*self.metrics, self.open_metric) if self.open_metric else self.metrics
        return tuple(dict.fromkeys(g for m in specs for g in m.gauges))


def metric_name(record: Mapping[str, Any] | Result) -> str:
    """The catalogue name of a record's number: its ``metric``, else its ``method``."""
    return str(record.get("metric") or record.get("method") or "")


def per_version(compute_one: Callable[..., list[Result]]) -> Compute:
    """A :class:`Compute` calling ``compute_one(store, model, version, windows, settings,
    **options)`` for each target in turn, with the settings of its model."""

    def compute(
        store: Store,
        targets: Sequence[Target],
        windows: Sequence[Window],
        settings: Any,
        run: Run,
        /,
        **options: Any,
    ) -> list[Result]:
        results: list[Result] = []
        for model, version in targets:
            config = settings.for_model(model)
            results += compute_one(store, model, version, windows, config, **options)
        return results

    return compute
