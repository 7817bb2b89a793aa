#!/usr/bin/env python3
"""What a custody checkpoint per minute (or per batch of entries) costs, against the hourly
full-root checkpoint it replaces (issue 22, finding 5).

Builds a log of `--entries` entries in a fresh BWC_HOME (SQLite, or `--db-url`), on the
local object store, then alternates, `--reps` times:
- an incremental checkpoint after `--batch` new entries (what a worker now signs every
  minute or every `BWC_CHECKPOINT_ENTRIES` entries: only the new entries are hashed, the
  last checkpoint's frontier holds the rest);
- a full-root checkpoint at the same log size after the same batch (what the old code did
  for every checkpoint: read and hash every entry again).
Each time includes everything a checkpoint does (log lock, reading and hashing entries,
Ed25519 signature, WORM write with its lock sidecar and versions journal, the row, commit).

    nice -n 10 .venv/bin/python bench/checkpoint.py                       # 50,000 entries
    nice -n 10 .venv/bin/python bench/checkpoint.py --entries 200000 --batch 60

Prints medians in ms, the ratio full/incremental, and the cost per hour: 60 incremental
checkpoints (one a minute) against one full-root checkpoint an hour. Ratios measured in one
run are what to compare on a shared machine.

`--tsa` measures instead what an RFC 3161 timestamp adds to each checkpoint (issue 25): a
real `openssl ts` TSA on 127.0.0.1 (tests/support/tsa.py), and per rep one incremental
checkpoint, then its timestamp as the worker asks for it after the commit (request, token
verified under the TSA CA, WORM write, row). Prints medians (wall and this process's CPU)
and the ratio (checkpoint + timestamp) / checkpoint. The timestamp is not on the
checkpoint's path: the checkpoint is committed before the TSA is asked.

    nice -n 10 .venv/bin/python bench/checkpoint.py --entries 5000 --tsa --reps 15
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _append(n: int) -> None:
    from bwc_custody.auth.service import Principal
    from bwc_custody.custody import service as custody
    from bwc_custody.db import session_scope
    from bwc_custody.roles import Role

    bench = Principal(user_id=None, username="bench", roles=frozenset({Role.admin}))

    done = 0
    while done < n:
        step = min(2000, n - done)
        with session_scope() as session:
            for i in range(step):
                custody.append(session=session, actor=bench, action="bench.event",
                               target_type="evidence", target_id=f"e-{(done + i) % 500}",
                               client_addr="127.0.0.1", reason="a viewing",
                               details={"i": done + i, "sha256": "ab" * 32})
        done += step


def _checkpoint(full: bool) -> tuple[float, int]:
    """Milliseconds of one checkpoint (full: the old whole-log hashing), and its size."""
    from bwc_custody.custody import service as custody
    from bwc_custody.db import session_scope
    from bwc_custody.vault.service import get_signer, get_store

    incremental = custody._tree_after
    if full:  # the old create_checkpoint: every leaf hashed again
        custody._tree_after = lambda session, last: incremental(session, None)  # type: ignore[assignment]
    try:
        start = time.perf_counter()
        with session_scope() as session:
            size = custody.create_checkpoint(session=session, signer=get_signer(),
                                             store=get_store()).tree_size
        return (time.perf_counter() - start) * 1000, size
    finally:
        custody._tree_after = incremental  # type: ignore[assignment]


def _timestamp_bench(reps: int, batch: int) -> dict[str, Any]:
    """Per rep: an incremental checkpoint, then its timestamp; medians and the ratio."""
    from bwc_custody.custody import service as custody
    from bwc_custody.custody import timestamps
    from bwc_custody.db import get_engine, session_scope
    from bwc_custody.vault.service import get_signer, get_store
    from provenance.tsa import load_ca_file
    from tests.support.tsa import running_tsa

    cp_wall: list[float] = []
    cp_cpu: list[float] = []
    ts_wall: list[float] = []
    ts_cpu: list[float] = []
    with running_tsa(Path(tempfile.mkdtemp(prefix="bwc-bench-tsa-"))) as server:
        tsa = timestamps.TsaConfig(urls=(server.url,),
                                   ca_certs=tuple(load_ca_file(server.ca_file)))
        for _ in range(reps):
            _append(batch)
            wall, cpu = time.perf_counter(), time.process_time()
            with session_scope() as session:
                index = custody.create_checkpoint(session=session, signer=get_signer(),
                                                  store=get_store()).index
            cp_wall.append((time.perf_counter() - wall) * 1000)
            cp_cpu.append((time.process_time() - cpu) * 1000)
            wall, cpu = time.perf_counter(), time.process_time()
            outcome = timestamps.stamp_pending(engine=get_engine(), store=get_store(),
                                               tsa=tsa, only=[index])
            ts_wall.append((time.perf_counter() - wall) * 1000)
            ts_cpu.append((time.process_time() - cpu) * 1000)
            assert outcome.stamped == [index], outcome.to_dict()
    m = statistics.median
    return {
        "reps": reps, "batch": batch,
        "checkpoint_ms (wall)": round(m(cp_wall), 2),
        "timestamp_ms (wall, incl. the local TSA's openssl)": round(m(ts_wall), 2),
        "with_tsa_over_without (wall)": round((m(cp_wall) + m(ts_wall)) / m(cp_wall), 2),
        "checkpoint_cpu_ms (this process)": round(m(cp_cpu), 2),
        "timestamp_cpu_ms (this process)": round(m(ts_cpu), 2),
        "with_tsa_over_without (CPU)": round((m(cp_cpu) + m(ts_cpu)) / m(cp_cpu), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=100,
                        help="entries appended before each checkpoint")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--db-url", default=None, help="default: SQLite in a temp BWC_HOME")
    parser.add_argument("--tsa", action="store_true",
                        help="measure what an RFC 3161 timestamp adds to each checkpoint")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bwc-bench-checkpoint-"))
    os.environ["BWC_HOME"] = str(home)
    if args.db_url:
        os.environ["BWC_DATABASE_URL"] = args.db_url
    from bwc_custody.db import get_engine, upgrade

    upgrade()
    t0 = time.perf_counter()
    _append(args.entries)
    print(f"log of {args.entries} entries built in {time.perf_counter() - t0:.1f} s "
          f"({get_engine().dialect.name})")
    first_ms, _ = _checkpoint(full=True)
    print(f"first checkpoint (full, {args.entries} entries): {first_ms:.1f} ms")
    if args.tsa:
        for key, value in _timestamp_bench(args.reps, args.batch).items():
            print(f"{key}: {value}")
        return

    inc: list[float] = []
    full: list[float] = []
    size = 0
    for rep in range(args.reps):
        # alternate which goes first, so drift on a shared machine falls on both
        for kind in (("inc", "full") if rep % 2 == 0 else ("full", "inc")):
            _append(args.batch)
            ms, size = _checkpoint(full=kind == "full")
            (full if kind == "full" else inc).append(ms)
    inc_ms, full_ms = statistics.median(inc), statistics.median(full)
    result: dict[str, Any] = {
        "log_size_at_end": size, "batch": args.batch, "reps": args.reps,
        "incremental_ms": round(inc_ms, 2), "full_root_ms": round(full_ms, 2),
        "full_over_incremental": round(full_ms / inc_ms, 1),
        "per_hour_ms_new (60 incremental)": round(60 * inc_ms, 1),
        "per_hour_ms_old (1 full-root)": round(full_ms, 1),
        "per_hour_new_over_old": round(60 * inc_ms / full_ms, 2),
    }
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
