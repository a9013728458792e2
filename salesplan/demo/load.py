"""``load_demo``: the generated demo loaded into a store (imports and the store's API), and the demo sign-in accounts."""

from __future__ import annotations

import hashlib
import tempfile
from datetime import date
from pathlib import Path

import pandas as pd

from salesplan.demo.build import generate
from salesplan.demo.pipeline import DEAL_STAGES
from salesplan.errors import SalesplanError

def load_demo(store, *, reps: int = 40, seed: int = 7, today: date | None = None) -> dict:
    """Generate the demo and load it: the actuals through the real import path; the people,
    holidays, targets and deal snapshots through the store's API as their imports would record
    them (the same rows, batches, file names and checksums; the demo's own files give those
    imports nothing to check; in a store holding other people, every file goes through the
    import); the plans through the store's plan API in one call (``add_plans``); then the
    sign-in accounts.

    Loading again changes nothing. Raises SalesplanError when an import rejects a row, and the
    store's errors (BadInput, NotAllowed, DatabaseLocked)."""
    from salesplan import imports
    from salesplan.principal import SYSTEM

    today = today or date.today()
    with tempfile.TemporaryDirectory(prefix="salesplan-demo-") as tmp:
        data = generate(Path(tmp), reps=reps, seed=seed, today=today)
        # an amount without a currency is in the organisation's base currency, if one is set
        base_currency = store.settings().base_currency or None
        reps_df = pd.read_csv(data.reps_csv, dtype=str, keep_default_na=False)
        # the demo's own files need no checks only where nothing else lives: in a store that
        # holds other people (the demo loaded onto real data), every file goes through the import
        own_files = _only_demo_people(store, reps_df)
        results: dict[str, tuple[int, int]] = {}  # kind -> (batch id, rows inserted)
        rows = {}
        for kind, path in data.files.items():
            if own_files and kind in _STORED_AS_IMPORTED:
                batch_id, counts = _STORED_AS_IMPORTED[kind](store, path, base_currency)
                results[kind] = (batch_id, counts.inserted)
            else:
                res = imports.import_file(store, kind, path, principal=SYSTEM, file_name=f"demo-{path.name}")
                if getattr(res, "rejected", 0):
                    raise SalesplanError(f"demo {kind} import rejected {res.rejected} rows")
                results[kind] = (res.batch_id, res.inserted)
            with path.open(encoding="utf-8") as fh:
                rows[kind] = sum(1 for _ in fh) - 1
        store.save_settings(SYSTEM, stage_probabilities=dict(DEAL_STAGES))
        rep_of = dict(zip(reps_df["email"].str.lower(), reps_df["rep_id"]))
        deal_batches = {
            day: _load_deals(store, path, day, rep_of, base_currency) if own_files else
            imports.import_file(store, "deals", path, principal=SYSTEM, file_name=f"demo-{path.name}", as_of=day).batch_id
            for day, path in data.deals.items()
        }
        # one transaction for every plan: the rows and audit lines of the plan API's calls one by
        # one (a plan loaded before is kept: loading again must not duplicate its items)
        added = store.add_plans(SYSTEM, data.plans)
    accounts = _demo_accounts(store, reps_df)
    return {
        "today": today.isoformat(),
        "fy": data.fy,
        "accounts": accounts,
        "reps": len(reps_df),
        "territories": int(reps_df.loc[reps_df["territory"] != "", "territory"].nunique()),
        "regions": int(reps_df.loc[reps_df["region"] != "", "region"].nunique()),
        "holidays": rows["holidays"],
        "target_rows": rows["targets"],
        "actual_rows": rows["actuals"],
        "plans": added["plans"],
        "plans_kept": added["kept"],
        "obstacles": added["obstacles"],
        "actions": added["actions"],
        "checkins": added["checkins"],
        "batches": {kind: batch_id for kind, (batch_id, _) in results.items()},
        "inserted": {kind: inserted for kind, (_, inserted) in results.items()},
        "deal_snapshots": {day.isoformat(): batch_id for day, batch_id in deal_batches.items()},
    }


def _only_demo_people(store, reps_df: pd.DataFrame) -> bool:
    """Whether every person the store holds is one of the demo's (same id and email): a new
    database, or one the demo was loaded into before."""
    held = store.rep_lookup()
    demo = set(zip(reps_df["rep_id"], reps_df["email"].str.lower()))
    return all((rep_id, str(email or "").lower()) in demo for rep_id, email in zip(held["rep_id"], held["email"]))


def _read_as_imported(path: Path, dates: list[str]) -> pd.DataFrame:
    """A demo file as the import's parser reads it: its line numbers (the header is line 1), an
    empty cell as null, the ``dates`` columns as dates."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame = frame.replace("", None)
    for column in dates:
        frame[column] = pd.to_datetime(frame[column], format="%Y-%m-%d")
    frame.insert(0, "line", range(2, len(frame) + 2))
    return frame


def _store_holidays(store, path: Path, currency: str | None):
    """The demo's holidays, recorded as the ``holidays`` import of ``path`` would record them: the
    demo wrote the file (ISO dates, no date listed twice), so the import's checks (a few tenths
    of a second of CPU) could find nothing. Returns (batch id, counts)."""
    from salesplan.principal import SYSTEM

    return store.apply_holidays(SYSTEM, _read_as_imported(path, ["date"]), file_name=f"demo-{path.name}",
                                sha256=hashlib.sha256(path.read_bytes()).hexdigest())


def _store_reps(store, path: Path, currency: str | None):
    """The demo's people, recorded as the ``reps`` import of ``path`` would record them: the demo
    wrote the file (unique ids and emails, every manager a rep of the file, no loop, ISO dates),
    so the import's checks could find nothing. Returns (batch id, counts)."""
    from salesplan.principal import SYSTEM

    frame = _read_as_imported(path, ["start_date", "end_date"])
    frame["effective_from"] = pd.NaT  # the file has no such column: the store's default applies
    return store.apply_reps(SYSTEM, frame, file_name=f"demo-{path.name}",
                            sha256=hashlib.sha256(path.read_bytes()).hexdigest())


def _store_targets(store, path: Path, currency: str | None):
    """The demo's monthly targets, recorded as the ``targets`` import of ``path`` would record
    them (its target cells in the same order): the demo wrote the file (every owner a demo rep or
    territory, every month once per owner and metric, amounts of 2 decimals), so the import's
    checks could find nothing. Returns (batch id, counts)."""
    from salesplan.principal import SYSTEM

    frame = pd.read_csv(path, dtype={"amount": float}, keep_default_na=False)
    cells = pd.DataFrame({
        "owner_type": frame["owner_type"], "owner_id": frame["owner"], "metric": frame["metric"],
        "month": pd.to_datetime(frame["month"], format="%Y-%m"), "currency": currency,
        "amount": frame["amount"], "reason": frame["reason"],
    }).sort_values(["owner_type", "owner_id", "metric", "month"], kind="stable", ignore_index=True)
    return store.apply_targets(SYSTEM, cells, file_name=f"demo-{path.name}",
                               sha256=hashlib.sha256(path.read_bytes()).hexdigest(), reason=None)


# the kinds whose demo file is handed to the store's API as its import would hand it (one
# signature: the holidays and people have no amounts, so no currency); the actuals always go
# through the real import (the file reading and checks of the upload that matters most)
_STORED_AS_IMPORTED = {"holidays": _store_holidays, "reps": _store_reps, "targets": _store_targets}


def _load_deals(store, path: Path, day: date, rep_of: dict[str, str], currency: str | None) -> int:
    """One weekly snapshot of the demo's open deals, recorded as ``deals`` import of ``path`` would
    record it (the same rows, batch, file name and checksum); returns its batch id.

    The import's parsing and checks cost ~0.4 s of CPU per file and could find nothing here: the
    demo wrote the file, every owner is a demo rep's email, every stage one of DEAL_STAGES (the
    probabilities ``load_demo`` has just saved) and the given probabilities are percentages.
    """
    from salesplan.principal import SYSTEM

    raw = path.read_bytes()
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    stage_probability = dict(DEAL_STAGES)
    given = frame["Probability (%)"]
    deals = pd.DataFrame({
        "line": range(2, len(frame) + 2),  # the file's line numbers: the header is line 1
        "deal_id": frame["Deal ID"],
        "rep_id": frame["Deal Owner"].str.lower().map(rep_of),
        "amount": frame["Amount"].astype(float),
        "probability": [round(float(g) / 100, 6) if g else stage_probability[s] for g, s in zip(given, frame["Deal Stage"])],
        "probability_source": ["file" if g else "stage" for g in given],
        "expected_close": pd.to_datetime(frame["Close Date"], format="%Y-%m-%d").dt.date,
        "stage": frame["Deal Stage"],
        "name": frame["Deal Name"],
        "customer": frame["Company"],
        "product": None,
        "currency": currency,
    })
    rejected = pd.DataFrame({"line": pd.Series([], dtype="int64"), "record": pd.Series([], dtype=str),
                             "problems": pd.Series([], dtype=str)})
    batch_id, _, _ = store.apply_deals(SYSTEM, deals, rejected, as_of=day, file_name=f"demo-{path.name}",
                                       sha256=hashlib.sha256(raw).hexdigest(), valid_only=False)
    return batch_id


DEMO_PASSWORD = "demo"


def _demo_accounts(store, reps_df: pd.DataFrame) -> int:
    """The demo sign-in accounts (password ``demo``), linked to the demo people by email.

    Only ``salesplan demo`` creates these; ``init`` never creates an account with a known password.
    """
    from salesplan.principal import SYSTEM

    by_email = dict(zip(reps_df["email"].str.lower(), reps_df["rep_id"]))
    wanted = [
        ("admin@demo.test", "admin", None),
        ("leader@demo.test", "leader", None),
        ("manager1@demo.test", "manager", by_email.get("manager1@demo.test")),
        ("rep1@demo.test", "rep", by_email.get("rep1@demo.test")),
        ("rep2@demo.test", "rep", by_email.get("rep2@demo.test")),
    ]
    existing = set(store.users(SYSTEM)["email"])
    created = 0
    for email, role, rep_id in wanted:
        if email not in existing:
            store.add_user(SYSTEM, email, role, rep_id=rep_id, password=DEMO_PASSWORD)
            created += 1
    return created
