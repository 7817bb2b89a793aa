#!/usr/bin/env python3
"""What the auditor's filtered custody log costs on a large log, with and without the
indexes on who acted and when (the console's /console/custody and `GET /custody/search`).

Fills a fresh database (SQLite in a temp BWC_HOME, or `--db-url`) with `--entries` rows
shaped like a year of an agency's log: ~60 staff and docks acting, one in ten entries the
system's, ~40 kinds of action, 5,000 recordings and requests, times spread over 365 days.
The rows are inserted directly (no hash chain: this measures reading the log, not writing
it). Then times, `--reps` times each (median ms), every query the log page runs:

- `newest`: the first page (100 newest) and the count of all entries;
- `actor`: one person's entries (about 1 in 60), page and count;
- `actor+action`: one person's viewings of footage;
- `day`: one day's entries;
- `choices`: every action and every actor in the log (the filters' drop-downs).

Each query is timed on the same database as the tree before migration 0027 ran it (no
index on who acted or when; the filters' choices by DISTINCT over every row, the whole log
counted row by row) and as this tree runs it (the indexes; the choices walked through them;
the whole log's count from its last sequence number), in one run, so the ratio is what to
compare on a shared machine:

    nice -n 10 .venv/bin/python bench/custody_search.py --entries 300000
    nice -n 10 .venv/bin/python bench/custody_search.py --entries 300000 \\
        --db-url postgresql+psycopg://postgres@127.0.0.1:5432/bwc_bench_search
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# the indexes measured: (name, columns), as migration 0027_custody_search creates them
INDEXES = (("ix_custody_entry_actor_seq", "actor, seq"), ("ix_custody_entry_at", "at"))
ACTIONS = [f"{family}.{verb}" for family in ("evidence", "derivative", "request", "release",
                                             "tag", "redaction", "user", "auth")
           for verb in ("stream", "view", "decision", "queued", "finished")]


def _fill(n: int, seed: int = 7) -> tuple[str, str]:
    """Insert `n` entries; return a person who acted in about 1 in 60 and one action."""
    from sqlalchemy import insert

    from bwc_custody.custody.models import CustodyEntry
    from bwc_custody.db import get_engine

    rng = random.Random(seed)
    people = [f"user-{i}" for i in range(50)] + [f"dock-{i}" for i in range(10)]
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    step = dt.timedelta(days=365) / n
    engine = get_engine()
    batch: list[dict[str, Any]] = []
    with engine.begin() as conn:
        for i in range(n):
            batch.append({
                "seq": i + 1, "at": start + step * i,
                "actor": "system" if rng.random() < 0.1 else rng.choice(people),
                "role": "custodian", "action": rng.choice(ACTIONS), "target_type": "evidence",
                "target_id": f"{rng.randrange(5000):08d}-0000-4000-8000-000000000000",
                "client_addr": "127.0.0.1", "reason": "review", "details": {"i": i},
                "prev_hash": "00" * 32, "entry_hash": "11" * 32})
            if len(batch) == 5000:
                conn.execute(insert(CustodyEntry), batch)
                batch = []
        if batch:
            conn.execute(insert(CustodyEntry), batch)
    return "user-7", "evidence.stream"


def _timed(fn: Callable[[], Any], reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _queries(actor: str, action: str, before: bool) -> dict[str, Callable[[], Any]]:
    """The log page's queries: as this tree runs them, or (`before`) as the tree before the
    indexes did (the filters' choices by DISTINCT over every row, the whole log counted row
    by row)."""
    from sqlalchemy import func
    from sqlmodel import col, select

    from bwc_custody.custody import search
    from bwc_custody.custody.models import CustodyEntry
    from bwc_custody.db import session_scope

    def page(**filters: Any) -> Callable[[], Any]:
        def run() -> Any:
            with session_scope() as session:
                found = search.search_entries(session=session,
                                              query=search.LogQuery(**filters))
                if before and not filters:
                    session.exec(select(func.count()).select_from(CustodyEntry)).one()
                return found
        return run

    def choices() -> Any:
        with session_scope() as session:
            if not before:
                return search.actions_and_actors(session=session)
            return [list(session.exec(select(c).distinct().order_by(c)))
                    for c in (col(CustodyEntry.action), col(CustodyEntry.actor))]

    return {"newest": page(), "actor": page(actor=actor),
            "actor+action": page(actor=actor, action=action),
            "day": page(since=dt.date(2026, 6, 3), until=dt.date(2026, 6, 3)),
            "choices": choices}


def _set_indexes(present: bool) -> None:
    from sqlalchemy import text

    from bwc_custody.db import get_engine

    with get_engine().begin() as conn:
        for name, columns in INDEXES:
            conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
            if present:
                conn.execute(text(f"CREATE INDEX {name} ON custody_entry ({columns})"))
        conn.execute(text("ANALYZE"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=300_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--db-url", default=None, help="default: SQLite in a temp BWC_HOME")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bwc-bench-search-"))
    os.environ["BWC_HOME"] = str(home)
    if args.db_url:
        os.environ["BWC_DATABASE_URL"] = args.db_url
    from bwc_custody.db import get_engine, upgrade

    upgrade()
    t0 = time.perf_counter()
    actor, action = _fill(args.entries)
    print(f"{args.entries} entries in {time.perf_counter() - t0:.1f} s "
          f"({get_engine().dialect.name})")
    rows: dict[str, dict[str, float]] = {}
    for now in (False, True):
        _set_indexes(now)
        for name, fn in _queries(actor, action, before=not now).items():
            fn()  # warm the cache: both sides read from memory
            rows.setdefault(name, {})["now" if now else "before"] = _timed(fn, args.reps)
    print(f"{'query':<14}{'before ms':>11}{'now ms':>9}{'before/now':>12}")
    for name, r in rows.items():
        print(f"{name:<14}{r['before']:>11.1f}{r['now']:>9.1f}{r['before'] / r['now']:>12.1f}")


if __name__ == "__main__":
    main()
