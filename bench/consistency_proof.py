#!/usr/bin/env python3
"""What a consistency proof costs on a large log (served to a witness at every publication,
and by `GET /custody/consistency`): from the old size's checkpoint frontier plus the entries
after it, against RFC 6962's recursion over every leaf hashed again, in one run; both must
give the same proof.

Fills a fresh SQLite database with `--entries` rows the way bench/custody_search.py does,
signs nothing (a checkpoint row with the frontier of the first `entries - batch` entries
stands for the checkpoint the witness last took), then times each way `--reps` times:

    nice -n 10 .venv/bin/python bench/consistency_proof.py --entries 300000 --batch 100
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=300_000)
    parser.add_argument("--batch", type=int, default=100, help="entries since the old size")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    os.environ["BWC_HOME"] = tempfile.mkdtemp(prefix="bwc-bench-proof-")
    spec = importlib.util.spec_from_file_location("custody_search",
                                                  ROOT / "bench" / "custody_search.py")
    assert spec is not None
    assert spec.loader is not None
    search = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(search)

    from bwc_custody.custody import merkle, service
    from bwc_custody.custody.models import Checkpoint
    from bwc_custody.db import session_scope, upgrade

    upgrade()
    n, m = args.entries, args.entries - args.batch
    search._fill(n)
    with session_scope() as session:
        old = merkle.Frontier()
        for leaf in service.leaves(session=session, size=m):
            old.append(leaf)
        session.add(Checkpoint(index=1, tree_size=m, root_hash=old.root().hex(), key_id="bench",
                               signature="", object_key="checkpoints/00000001.json",
                               frontier=[h.hex() for h in old.hashes]))
    for _ in range(args.reps):
        t0 = time.perf_counter()
        with session_scope() as session:
            fast = service.consistency_proof(session=session, first=m, second=n)
        t1 = time.perf_counter()
        with session_scope() as session:
            slow = merkle.consistency_proof(m, service.leaves(session=session, size=n))
        t2 = time.perf_counter()
        assert fast.path == [h.hex() for h in slow]
        print(f"proof {m} -> {n}: from the frontier {(t1 - t0) * 1000:.0f} ms, from every leaf "
              f"{(t2 - t1) * 1000:.0f} ms ({(t2 - t1) / (t1 - t0):.0f}x)")


if __name__ == "__main__":
    main()
