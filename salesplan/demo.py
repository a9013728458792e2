"""The demo organisation: what a first visitor of the dashboard sees.

``generate`` writes the four import files of docs/files.md (reps, targets, holidays, actuals) and
weekly snapshots of open deals (docs/pipeline.md) for a fictitious European sales organisation, and returns the written plans as plain Python data.
``load_demo`` loads all of it through the real import path and the store's plan API.

The organisation (default 40 people): a VP, 4 regional heads (North, West, South, East), 12
territory managers (player-coaches with a smaller personal quota) and their sellers. The manager
chain is seller -> territory manager -> regional head -> VP. Only people with a territory carry a
quota; the VP and the regional heads have no territory, no targets and no actuals.

The data cover two complete fiscal years plus the current one up to and including ``today``.
Targets are monthly, seasonal (Q4 heavy, summer dip) for revenue and profit. The story of the
current fiscal year (year-to-date pace is pinned exactly, whatever the seed):

* ``rep2@demo.test`` is well ahead; ``rep1@demo.test`` (same team, ``manager1@demo.test``) has
  been sliding behind since spring and has a point of no return coming up;
* a few more reps are behind or at risk, one rep sells on plan but discounts away the profit;
* one rep lost the key account early in the year and is hopelessly behind;
* three new hires start inside the current fiscal year (one of them after ``today``);
  one seller left during the previous year;
* behind reps have plans whose open actions do not cover their gap; on-track ones are fine.
* every active quota carrier has open deals in four weekly snapshots (the last dated ``today``),
  at stages whose probabilities the demo sets; some deals are overdue or slipped; on-track reps
  carry about three times their gap, rep1's pipeline is thin and drying up, the hopeless rep's
  nearly empty.

Everything is deterministic: the same (reps, seed, today) gives byte-identical files.
Generation is vectorised per rep (no loop per row or day).
"""

from __future__ import annotations

import calendar
import tempfile
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from salesplan.errors import SalesplanError

__all__ = ["DemoData", "generate", "load_demo", "MIN_REPS", "MAX_REPS"]

MIN_REPS = 10
MAX_REPS = 2000
FY_START_MONTH = 1  # the demo assumes the default settings: FY = calendar year, Mon-Fri
WEEKMASK = "1111100"
DOMAIN = "demo.test"

# Share of the annual target per fiscal month: Q4 heavy, summer dip.
SEASONALITY = np.array([0.070, 0.075, 0.090, 0.080, 0.085, 0.085, 0.065, 0.055, 0.090, 0.095, 0.100, 0.110])
SEASONALITY = SEASONALITY / SEASONALITY.sum()

REGIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("North", ("Nordics", "UK & Ireland", "Baltics")),
    ("West", ("Benelux", "France", "DACH")),
    ("South", ("Iberia", "Italy", "Adriatic")),
    ("East", ("Poland", "Central Europe", "Balkans")),
)

COMPANY_SUFFIX = {
    "Nordics": "AB", "UK & Ireland": "Ltd", "Baltics": "OÜ", "Benelux": "B.V.", "France": "SAS",
    "DACH": "GmbH", "Iberia": "S.L.", "Italy": "S.p.A.", "Adriatic": "d.o.o.", "Poland": "Sp. z o.o.",
    "Central Europe": "s.r.o.", "Balkans": "S.R.L.",
}

FIRST_NAMES = (
    "Ava", "Lars", "Ingrid", "Mikael", "Sofia", "Jonas", "Freya", "Erik", "Astrid", "Niklas", "Emma",
    "Pieter", "Sanne", "Lotte", "Jan", "Camille", "Louis", "Chloé", "Mathieu", "Léa", "Hannah", "Lukas",
    "Mia", "Felix", "Lena", "Jakob", "Lucía", "Javier", "Carmen", "Diego", "Inês", "João", "Giulia",
    "Marco", "Chiara", "Luca", "Francesca", "Matteo", "Zofia", "Piotr", "Agnieszka", "Tomasz", "Tereza",
    "Ondřej", "Petra", "Marek", "Ana", "Ivan", "Mateja", "Luka", "Elena", "Andrei", "Ioana", "Oliver",
    "Grace", "Liam", "Siobhán", "Connor", "Aoife", "Martin", "Laura", "Daniel", "Nina", "Sven",
)
LAST_NAMES = (
    "Lindqvist", "Andersen", "Virtanen", "Johansson", "Nyberg", "Halvorsen", "Berg", "Dahl", "Kask",
    "Ozola", "Kazlauskas", "Murphy", "O'Brien", "Walsh", "Clarke", "Patel", "Hughes", "de Vries",
    "Janssen", "Peeters", "Bakker", "Dubois", "Lefèvre", "Moreau", "Girard", "Müller", "Schneider",
    "Fischer", "Weber", "Huber", "Keller", "García", "Fernández", "López", "Martín", "Silva", "Costa",
    "Rossi", "Russo", "Bianchi", "Romano", "Conti", "Kowalski", "Nowak", "Zieliński", "Novák",
    "Dvořák", "Horváth", "Kovačić", "Horvat", "Popescu", "Ionescu", "Dimitrov", "Petrov", "Varga",
    "Szabó", "Eriksen", "Holm", "Sørensen", "Brennan", "Lund", "Marin", "Vidal", "Ferrari",
)

CUSTOMER_STEMS = (
    "Aurora", "Nordlys", "Vega", "Polaris", "Helix", "Kestrel", "Fjord", "Alder", "Beacon", "Cobalt",
    "Delta", "Ember", "Falcon", "Granite", "Harbor", "Iris", "Juniper", "Krona", "Lumen", "Meridian",
    "Nova", "Orchid", "Pioneer", "Quartz", "Riviera", "Summit", "Tundra", "Unity", "Vertex", "Willow",
    "Zenith", "Atlas", "Borealis", "Cedar", "Dune", "Estuary", "Flint", "Glacier", "Horizon", "Sierra",
)
CUSTOMER_INDUSTRIES = (
    "Logistics", "Foods", "Retail", "Pharma", "Energy", "Systems", "Textiles", "Marine", "Automotive",
    "Media", "Construction", "Healthcare", "Packaging", "Agritech", "Hospitality",
)

# (name, relative price, gross margin, weight in the mix)
PRODUCTS = (
    ("Cloud Platform - Standard licence", 12000.0, 0.82, 0.12),
    ("Cloud Platform - Enterprise licence", 38000.0, 0.80, 0.03),
    ("Analytics add-on", 6500.0, 0.85, 0.10),
    ("Edge Gateway G2", 2400.0, 0.22, 0.16),
    ("Sensor kit (10 pcs)", 900.0, 0.30, 0.18),
    ("Implementation services", 4200.0, 0.35, 0.13),
    ("Training workshop", 3200.0, 0.55, 0.07),
    ("Premium support (annual)", 5200.0, 0.70, 0.09),
    ("Data migration package", 8800.0, 0.40, 0.05),
    ("Integration connector", 2900.0, 0.65, 0.07),
)
PRODUCT_NAMES = np.array([p[0] for p in PRODUCTS], dtype=object)
PRODUCT_PRICE = np.array([p[1] for p in PRODUCTS])
PRODUCT_MARGIN = np.array([p[2] for p in PRODUCTS])
PRODUCT_WEIGHT = np.array([p[3] for p in PRODUCTS]) / sum(p[3] for p in PRODUCTS)

RETURN_LINE_SHARE = 0.03  # share of sale lines that are later (partly) credited
RETURN_GROSS_UP = 1.0 / (1.0 - RETURN_LINE_SHARE * 0.75)  # mean credited fraction is 0.75
WEEKEND_ORDER_SHARE = 0.006  # share of Friday orders booked on the Saturday


@dataclass
class DemoData:
    """What ``generate`` wrote: the four import files, the as-of ``today`` and the plans."""

    out_dir: Path
    reps_csv: Path
    targets_csv: Path
    holidays_csv: Path
    actuals_csv: Path
    today: date
    fy: int
    plans: list[dict[str, Any]]
    story: dict[str, str] = field(default_factory=dict)  # rep_id -> role in the story
    deals: dict[date, Path] = field(default_factory=dict)  # snapshot date -> open-deals file, oldest first

    @property
    def files(self) -> dict[str, Path]:
        """The import files in load order."""
        return {
            "holidays": self.holidays_csv,
            "reps": self.reps_csv,
            "targets": self.targets_csv,
            "actuals": self.actuals_csv,
        }


# --------------------------------------------------------------------------------------------
# calendar helpers


def _fy_of(d: date) -> int:
    return d.year + (1 if FY_START_MONTH != 1 and d.month >= FY_START_MONTH else 0)


def _fy_start(fy: int) -> date:
    return date(fy if FY_START_MONTH == 1 else fy - 1, FY_START_MONTH, 1)


def _add_months(d: date, k: int) -> date:
    m = d.month - 1 + k
    return date(d.year + m // 12, m % 12 + 1, 1)


def _month_end(d: date) -> date:
    return date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])


def _easter(y: int) -> date:
    a, b, c = y % 19, y // 100, y % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month = (h + l_ - 7 * m + 114) // 31
    day = (h + l_ - 7 * m + 114) % 31 + 1
    return date(y, month, day)


def _nth_weekday(y: int, m: int, weekday: int, n: int) -> date:
    """n-th (1-based) given weekday of a month; n = -1 for the last one."""
    if n > 0:
        first = date(y, m, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(y, m, calendar.monthrange(y, m)[1])
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _fixed(m: int, d: int):
    return lambda y: date(y, m, d)


def _easter_plus(k: int):
    return lambda y: _easter(y) + timedelta(days=k)


ORG_HOLIDAYS = (
    ("New Year's Day", _fixed(1, 1)),
    ("Good Friday", _easter_plus(-2)),
    ("Easter Monday", _easter_plus(1)),
    ("Christmas Day", _fixed(12, 25)),
    ("Boxing Day", _fixed(12, 26)),
)
LABOUR_DAY = ("Labour Day", _fixed(5, 1))
TERRITORY_HOLIDAYS = {
    "Nordics": (("Ascension Day", _easter_plus(39)),
                ("Midsummer Eve", lambda y: date(y, 6, 19) + timedelta(days=(4 - date(y, 6, 19).weekday()) % 7))),
    "UK & Ireland": (("Early May bank holiday", lambda y: _nth_weekday(y, 5, 0, 1)),
                     ("Spring bank holiday", lambda y: _nth_weekday(y, 5, 0, -1)),
                     ("Summer bank holiday", lambda y: _nth_weekday(y, 8, 0, -1))),
    "Baltics": (("Midsummer Eve", _fixed(6, 23)), ("Midsummer Day", _fixed(6, 24))),
    "Benelux": (("King's Day", _fixed(4, 27)), ("Ascension Day", _easter_plus(39)),
                ("Whit Monday", _easter_plus(50))),
    "France": (LABOUR_DAY, ("Bastille Day", _fixed(7, 14)), ("Armistice Day", _fixed(11, 11))),
    "DACH": (LABOUR_DAY, ("Whit Monday", _easter_plus(50)), ("German Unity Day", _fixed(10, 3))),
    "Iberia": (LABOUR_DAY, ("Assumption Day", _fixed(8, 15)), ("Immaculate Conception", _fixed(12, 8))),
    "Italy": (("Liberation Day", _fixed(4, 25)), ("Republic Day", _fixed(6, 2)), ("Ferragosto", _fixed(8, 15))),
    "Adriatic": (LABOUR_DAY, ("Statehood Day", _fixed(5, 30)), ("Assumption Day", _fixed(8, 15))),
    "Poland": (LABOUR_DAY, ("Constitution Day", _fixed(5, 3)), ("Independence Day", _fixed(11, 11))),
    "Central Europe": (LABOUR_DAY, ("Saints Cyril and Methodius Day", _fixed(7, 5)),
                       ("Statehood Day", _fixed(9, 28))),
    "Balkans": (LABOUR_DAY, ("Unification Day", _fixed(12, 1))),
}


def _d64(d: date) -> np.datetime64:
    return np.datetime64(d, "D")


def _ascii_local(text: str) -> str:
    letters: dict[str, str | int | None] = {"ø": "o", "Ø": "O", "æ": "ae", "ß": "ss", "ł": "l", "đ": "d"}
    text = text.translate(str.maketrans(letters))
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _money(values: np.ndarray) -> np.ndarray:
    """Format amounts with 2 dp (no negative zero)."""
    return np.char.mod("%.2f", np.round(np.asarray(values, dtype=float), 2) + 0.0)


def _round_to(x: float, step: float) -> float:
    return float(round(x / step) * step)


# --------------------------------------------------------------------------------------------
# the organisation


def _org_shape(n: int) -> tuple[int, int]:
    if not MIN_REPS <= n <= MAX_REPS:
        raise ValueError(f"reps must be between {MIN_REPS} and {MAX_REPS}, got {n}")
    n_regions = 4 if n >= 30 else 2 if n >= 16 else 1
    n_terr = min(3 * n_regions, max(n_regions, (n - 1 - n_regions) * 2 // 5))
    return n_regions, n_terr


def _people(n: int, seed: int, fy: int, today: date) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Build the people table (one row per person) and the (territory, region) list."""
    rng = np.random.default_rng([seed, 1])
    n_regions, n_terr = _org_shape(n)
    territories: list[tuple[str, str]] = []
    for i in range(n_regions):
        k = n_terr // n_regions + (1 if i < n_terr % n_regions else 0)
        territories += [(t, REGIONS[i][0]) for t in REGIONS[i][1][:k]]
    n_sellers = n - 1 - n_regions - n_terr
    per_terr = [n_sellers // n_terr + (1 if j < n_sellers % n_terr else 0) for j in range(n_terr)]

    rows: list[dict[str, Any]] = [dict(role="vp", territory="", region="", manager_idx=-1)]
    for r in range(n_regions):
        region = REGIONS[r][0]
        head = len(rows)
        rows.append(dict(role="head", territory="", region=region, manager_idx=0))
        for j, (terr, reg) in enumerate(territories):
            if reg != region:
                continue
            mgr = len(rows)
            rows.append(dict(role="manager", territory=terr, region=region, manager_idx=head))
            rows += [dict(role="seller", territory=terr, region=region, manager_idx=mgr)
                     for _ in range(per_terr[j])]
    people = pd.DataFrame(rows)
    width = max(3, len(str(n)))
    people["rep_id"] = [f"R{i + 1:0{width}d}" for i in range(n)]
    people["manager"] = [people["rep_id"][m] if m >= 0 else "" for m in people["manager_idx"]]

    # names: unique (first, last) pairs; emails first.last@demo.test, deduplicated
    name_ids = rng.choice(len(FIRST_NAMES) * len(LAST_NAMES), size=n, replace=False)
    firsts = [FIRST_NAMES[p // len(LAST_NAMES)] for p in name_ids]
    lasts = [LAST_NAMES[p % len(LAST_NAMES)] for p in name_ids]
    people["name"] = [f"{f} {l_}" for f, l_ in zip(firsts, lasts)]
    emails, seen = [], set()
    for f, l_ in zip(firsts, lasts):
        base = f"{_ascii_local(f)}.{_ascii_local(l_)}"
        local, k = base, 2
        while local in seen:
            local, k = f"{base}{k}", k + 1
        seen.add(local)
        emails.append(f"{local}@{DOMAIN}")
    people["email"] = emails

    # the sign-in demo accounts: manager1 and two sellers of the first territory
    first_terr = territories[0][0]
    m1 = people.index[(people.role == "manager") & (people.territory == first_terr)][0]
    team = people.index[(people.role == "seller") & (people.territory == first_terr)]
    rep1, rep2 = team[0], team[1]
    people.loc[m1, "email"] = f"manager1@{DOMAIN}"
    people.loc[rep1, "email"] = f"rep1@{DOMAIN}"
    people.loc[rep2, "email"] = f"rep2@{DOMAIN}"

    # start dates: leadership and most sellers long before the data window
    data_start = _fy_start(fy - 2)
    lo, hi = date(2009, 1, 1).toordinal(), (data_start - timedelta(days=60)).toordinal()
    people["start_date"] = [date.fromordinal(int(o)) for o in rng.integers(lo, hi, size=n)]
    people["end_date"] = pd.Series([None] * n, dtype=object)

    # story roles
    people["story"] = np.where(people.role == "vp", "vp", np.where(people.role == "head", "regional_head", ""))
    people.loc[rep1, "story"] = "behind"
    people.loc[rep2, "story"] = "ahead"
    carriers = people.index[people.territory != ""]
    n_q = len(carriers)
    free_sellers = [i for i in people.index[people.role == "seller"] if i not in (rep1, rep2)]
    free_sellers = list(rng.permutation(free_sellers))
    big = n_q >= 20

    # hopeless: a seller outside the first territory when possible
    outside = [i for i in free_sellers if people.territory[i] != first_terr]
    hopeless = (outside or free_sellers)[0]
    free_sellers.remove(hopeless)
    people.loc[hopeless, "story"] = "hopeless"

    # new hires inside the current FY, each replacing a seller of the same territory who left at
    # the end of the previous FY (so the territory's history reflects its capacity); two hires of
    # the previous FY
    fy0 = _fy_start(fy)
    fy_end = _month_end(_add_months(fy0, 11))
    prev0 = _fy_start(fy - 1)
    elapsed = max((today - fy0).days, 0)
    hire_dates = [fy0 + timedelta(days=int(elapsed * 0.3)), fy0 + timedelta(days=int(elapsed * 0.65))]
    nxt = _add_months(date(today.year, today.month, 1), 1)
    hire_dates.append(nxt if nxt <= fy_end else fy0 + timedelta(days=int(elapsed * 0.85)))
    hires = hire_dates if big else [hire_dates[1]]
    used_terr: set[str] = set()
    terr_by, region_by = people.territory.to_dict(), people.region.to_dict()
    for k, d in enumerate(hires):
        terr_of: dict[str, list] = {}
        for x in free_sellers:
            terr_of.setdefault(terr_by[x], []).append(x)
        pairs = [t for t, xs in terr_of.items() if len(xs) >= 2 and t not in used_terr]
        if not pairs:
            break
        t = pairs[0]
        i, j_ = terr_of[t][0], terr_of[t][1]
        free_sellers.remove(i)
        free_sellers.remove(j_)
        used_terr.add(t)
        start = np.busday_offset(_d64(min(max(d, fy0), fy_end)), 0, roll="forward", weekmask=WEEKMASK)
        start = start.astype(object)
        people.loc[i, "start_date"] = start if start <= fy_end else fy_end
        people.loc[i, "story"] = "new_hire"
        last = fy0 - timedelta(days=1 + (0, 10, 3)[k % 3])  # around the end of the previous FY
        end = np.busday_offset(_d64(last), 0, roll="backward", weekmask=WEEKMASK).astype(object)
        people.loc[j_, "end_date"] = end
        people.loc[j_, "story"] = "leaver"
    if big:
        for k in (2, 7):
            i = free_sellers.pop()
            d = _add_months(prev0, k + int(rng.integers(0, 2)))
            people.loc[i, "start_date"] = np.busday_offset(_d64(d), 0, roll="forward", weekmask=WEEKMASK).astype(object)

    # performance roles for the remaining quota carriers (sellers and player-coach managers)
    pool = [int(i) for i in rng.permutation(carriers) if people.story[i] == ""]
    wanted = [("behind", max(2, round(0.10 * n_q))), ("ahead", max(1, round(0.12 * n_q))),
              ("at_risk", max(1, round(0.12 * n_q))), ("discounter", 1 if big else 0)]
    for label, count in wanted:
        for _ in range(count):
            # keep manager1 on track so the team view tells rep1 against rep2, and spread the
            # stories over the territories (fewest stories already in the territory first)
            cands = [i for i in pool if i != m1]
            if not cands:
                break
            told = people[people.story.isin(["behind", "hopeless", "ahead", "at_risk", "discounter"])]
            t_load, r_load = told.territory.value_counts().to_dict(), told.region.value_counts().to_dict()
            cand = min(cands, key=lambda i: (t_load.get(terr_by[i], 0), r_load.get(region_by[i], 0)))
            pool.remove(cand)
            people.loc[cand, "story"] = label
    for i in carriers:
        if people.story[i] == "":
            people.loc[i, "story"] = "on_track"
    return people, territories


# --------------------------------------------------------------------------------------------
# holidays


def _holidays(territories: list[tuple[str, str]], years: range) -> pd.DataFrame:
    rows = []
    for y in years:
        rows += [(rule(y), name, "") for name, rule in ORG_HOLIDAYS]
        for terr, _ in territories:
            rows += [(rule(y), name, terr) for name, rule in TERRITORY_HOLIDAYS[terr]]
    df = pd.DataFrame(rows, columns=["date", "name", "territory"])
    df = df.drop_duplicates(["date", "territory"]).sort_values(["date", "territory", "name"])
    return df.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# generation


def generate(out_dir: Path, *, reps: int = 40, seed: int = 7, today: date | None = None) -> "DemoData":
    """Write reps.csv, targets.csv, holidays.csv and actuals.csv into ``out_dir``."""
    today = today or date.today()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fy = _fy_of(today)
    people, territories = _people(reps, seed, fy, today)
    data_start = _fy_start(fy - 2)
    data_end = today  # actuals up to and including today
    fy_last_end = _month_end(_add_months(_fy_start(fy), 11))

    years = range(data_start.year, fy_last_end.year + 1)
    holidays = _holidays(territories, years)
    org_h = holidays.loc[holidays.territory == "", "date"].tolist()
    cals = {
        t: np.busdaycalendar(weekmask=WEEKMASK, holidays=[_d64(d) for d in org_h + holidays.loc[
            holidays.territory == t, "date"].tolist()])
        for t, _ in territories
    }
    # all holiday dates per territory (a busdaycalendar drops those on weekends)
    hol_sets = {t: np.array([_d64(d) for d in holidays.loc[holidays.territory.isin(["", t]), "date"]],
                            dtype="datetime64[D]") for t, _ in territories}

    # the 36 fiscal months
    months = [_add_months(data_start, k) for k in range(36)]
    m_start = np.array([_d64(m) for m in months])
    m_end = np.array([_d64(_month_end(m)) for m in months])
    m_fy = np.array([_fy_of(m) for m in months])
    m_fm = np.array([k % 12 for k in range(36)])  # fiscal month index 0..11
    m_label = [f"{m.year:04d}-{m.month:02d}" for m in months]
    e64 = _d64(data_end)

    carriers = people.index[people.territory != ""].tolist()
    target_rows: list[pd.DataFrame] = []
    actual_frames: list[pd.DataFrame] = []
    rep_info: dict[int, dict[str, Any]] = {}

    for idx in carriers:
        p = people.loc[idx]
        cal = cals[p.territory]
        rng = np.random.default_rng([seed, 1000 + int(idx)])
        story = p.story
        start = p.start_date
        end = p.end_date if p.end_date is not None else date(9999, 12, 31)
        s64, x64 = _d64(start), _d64(min(end, date(2999, 12, 31)))

        # ---- targets: annual quota, grown each year, seasonal months; ramp-up and proration
        base = _round_to(rng.uniform(700_000, 1_200_000) * (0.45 if p.role == "manager" else 1.0), 10_000)
        annual = {fy - 2: base}
        annual[fy - 1] = _round_to(base * rng.uniform(1.03, 1.07), 10_000)
        annual[fy] = _round_to(annual[fy - 1] * rng.uniform(1.03, 1.07), 10_000)
        hired_in = _fy_of(start)
        if hired_in >= fy - 1:  # a hire gets a fresh (not grown) quota, 70 % in the first year
            annual = {f: base * (0.7 if f == hired_in else 1.0) for f in annual}
        wd_month = np.busday_count(m_start, m_end + 1, busdaycal=cal)
        rev_t = np.zeros(36)
        reasons = []
        start_month_idx = (start.year - data_start.year) * 12 + start.month - data_start.month
        for k in range(36):
            full = annual[int(m_fy[k])] * SEASONALITY[m_fm[k]]
            rel = k - start_month_idx
            reason = f"FY{m_fy[k]} quota, seasonal phasing"
            if m_end[k] < s64 or m_start[k] > x64:
                amt, reason = 0.0, ("before start date" if m_end[k] < s64 else "after end date")
            else:
                amt = full
                if 0 <= rel <= 2:
                    amt *= (0.4, 0.6, 0.8)[rel]
                    reason = "new hire ramp-up"
                lo, hi = max(m_start[k], s64), min(m_end[k], x64)
                share = np.busday_count(lo, hi + 1, busdaycal=cal) / max(wd_month[k], 1)
                if share < 1:
                    amt *= share
                    reason = "prorated to end date" if m_end[k] > x64 else "new hire ramp-up, prorated from start date"
            rev_t[k] = _round_to(amt, 100)
            reasons.append(reason)
        margin_plan = round(rng.uniform(0.36, 0.44), 2)
        prof_t = np.round(rev_t * margin_plan / 100) * 100
        target_rows.append(pd.DataFrame({
            "owner_type": "rep", "owner": p.rep_id, "metric": "revenue", "month": m_label,
            "amount": rev_t, "reason": reasons}))
        target_rows.append(pd.DataFrame({
            "owner_type": "rep", "owner": p.rep_id, "metric": "profit", "month": m_label,
            "amount": prof_t, "reason": [r.replace("quota", f"profit quota at {margin_plan:.0%} margin")
                                         for r in reasons]}))

        # ---- intended net revenue per month (what the rep actually sells)
        perf = {fy - 2: rng.uniform(0.92, 1.1), fy - 1: rng.uniform(0.95, 1.12)}
        margin_perf = {fy - 2: rng.uniform(0.97, 1.03), fy - 1: rng.uniform(0.97, 1.03), fy: rng.uniform(0.98, 1.03)}
        traj = np.ones(12)
        if story == "ahead":
            perf[fy] = 1.22 if p.email == f"rep2@{DOMAIN}" else rng.uniform(1.10, 1.25)
            traj = np.linspace(1.0, 1.25, 12)
        elif story == "on_track":
            perf[fy] = rng.uniform(1.01, 1.07)
        elif story == "at_risk":
            perf[fy] = rng.uniform(0.91, 0.97)
            traj = np.linspace(1.05, 0.85, 12)
        elif story == "behind":
            perf[fy] = 0.78 if p.email == f"rep1@{DOMAIN}" else rng.uniform(0.72, 0.84)
            traj = np.concatenate([[1.0, 0.95], np.linspace(0.8, 0.65, 10)])
            perf[fy - 1] = rng.uniform(1.0, 1.1)  # was fine last year: the slide is new
        elif story == "hopeless":
            perf[fy] = 0.38
            perf[fy - 1] = 0.98
            traj = np.array([0.95] + [0.3] * 11)
        elif story == "discounter":
            perf[fy] = rng.uniform(1.01, 1.05)
            margin_perf[fy] = 0.78
        else:  # new_hire, leaver
            perf[fy] = rng.uniform(1.01, 1.15)
        month_frac = np.where(m_end <= e64, 1.0, 0.0)
        cur = int(np.searchsorted(m_end, e64))  # month containing data_end
        if cur < 36 and m_start[cur] <= e64:
            month_frac[cur] = np.busday_count(m_start[cur], e64 + 1, busdaycal=cal) / max(wd_month[cur], 1)
        cur_fy = m_fy == fy
        expected_ytd = float((rev_t * month_frac)[cur_fy].sum())
        margin_m = margin_plan * np.array([margin_perf[int(f)] for f in m_fy]) * rng.lognormal(0, 0.02, 36)
        # last year finished strong; rep1 very strong (the pace needed to catch up has been done before)
        finish = np.where((m_fy == fy - 1) & (m_fm >= 9), 1.2 if p.email == f"rep1@{DOMAIN}" else 1.08, 1.0)

        def simulate(perf_cur: float) -> pd.DataFrame | None:
            r2 = np.random.default_rng([seed, 5000 + int(idx)])  # same draws for every candidate pace
            perf_m = np.array([perf_cur if f == fy else perf[int(f)] for f in m_fy])
            noise = r2.lognormal(0.0, 0.08, 36)
            intended = rev_t * month_frac * perf_m * noise * finish * np.where(cur_fy, traj[m_fm], 1.0)
            if expected_ytd > 0 and intended[cur_fy].sum() > 0:  # pin year-to-date pace to the story
                intended[cur_fy] *= perf_cur * expected_ytd / intended[cur_fy].sum()
            d_lo, d_hi = max(start, data_start), min(end, data_end)
            if d_lo > d_hi:
                return None
            days = np.arange(_d64(d_lo), _d64(d_hi) + 1, dtype="datetime64[D]")
            days = days[np.is_busday(days, busdaycal=cal)]
            if not len(days):
                return None
            day_m = np.searchsorted(m_end, days)  # month index of each day
            lam = r2.uniform(0.5, 0.8) if p.role == "manager" else r2.uniform(1.2, 1.8)
            n_orders = r2.poisson(lam, size=len(days))
            # every month with something to sell gets at least one order
            per_month = np.bincount(day_m, weights=n_orders, minlength=36)
            first_day = np.searchsorted(day_m, np.arange(36))
            need = np.flatnonzero((per_month == 0) & (intended > 0) & (first_day < len(days)))
            need = need[day_m[np.minimum(first_day[need], len(days) - 1)] == need]
            n_orders[first_day[need]] += 1
            return _orders(r2, p, idx, days, n_orders, intended, margin_m, m_end, cal, hol_sets[p.territory],
                           min(end, data_end), story, fy, seed)

        frame = simulate(perf[fy])
        if p.email == f"rep1@{DOMAIN}" and frame is not None:
            # rep1 is the early-warning demo: behind plan, but with a point of no return still ahead
            # whatever ``today`` is; take the lowest pace that leaves at least 15 working days to act
            # (late in the year that takes a pace close to 1: behind with a Q4 ahead is too late)
            T_fy = float(rev_t[cur_fy].sum())
            best = (-2.0, perf[fy])
            for cand in np.round(np.arange(0.78, 0.985, 0.01), 2):
                left = _days_to_act(simulate(float(cand)), cal, _fy_start(fy), data_end, fy_last_end, T_fy)
                if left is not None and np.isfinite(left) and left > best[0]:
                    best = (left, float(cand))
                if best[0] >= 15:
                    break
            frame = simulate(best[1])
        if frame is not None and len(frame):
            actual_frames.append(frame)
        rep_info[idx] = dict(T=float(rev_t[cur_fy].sum()), E=expected_ytd)

    targets = pd.concat(target_rows, ignore_index=True)
    targets = _territory_targets(targets, people, territories, fy, m_label, m_fy)
    actuals = _finish_actuals(pd.concat(actual_frames, ignore_index=True))

    # ---- plans (need year-to-date actuals)
    cur_mask = actuals["_date"] >= _d64(_fy_start(fy))
    ytd = actuals.loc[cur_mask].groupby("rep")["_rev"].sum()
    plans = _plans(people, rep_info, ytd, fy, today, seed, actuals)

    # ---- write the files
    paths = {k: out_dir / f"{k}.csv" for k in ("reps", "targets", "holidays", "actuals")}
    reps_out = people[["rep_id", "name", "email", "territory", "region", "manager", "start_date", "end_date"]].copy()
    reps_out["start_date"] = [d.isoformat() for d in reps_out["start_date"]]
    reps_out["end_date"] = [d.isoformat() if d is not None else "" for d in reps_out["end_date"]]
    _write(reps_out, paths["reps"])
    targets["amount"] = _money(targets["amount"].to_numpy())
    _write(targets, paths["targets"])
    hol_out = holidays.copy()
    hol_out["date"] = [d.isoformat() for d in hol_out["date"]]
    _write(hol_out, paths["holidays"])
    _write(actuals.drop(columns=["_date", "_rev"]), paths["actuals"])

    deal_files = {}
    for day, frame in _pipelines(people, rep_info, ytd, fy, today, seed).items():
        deal_files[day] = out_dir / f"deals-{day.isoformat()}.csv"
        _write(frame, deal_files[day])

    story = dict(zip(people["rep_id"], people["story"]))
    return DemoData(out_dir=out_dir, reps_csv=paths["reps"], targets_csv=paths["targets"],
                    holidays_csv=paths["holidays"], actuals_csv=paths["actuals"], today=today, fy=fy,
                    plans=plans, story=story, deals=deal_files)


# the pipeline of open deals (docs/pipeline.md): stages and their probabilities (the demo's
# stage_probabilities setting), weekly snapshots over the last weeks so that a trend shows
DEAL_STAGES = (("Qualification", 0.1), ("Discovery", 0.2), ("Proposal", 0.4), ("Negotiation", 0.6), ("Commit", 0.8))
DEAL_SNAPSHOTS = 4  # weekly, the last one dated today
# unweighted pipeline closing this FY as a multiple of the rep's remaining gap, by story: rep1
# ("behind") has thin coverage, the hopeless rep hardly any
PIPELINE_COVERAGE = {"ahead": 3.6, "on_track": 3.6, "at_risk": 2.6, "behind": 0.9, "hopeless": 0.3,
                     "discounter": 3.2, "new_hire": 2.2}


def _pipelines(people, rep_info, ytd, fy, today, seed) -> dict[date, pd.DataFrame]:
    """The open deals of every active quota carrier on each weekly snapshot date, as a CRM export.

    Per rep a pool of deals: each appears on some snapshot and stays open until it closes (then it
    is missing from the later snapshots), advances through the stages, and some slip (their close
    date moves out) or sit overdue (a close date in the past that nobody updated). The pool's size
    follows the rep's story (PIPELINE_COVERAGE); rep1's pipeline also shrinks over the weeks.
    """
    days = [today - timedelta(days=7 * (DEAL_SNAPSHOTS - 1 - k)) for k in range(DEAL_SNAPSHOTS)]
    fy_end = _month_end(_add_months(_fy_start(fy), 11))
    rows: list[dict[str, Any]] = []
    for idx, info in rep_info.items():
        p = people.loc[idx]
        if p.story == "leaver" or p.start_date > today or (p.end_date is not None and p.end_date <= today):
            continue
        rng = np.random.default_rng([seed, 7000 + int(idx)])
        gap = max(info["T"] - float(ytd.get(p.rep_id, 0.0)), 0.2 * info["T"])
        size = _round_to(max(info["T"] * 0.035, 3000.0) * rng.uniform(0.8, 1.25), 500)
        open_total = gap * PIPELINE_COVERAGE.get(p.story, 2.5)
        n = int(np.clip(round(open_total / size), 2, 28))
        amounts = np.maximum(np.round(rng.lognormal(0, 0.5, n) * open_total / n / 500) * 500, 500)
        first = rng.integers(0, DEAL_SNAPSHOTS, n)            # the snapshot a deal first appears on
        shrink = p.email == f"rep1@{DOMAIN}"  # rep1's pipeline dries up: deals close, none come in
        first[: n if shrink else max(1, n // 2)] = 0           # half of them are there from the start
        closes_at = np.where(rng.random(n) < (0.55 if shrink else 0.25),
                             first + rng.integers(1, DEAL_SNAPSHOTS, n), DEAL_SNAPSHOTS)  # missing from then on
        horizon = max((fy_end - today).days, 30)
        close_in = rng.integers(5, horizon + 60, n)            # some close after the FY end
        overdue = rng.random(n) < 0.12
        close_in[overdue] = -rng.integers(3, 40, overdue.sum())
        slips = np.where(rng.random(n) < 0.2, rng.integers(1, DEAL_SNAPSHOTS, n), DEAL_SNAPSHOTS)
        stage0 = rng.integers(0, 3, n)
        advance = rng.random(n) < 0.35
        customers = _customers(seed, p.territory, 600)
        names = rng.choice(("renewal", "expansion", "new logo", "upgrade", "pilot", "framework agreement"), n)
        for k, day in enumerate(days):
            for j in np.flatnonzero((first <= k) & (closes_at > k)):
                close = today + timedelta(days=int(close_in[j])) + (timedelta(days=35) if k >= slips[j] else timedelta())
                stage = min(int(stage0[j]) + (k - int(first[j]) if advance[j] else 0), len(DEAL_STAGES) - 1)
                customer = customers[(7 * j + 3) % len(customers)]
                rows.append({
                    "snapshot": day, "Deal ID": f"DL-{p.rep_id}-{j + 1:03d}",
                    "Deal Name": f"{customer.split(' ')[0]} {names[j]}", "Company": customer, "Deal Owner": p.email,
                    "Deal Stage": DEAL_STAGES[stage][0], "Amount": f"{amounts[j]:.2f}",
                    "Close Date": close.isoformat(),
                    # the rep's own judgement on a few deals; the rest take the stage's probability
                    "Probability (%)": str(int(90 if stage == len(DEAL_STAGES) - 1 else 15)) if j % 9 == 4 else "",
                })
    frame = pd.DataFrame(rows)
    if frame.empty:
        return {}
    # the snapshot column holds dates, so the group keys are dates
    return {cast(date, day): group.drop(columns="snapshot").reset_index(drop=True)
            for day, group in frame.groupby("snapshot", sort=True)}


def _days_to_act(frame: pd.DataFrame | None, cal, fy0: date, e: date, fy_end: date, target: float,
                 window: int = 65) -> float | None:
    """docs/numbers.md working_days_to_act of one rep's FY revenue (inf when on course, -1 when passed);
    None when the rep has no sales to simulate."""
    if frame is None:
        return None
    d = frame["_date"].to_numpy().astype("datetime64[D]")
    rev = frame["_rev"].to_numpy()
    bucket = np.busday_offset(d, 0, roll="backward", busdaycal=cal)
    days = np.arange(bucket.min(), _d64(e) + 1, dtype="datetime64[D]")
    days = days[np.is_busday(days, busdaycal=cal)]
    if len(days) < window:
        return None
    daily = np.bincount(np.searchsorted(days, bucket), weights=rev, minlength=len(days))[: len(days)]
    sums = np.convolve(daily, np.ones(window), mode="valid")
    best, current = sums.max() / window, sums[-1] / window
    a = float(rev[(d >= _d64(fy0)) & (d <= _d64(e))].sum())
    w = int(np.busday_count(_d64(e) + 1, _d64(fy_end) + 1, busdaycal=cal))
    if a + current * w >= target:
        return float("inf")
    if best <= current:
        return None
    if a + best * w < target:
        return -1.0
    return float(np.floor((a + best * w - target) / (best - current)))


def _write(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


def _customers(seed: int, territory: str, count: int) -> list[str]:
    rng = np.random.default_rng([seed, 3, sum(territory.encode())])
    combos = rng.choice(len(CUSTOMER_STEMS) * len(CUSTOMER_INDUSTRIES), size=count, replace=False)
    suffix = COMPANY_SUFFIX[territory]
    return [f"{CUSTOMER_STEMS[c // len(CUSTOMER_INDUSTRIES)]} {CUSTOMER_INDUSTRIES[c % len(CUSTOMER_INDUSTRIES)]} {suffix}"
            for c in combos]


def _orders(rng, p, idx, days, n_orders, intended, margin_m, m_end, cal, hol, last_day, story, fy, seed):
    """All sale lines and credit notes of one rep, vectorised."""
    n_o = int(n_orders.sum())
    if n_o == 0:
        return None
    o_day = np.repeat(np.arange(len(days)), n_orders)
    o_date = days[o_day]
    # a rare Friday order is booked on the Saturday
    weekday = (o_date.astype("int64") + 3) % 7
    sat = o_date + 1
    move = (weekday == 4) & (rng.random(n_o) < WEEKEND_ORDER_SHARE) & ~np.isin(sat, hol) & (sat <= _d64(last_day))
    o_date = np.where(move, sat, o_date)

    # the rep's accounts: a slice of the territory's customers, key account first
    customers = _customers(seed, p.territory, 600)
    k0 = (int(idx) * 13) % 560
    n_acc = 12 + int(idx) % 6
    accounts = np.array(customers[k0:k0 + n_acc], dtype=object)
    w = 1.0 / np.arange(1, n_acc + 1) ** 1.1
    w_key = w / w.sum()
    w_rest = w.copy()
    w_rest[0] = 0.0
    w_rest /= w_rest.sum()
    cust = rng.choice(n_acc, size=n_o, p=w_key)
    if story == "hopeless":  # the key account stops ordering in fiscal month 2 of this FY
        lost = o_date >= _d64(_add_months(_fy_start(fy), 1))
        cust = np.where(lost, rng.choice(n_acc, size=n_o, p=w_rest), cust)

    n_lines = 1 + np.minimum(rng.poisson(0.7, size=n_o), 3)
    n_rows = int(n_lines.sum())
    r_order = np.repeat(np.arange(n_o), n_lines)
    starts = np.cumsum(n_lines) - n_lines
    line = np.arange(n_rows) - np.repeat(starts, n_lines) + 1
    prod = rng.choice(len(PRODUCTS), size=n_rows, p=PRODUCT_WEIGHT)
    raw = PRODUCT_PRICE[prod] * rng.lognormal(0.0, 0.5, size=n_rows)
    r_date = o_date[r_order]
    r_m = np.searchsorted(m_end, r_date)

    # credit notes: a few lines are (partly) returned 3-25 working days later
    ret = np.flatnonzero(rng.random(n_rows) < RETURN_LINE_SHARE)
    frac = np.where(rng.random(len(ret)) < 0.5, 1.0, rng.uniform(0.2, 0.8, size=len(ret)))
    ret_date = np.busday_offset(r_date[ret], rng.integers(3, 26, size=len(ret)), roll="forward", busdaycal=cal)
    ok = ret_date <= _d64(last_day)
    ret, frac, ret_date = ret[ok], frac[ok], ret_date[ok]
    ret_m = np.searchsorted(m_end, ret_date)

    # scale the lines so that each month's net revenue (sales - credit notes dated in it) is the
    # intended amount; credit notes follow their lines, so a few fixed-point rounds settle it
    factor = np.divide(intended * RETURN_GROSS_UP, np.bincount(r_m, weights=raw, minlength=36),
                       out=np.zeros(36), where=intended > 0)
    for _ in range(4):
        rev = raw * factor[r_m]
        net = np.bincount(r_m, weights=rev, minlength=36) - np.bincount(ret_m, weights=rev[ret] * frac, minlength=36)
        factor *= np.divide(intended, net, out=np.ones(36), where=net > 0)
    rev = np.maximum(np.round(raw * factor[r_m], 2), 1.0)
    sold = factor[r_m] > 0  # months with nothing to sell (e.g. hopeless future) keep no lines
    m_raw = np.clip(PRODUCT_MARGIN[prod] + rng.normal(0.0, 0.04, size=n_rows), 0.05, 0.95)
    w_rev = np.bincount(r_m, weights=rev * m_raw, minlength=36)
    s_rev = np.bincount(r_m, weights=rev, minlength=36)
    k = np.divide(margin_m * s_rev, w_rev, out=np.ones(36), where=w_rev > 0)
    margin = np.clip(m_raw * k[r_m], 0.03, 0.95)
    cost = np.round(rev * (1.0 - margin), 2)

    sales = pd.DataFrame({
        "_date": r_date, "kind": 0, "local": r_order, "line": line,
        "customer": accounts[cust[r_order]], "product": PRODUCT_NAMES[prod], "_rev": rev, "cost": cost})
    keep = sold[ret]
    ret, frac, ret_date = ret[keep], frac[keep], ret_date[keep]
    credits = pd.DataFrame({
        "_date": ret_date, "kind": 1, "local": np.arange(len(ret)), "line": 1,
        "customer": accounts[cust[r_order[ret]]], "product": PRODUCT_NAMES[prod[ret]],
        "_rev": -np.maximum(np.round(rev[ret] * frac, 2), 0.01), "cost": -np.round(cost[ret] * frac, 2)})
    out = pd.concat([sales[sold], credits], ignore_index=True)
    out["rep"] = p.rep_id
    out["territory"] = p.territory
    return out


def _finish_actuals(df: pd.DataFrame) -> pd.DataFrame:
    """Assign sales-order and credit-note numbers (per calendar year, in date order) and format."""
    d = df["_date"].to_numpy().astype("datetime64[D]")
    df = df.assign(_d=d, _year=d.astype("datetime64[Y]").astype("int64") + 1970)
    parts = []
    for kind, prefix, width in ((0, "SO", 6), (1, "CN", 5)):
        sub = df[df["kind"] == kind]
        docs = sub.drop_duplicates(["rep", "local"])[["_d", "rep", "local", "_year"]]
        docs = docs.sort_values(["_d", "rep", "local"], kind="mergesort")
        seq = docs.groupby("_year").cumcount() + 1
        docs["order_id"] = prefix + "-" + docs["_year"].astype(str) + "-" + seq.astype(str).str.zfill(width)
        parts.append(sub.merge(docs[["rep", "local", "order_id"]], on=["rep", "local"], how="left"))
    df = pd.concat(parts, ignore_index=True)
    df = df.sort_values(["_d", "order_id", "line"], kind="mergesort").reset_index(drop=True)
    d = df["_d"].to_numpy().astype("datetime64[D]")
    out = pd.DataFrame({
        "date": np.datetime_as_string(d, unit="D"),
        "rep": df["rep"], "order_id": df["order_id"], "line": df["line"].astype(int),
        "customer": df["customer"], "product": df["product"], "territory": df["territory"],
        "revenue": _money(df["_rev"].to_numpy()), "cost": _money(df["cost"].to_numpy()),
    })
    out["_date"] = d
    out["_rev"] = df["_rev"].to_numpy()
    return out


def _territory_targets(targets, people, territories, fy, m_label, m_fy) -> pd.DataFrame:
    """A few top-down territory revenue targets for the current FY, a little off the sum of reps."""
    cur_months = [m for m, f in zip(m_label, m_fy) if f == fy]
    # territories without hires or leavers, so their history is a fair basis for the top-down number
    changing = set(people.loc[people.story.isin(["new_hire", "leaver"]), "territory"])
    picks = [t for t, _ in territories if t not in changing][1::3][:3]
    ratios = (1.04, 0.96, 1.06)
    extra = []
    rev = targets[(targets.metric == "revenue") & targets.month.isin(cur_months)]
    owner_terr = dict(zip(people.rep_id, people.territory))
    rev = rev.assign(territory=rev.owner.map(owner_terr))
    for terr, ratio in zip(picks, ratios):
        sums = rev[rev.territory == terr].groupby("month")["amount"].sum().reindex(cur_months, fill_value=0.0)
        amounts = np.round(sums.to_numpy() * ratio / 1000) * 1000
        extra.append(pd.DataFrame({
            "owner_type": "territory", "owner": terr, "metric": "revenue", "month": cur_months,
            "amount": amounts, "reason": f"FY{fy} top-down allocation from the regional plan"}))
    return pd.concat([targets, *extra], ignore_index=True)


# --------------------------------------------------------------------------------------------
# plans

OBSTACLES = {
    "hopeless": [
        ("Lost key account {key} to a low-cost competitor in {lost_month}", 5),
        ("No replacement pipeline above 50k in {territory}", 4),
        ("Two renewals at {cust2} under review after the {key} loss", 3),
    ],
    "behind": [
        ("Decision at {cust1} slipped to next quarter after a procurement change", 4),
        ("Price pressure from a low-cost competitor in {territory}", 4),
        ("Pipeline for H2 is thin: too few new opportunities since spring", 5),
        ("Budget freeze at {cust2}", 3),
        ("Public-sector tender at {cust3} delayed by an appeal", 3),
    ],
    "at_risk": [
        ("Large renewal at {cust1} may shrink by a third", 3),
        ("Summer slowdown longer than planned in {territory}", 2),
        ("Hardware delivery delays push Edge Gateway revenue out", 3),
    ],
    "fine": [
        ("Renewal at {cust1} depends on a new budget owner", 2),
        ("Competitor launch may slow Analytics add-on deals", 2),
        ("Year-end deals concentrated in December", 1),
    ],
    "new_hire": [
        ("Building a pipeline from scratch in a new patch", 3),
        ("Accounts handed over late from the previous owner", 2),
    ],
    "discounter": [
        ("Discounts above 15 % to win deals against a price-led competitor erode margin", 4),
        ("Hardware-heavy mix lowers gross margin", 3),
    ],
}
ACTIONS = {
    "hopeless": [
        ("Win back {key} with a three-year price lock", "dropped"),
        ("Escalate the {key} loss review with {manager_name}", "done"),
        ("Prospecting blitz: 40 calls a week to mid-size accounts in {territory}", "open"),
        ("Cross-sell the Analytics add-on to {cust2}", "open"),
    ],
    "behind": [
        ("Joint visit with {manager_name} to the {cust1} CFO", "open"),
        ("Offer {cust2} a multi-year deal to pull revenue into this FY", "open"),
        ("Cross-sell the Analytics add-on to the top 10 accounts", "open"),
        ("Bring in a partner for the {cust3} tender", "open"),
        ("Weekly pipeline review with {manager_name}", "done"),
        ("Trade-fair follow-up campaign in {territory}", "dropped"),
    ],
    "fine": [
        ("Launch an upgrade campaign to Standard-licence customers", "open"),
        ("Book the {cust1} renewal before the summer", "open"),
        ("Quarterly business review with {cust2}", "done"),
        ("Introduce Premium support to {cust3}", "open"),
    ],
    "new_hire": [
        ("Meet the top 15 accounts of the patch within six weeks", "open"),
        ("Shadow {manager_name} on two customer meetings a week", "open"),
        ("Build a pipeline of three times the ramped quota", "open"),
    ],
    "discounter": [
        ("Discount approval above 10 % by {manager_name} only", "open"),
        ("Shift the mix towards licences and support", "open"),
        ("Renegotiate the {cust1} frame agreement at list price", "done"),
    ],
}
SUMMARIES = {
    "ahead": "Ahead of plan on the back of a strong {cust1} expansion; protect margin and pull the Q4 renewals forward.",
    "on_track": "On plan. Weekly pipeline hygiene; the Q4 renewals cover most of the second half.",
    "at_risk": "Slightly behind after a slow quarter; the {cust1} renewal decides whether we close the gap.",
    "behind": "Behind since spring after {cust1} slipped; rebuilding the pipeline with cross-sell and partner deals.",
    "hopeless": "Lost {key}, our largest account, in {lost_month}. The target cannot be reached this FY without a new anchor customer.",
    "new_hire": "Ramp-up plan: learn the accounts, build pipeline, first deals by the end of the quarter.",
    "discounter": "Revenue on plan, but discounts have eroded the margin; profit target at risk.",
}
CHECKIN_NOTES = {
    "ahead": ["Strong month, pipeline healthy.", "Great progress; watch discount levels.", "Keep the pace into Q4."],
    "on_track": ["On plan, no concerns.", "Reviewed pipeline; renewals look safe.", "Steady; keep it up."],
    "at_risk": ["Slightly behind; agreed to focus on the {cust1} renewal.", "Gap is small but growing."],
    "behind": ["Behind plan; asked for more pipeline coverage.", "Actions do not cover the gap yet; update the plan.",
               "{cust1} slipped again; escalate."],
    "hopeless": ["The {key} loss is final; plan needs a new anchor customer.", "No realistic path to target this year; "
                 "discussed re-scoping."],
    "discounter": ["Revenue fine, margin too low; tighter discount rules agreed.", "Margin still below plan."],
    "new_hire": ["Onboarding going well."],
}


def _plans(people, rep_info, ytd, fy, today, seed, actuals) -> list[dict[str, Any]]:
    rng = np.random.default_rng([seed, 4])
    fy0 = _fy_start(fy)
    fy_end = _month_end(_add_months(fy0, 11))
    by_id = people.set_index("rep_id")
    plans: list[dict[str, Any]] = []
    top_customers = (actuals[actuals["_rev"] > 0].groupby(["rep", "customer"])["_rev"].sum()
                     .reset_index().sort_values(["rep", "_rev", "customer"], ascending=[True, False, True]))
    tops = {r: g["customer"].tolist() for r, g in top_customers.groupby("rep")}
    for idx, info in rep_info.items():
        p = people.loc[idx]
        label = p.story
        if label == "leaver" or p.start_date > today:
            continue
        if label == "on_track" and rng.random() < 0.25:
            continue  # not everyone has written a plan
        T, E = info["T"], info["E"]
        A = float(ytd.get(p.rep_id, 0.0))
        proj = A * T / E if E > 0 else T
        shortfall = max(T - proj, 0.0)
        gap_to_date = max(E - A, 0.0)
        gap = max(shortfall, gap_to_date)
        mgr = by_id.loc[p.manager] if p.manager else None
        custs = tops.get(p.rep_id, []) + ["a new customer"] * 4
        key = custs[0]
        fill = dict(key=key, cust1=custs[1] if label == "hopeless" else custs[0], cust2=custs[1], cust3=custs[2],
                    territory=p.territory, manager_name=mgr["name"] if mgr is not None else "the VP",
                    lost_month=calendar.month_name[_add_months(fy0, 1).month])
        group = label if label in ("hopeless", "behind", "at_risk", "new_hire", "discounter") else "fine"
        if group == "at_risk":
            ob_pool, ac_pool = OBSTACLES["at_risk"], ACTIONS["fine"]
        else:
            ob_pool, ac_pool = OBSTACLES[group], ACTIONS[group]

        # obstacles
        n_ob = 3 if label == "hopeless" else int(rng.integers(1, min(3, len(ob_pool)) + 1))
        ob_idx = list(range(n_ob)) if label == "hopeless" else sorted(rng.choice(len(ob_pool), n_ob, replace=False))
        risk_base = gap if group in ("hopeless", "behind") else max(shortfall, 0.04 * T)
        shares = rng.dirichlet(np.ones(n_ob) * 2) if n_ob > 1 else np.ones(1)
        if label == "hopeless":
            shares = np.sort(shares)[::-1]  # the lost key account is the biggest risk
        obstacles = []
        for j, (oi, share) in enumerate(zip(ob_idx, shares)):
            text, lik = ob_pool[oi]
            if group not in ("hopeless",):
                lik = int(np.clip(lik + rng.integers(-1, 2), 1, 5))
            obstacles.append(dict(key=f"O{j + 1}", description=text.format(**fill), likelihood=int(lik),
                                  revenue_at_risk=max(_round_to(risk_base * share * rng.uniform(0.9, 1.2), 1000), 1000.0)))

        # actions: open ones cover the gap only for the on-track reps
        if label == "hopeless":
            chosen = list(range(len(ac_pool)))
        else:
            n_ac = int(rng.integers(1, min(4, len(ac_pool)) + 1))
            if p.email in (f"rep1@{DOMAIN}", f"rep2@{DOMAIN}"):
                n_ac = min(3, len(ac_pool))  # the sign-in demo accounts get a fuller plan
            chosen = sorted(rng.choice(len(ac_pool), n_ac, replace=False))
            if all(ac_pool[c][1] != "open" for c in chosen):
                chosen[0] = next(c for c, a in enumerate(ac_pool) if a[1] == "open")
                chosen = sorted(set(chosen))
        if label == "hopeless":
            open_total = min(0.15 * gap, 0.5 * gap_to_date) if gap_to_date > 0 else 0.15 * gap
        elif label == "behind":
            open_total = rng.uniform(0.35, 0.65) * gap
        else:
            open_total = rng.uniform(1.1, 1.8) * max(shortfall, 0.03 * T)
        n_open = sum(1 for c in chosen if ac_pool[c][1] == "open")
        open_shares = rng.dirichlet(np.ones(n_open) * 3) if n_open > 1 else np.ones(1)
        actions, oi = [], 0
        span = max((fy_end - today).days, 1)
        past = max((today - fy0).days, 1)
        for c in chosen:
            text, kind = ac_pool[c]
            owner = p.manager if ("{manager_name}" in text and p.manager and kind != "done") else p.rep_id
            if kind == "open":
                impact = max(_round_to(open_total * open_shares[oi], 1000), 1000.0)
                if label in ("hopeless", "behind"):
                    impact = min(impact, max(_floor_to(open_total * open_shares[oi], 1000), 500.0))
                oi += 1
                overdue = label in ("behind", "hopeless") and rng.random() < 0.35
                if overdue:
                    due = today - timedelta(days=int(rng.integers(3, 30)))
                    status = "in_progress"
                else:
                    due = today + timedelta(days=int(rng.integers(7, max(span, 8))))
                    status = "planned" if rng.random() < 0.55 else "in_progress"
                due = max(min(due, fy_end), fy0)
            else:
                impact = _round_to(max(gap, 0.05 * T) * rng.uniform(0.1, 0.4), 1000)
                due = fy0 + timedelta(days=int(rng.integers(0, past)))
                due = min(due, today)
                status = kind
            linked = obstacles[c % len(obstacles)]["key"] if "pipeline review" not in text else None
            actions.append(dict(description=text.format(**fill), owner=owner, due_date=due, status=status,
                                expected_impact=float(impact), obstacle_key=linked))

        # status and check-ins
        if label == "hopeless":
            status = "submitted"
        elif label == "new_hire":
            status = "draft"
        elif label == "behind":
            status = "agreed" if (p.email == f"rep1@{DOMAIN}" or rng.random() < 0.5) else "submitted"
        elif label == "at_risk":
            status = ["agreed", "submitted", "draft"][int(rng.integers(0, 3))]
        else:
            status = "agreed" if rng.random() < 0.8 else "submitted"
        checkins = []
        if status != "draft" and mgr is not None:
            month_ends = [_month_end(_add_months(fy0, k)) for k in range(12)]
            month_ends = [d for d in month_ends if d < today]
            n_ck = min(len(month_ends), int(rng.integers(1, 4)))
            notes = CHECKIN_NOTES.get(label, CHECKIN_NOTES["on_track"])
            for j, d in enumerate(month_ends[-n_ck:] if n_ck else []):
                d = np.busday_offset(_d64(d), 0, roll="backward", weekmask=WEEKMASK).astype(object)
                checkins.append(dict(checkin_date=d, author=mgr["email"],
                                     note=notes[j % len(notes)].format(**fill)))
        plans.append(dict(rep_id=p.rep_id, fy=fy, status=status,
                          summary=SUMMARIES.get(label, SUMMARIES["on_track"]).format(**fill),
                          obstacles=obstacles, actions=actions, checkins=checkins))
    plans.sort(key=lambda x: x["rep_id"])
    return plans


def _floor_to(x: float, step: float) -> float:
    return float(np.floor(x / step) * step)


# --------------------------------------------------------------------------------------------
# loading


def load_demo(store, *, reps: int = 40, seed: int = 7, today: date | None = None) -> dict:
    """Generate the demo and load it through the real import path and the store's plan API."""
    from salesplan import imports
    from salesplan.principal import SYSTEM

    today = today or date.today()
    with tempfile.TemporaryDirectory(prefix="salesplan-demo-") as tmp:
        data = generate(Path(tmp), reps=reps, seed=seed, today=today)
        results = {}
        rows = {}
        for kind, path in data.files.items():
            res = imports.import_file(store, kind, path, principal=SYSTEM, file_name=f"demo-{path.name}")
            if getattr(res, "rejected", 0):
                raise SalesplanError(f"demo {kind} import rejected {res.rejected} rows")
            results[kind] = res
            with path.open(encoding="utf-8") as fh:
                rows[kind] = sum(1 for _ in fh) - 1
        store.save_settings(SYSTEM, stage_probabilities=dict(DEAL_STAGES))
        deal_results = {
            day: imports.import_file(store, "deals", path, principal=SYSTEM, file_name=f"demo-{path.name}", as_of=day)
            for day, path in data.deals.items()
        }
        reps_df = pd.read_csv(data.reps_csv, dtype=str, keep_default_na=False)
        n_ob = n_ac = n_ck = n_kept = 0
        for plan in data.plans:
            rid, fy = plan["rep_id"], plan["fy"]
            if store.plan(SYSTEM, rid, fy)["exists"]:
                n_kept += 1  # loading the demo again must not duplicate obstacles and actions
                continue
            store.save_plan(SYSTEM, rid, fy, status=plan["status"], summary=plan["summary"])
            ids = {}
            for ob in plan["obstacles"]:
                ids[ob["key"]] = store.add_obstacle(SYSTEM, rid, fy, description=ob["description"],
                                                    likelihood=ob["likelihood"],
                                                    revenue_at_risk=ob["revenue_at_risk"])
                n_ob += 1
            for ac in plan["actions"]:
                store.add_action(SYSTEM, rid, fy, description=ac["description"], owner=ac["owner"],
                                 due_date=ac["due_date"], status=ac["status"],
                                 expected_impact=ac["expected_impact"],
                                 obstacle_id=ids.get(ac["obstacle_key"]) if ac["obstacle_key"] else None)
                n_ac += 1
            for ck in plan["checkins"]:
                store.add_checkin(SYSTEM, rid, fy, checkin_date=ck["checkin_date"], author=ck["author"],
                                  note=ck["note"])
                n_ck += 1
            if plan["status"] == "agreed":
                # its obstacles and actions were added after the header: agreed on the whole plan
                store.save_plan(SYSTEM, rid, fy, status="agreed", summary=plan["summary"])
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
        "plans": len(data.plans) - n_kept,
        "plans_kept": n_kept,
        "obstacles": n_ob,
        "actions": n_ac,
        "checkins": n_ck,
        "batches": {kind: res.batch_id for kind, res in results.items()},
        "inserted": {kind: res.inserted for kind, res in results.items()},
        "deal_snapshots": {day.isoformat(): res.batch_id for day, res in deal_results.items()},
    }


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
