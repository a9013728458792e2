"""The demo organisation: regions and territories, people and their story roles, customers, holidays."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from salesplan.demo.common import (
    DOMAIN, MAX_REPS, MIN_REPS, WEEKMASK, _add_months, _ascii_local, _d64, _easter, _fy_start,
    _month_end, _nth_weekday,
)

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


@cache  # the same territory's customers are asked for once per rep, per simulated pace and per pipeline
def _customers(seed: int, territory: str, count: int) -> tuple[str, ...]:
    rng = np.random.default_rng([seed, 3, sum(territory.encode())])
    combos = rng.choice(len(CUSTOMER_STEMS) * len(CUSTOMER_INDUSTRIES), size=count, replace=False)
    suffix = COMPANY_SUFFIX[territory]
    return tuple(f"{CUSTOMER_STEMS[c // len(CUSTOMER_INDUSTRIES)]} {CUSTOMER_INDUSTRIES[c % len(CUSTOMER_INDUSTRIES)]} {suffix}"
                 for c in combos)


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


def _holidays(territories: list[tuple[str, str]], years: range) -> pd.DataFrame:
    rows = []
    for y in years:
        rows += [(rule(y), name, "") for name, rule in ORG_HOLIDAYS]
        for terr, _ in territories:
            rows += [(rule(y), name, terr) for name, rule in TERRITORY_HOLIDAYS[terr]]
    df = pd.DataFrame(rows, columns=["date", "name", "territory"])
    df = df.drop_duplicates(["date", "territory"]).sort_values(["date", "territory", "name"])
    return df.reset_index(drop=True)
