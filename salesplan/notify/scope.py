"""Each account's engine inputs cut from the organisation's, read once per run.

``store.engine_inputs(principal)`` costs a dozen queries (~0.1 CPU-s on the demo, more for a
manager or a rep than for the whole organisation: every read resolves the team again), and a run
needs one per set of visible reps: each rep is a set of its own. What the store hands a principal
who may not read everything is the organisation's frames restricted to the reps it may see
(salesplan/storage/reads.py), so a run reads the organisation's inputs once and restricts them
here, frame by frame, the same way. tests/core/test_digest_scope.py checks, for every demo
account, that the result equals the store's own read, frame by frame.

The numbers are still computed on the restricted inputs, not cut from the organisation's report:
a rep alone is its own peer group, so its chance to reach (and with it whether it is too late)
differs from the one the organisation's report gives it (docs/numbers.md, "Chance to reach").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

import numpy as np
import pandas as pd

from salesplan.inputs import EngineInputs


class OrgInputs:
    """The organisation's engine inputs, and :meth:`restricted` views of them. The rows of each
    rep are found once per frame, so that a run over many accounts does not scan every frame
    once per account."""

    def __init__(self, inputs: EngineInputs):
        self.inputs = inputs
        self._rows: dict[str, dict[str, np.ndarray]] = {}

    def restricted(self, visible: Collection[str] | None, *, read_all: bool) -> EngineInputs:
        """The inputs as ``store.engine_inputs`` gives them to a principal who sees the reps
        ``visible`` (None: every rep; the organisation's inputs themselves) and may
        (``read_all``) or may not read every territory: the visible reps' rows of every
        rep-keyed frame, only rep targets, only the visible reps' territories unless
        ``read_all``, every holiday. Raises nothing."""
        inputs = self.inputs
        if visible is None:
            return inputs
        wanted = set(visible)
        reps = self._of("reps", wanted)
        territories = inputs.territories
        if not read_all:
            territories = territories[territories["territory"].isin(set(reps["territory"].dropna()))]
        return dataclasses.replace(
            inputs,
            reps=reps,
            territories=territories.reset_index(drop=True),
            targets=self._of("targets", wanted),
            daily_actuals=_categories_of(self._of("daily_actuals", wanted), wanted),
            open_actions=self._of("open_actions", wanted),
            deals=None if inputs.deals is None else self._of("deals", wanted),
            deal_scopes=None if inputs.deal_scopes is None else self._of("deal_scopes", wanted),
            rep_history=None if inputs.rep_history is None else self._of("rep_history", wanted),
        )

    def _of(self, name: str, reps: set[str]) -> pd.DataFrame:
        """The rows of these reps of the frame ``name``, in the frame's order (targets: of the
        reps as owners; other owners' targets are not visible to a restricted principal)."""
        frame: pd.DataFrame = getattr(self.inputs, name)
        if name not in self._rows:
            if name == "targets":
                keys = frame["owner_id"].where(frame["owner_type"] == "rep")
            else:
                keys = frame["rep_id"]
            if isinstance(keys.dtype, pd.CategoricalDtype):  # the actuals lines: coded already
                codes, uniques = keys.cat.codes.to_numpy(), keys.cat.categories
            else:
                codes, uniques = pd.factorize(keys, use_na_sentinel=True)
            order = np.argsort(codes, kind="stable")
            bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
            self._rows[name] = {str(rep): order[bounds[i]:bounds[i + 1]] for i, rep in enumerate(uniques)}
        rows = self._rows[name]
        found = [rows[rep] for rep in reps if rep in rows]
        positions = np.sort(np.concatenate(found)) if found else np.zeros(0, dtype=np.intp)
        return frame.take(positions).reset_index(drop=True)


def _categories_of(daily: pd.DataFrame, reps: set[str]) -> pd.DataFrame:
    """Categorical rep and territory columns of the actuals lines with the categories the store's
    own read of these reps gives them: the visible reps (in the organisation's order) and the
    territories their lines name."""
    for column in ("rep_id", "territory"):
        values = daily[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            categories = values.cat.categories
            daily[column] = (values.cat.set_categories(categories[categories.isin(reps)]) if column == "rep_id"
                             else values.cat.remove_unused_categories())
    return daily
