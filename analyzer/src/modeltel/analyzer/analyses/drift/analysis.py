"""The drift analysis of model versions over windows (:func:`drift_results`), and the reference
each version is compared with (:func:`find_drift_reference`).
"""

from __future__ import annotations

from collections.abc import Sequence

from modeltel.analyzer.analyses.drift.config import DriftConfig, parse_methods
from modeltel.analyzer.analyses.drift.engine import DriftEngine, Prepared
from modeltel.analyzer.base.analysis import Run, Target
from modeltel.analyzer.base.errors import NotFoundError
from modeltel.analyzer.base.results import Result
from modeltel.analyzer.base.sources import ProductionSource, ReferenceSource, Source
from modeltel.analyzer.base.store import Store
from modeltel.analyzer.base.windows import Window
from modeltel.analyzer.inputs import (
    reference as references,  # a module: it imports drift's profiles
)


def find_drift_reference(
    store: Store, model: str, version: str, name: str, reference_version: str | None = None
) -> Source:
    """The stored reference ``name`` of ``reference_version`` (default: of ``version``, else
    the model's latest of that name); NotFoundError saying how to upload one."""
    if reference_version is not None:
        found = references.find_reference(store, model, reference_version, name)
        if found is None or found.version != reference_version:
            raise NotFoundError(f"no reference {name!r} of {model} version {reference_version}")
        return ReferenceSource(model, reference_version, name)
    found = references.find_reference(store, model, version, name)
    if found is None:
        raise NotFoundError(
            f"model {model!r} has no reference {name!r}; upload one with "
            f"`modeltel reference upload {model} FILE --version {version}`"
        )
    return found


def drift_results(
    store: Store,
    targets: Sequence[Target],
    windows: Sequence[Window],
    settings: DriftConfig,
    run: Run,
    /,
    *,
    reference: str | None = None,
    reference_version: str | None = None,
    baseline_version: str | None = None,
    reference_window: Window | None = None,
    segment_by: str | None = None,
    methods: Sequence[str] | None = None,
) -> list[Result]:
    """Drift of each target's windows against its reference (see
    :meth:`modeltel.analyzer.orchestration.analyzer.Analyzer.drift` for the options).

    With ``reference_window`` the reference of every window is the production data of
    ``[reference_window.start, reference_window.end)`` of ``baseline_version`` (default: the
    same version), e.g. the period just before the windows. With ``segment_by`` (or the
    configured ``segment_by``) the records of each value of that feature (``feature=value``,
    ``feature=(missing)`` without one) come beside the version's own."""
    chosen = parse_methods(list(methods), "methods") if methods is not None else None
    engine = DriftEngine(store, run.state)
    results: list[Result] = []
    for model, version in targets:
        config = settings.for_model(model)
        segment = segment_by or config.segment_by
        rows = engine.current_rows(model, version, windows[0].start, windows[-1].end)
        # the version's own drift, then (with a segment feature) each of its values'
        for split in (None, segment) if segment else (None,):
            shared: Prepared | None = None
            if reference_window is not None:
                source: Source = ProductionSource(
                    model,
                    baseline_version or version,
                    reference_window.start,
                    reference_window.end,
                )
                shared = engine.prepare(source, config, current_rows=rows, segment_by=split)
            elif baseline_version is None:
                source = find_drift_reference(
                    store, model, version, reference or config.reference, reference_version
                )
                shared = engine.prepare(source, config, current_rows=rows, segment_by=split)
            for window in windows:
                prepared = shared or engine.prepare(
                    ProductionSource(model, baseline_version or "", window.start, window.end),
                    config,
                    current_rows=rows,
                    segment_by=split,
                )
                current = ProductionSource(model, version, window.start, window.end)
                results += engine.run(prepared, current, config, methods=chosen, segment_by=split)
    return results
