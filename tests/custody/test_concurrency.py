"""Concurrent appends from many threads still form one unbroken chain (both databases)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from tests.support.actors import LOCAL_OPERATOR


def test_threads_appending_at_once_keep_the_chain(migrated: str,
                                                  run_verify: Callable[..., dict]) -> None:
    from bwc_custody.custody import service as custody
    from bwc_custody.db import session_scope

    threads, per_thread = 6, 8
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                with session_scope() as session:
                    custody.append(session=session, actor=LOCAL_OPERATOR, action="race",
                                   target_id=f"w{n}", details={"i": i})
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    report = run_verify(fixity=False)
    assert report["ok"], report["findings"]
    assert report["entries"] == threads * per_thread
