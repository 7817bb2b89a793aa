"""Run one function on several threads at once and collect what each raised."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_in_threads(fn: Callable[[], object], n: int) -> list[BaseException]:
    """Start `n` threads running `fn`, wait for all, and return every exception raised (a
    test asserts the list empty, so a thread's failure is not lost in its own stack)."""
    errors: list[BaseException] = []

    def body() -> None:
        try:
            fn()
        except BaseException as exc:  # surfaced to the caller
            errors.append(exc)

    threads = [threading.Thread(target=body) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors
