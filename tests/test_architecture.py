"""The structure is a checked fact: the import contracts in pyproject.toml cover every module
of every domain, they hold, and the job table names every kind the queue accepts."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# a domain's routes and commands sit on top of it; everything else is the domain's own
ON_TOP = {"__init__", "api", "cli"}
NOT_DOMAINS = {"flows", "console", "dock", "migrations", "__pycache__"}


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(config["tool"]["importlinter"]["contracts"])


def test_the_layers_contract_lists_every_module_of_every_domain() -> None:
    layered = next(c for c in _contracts() if c["name"].startswith("Domain services"))
    listed = {m.strip() for layer in layered["layers"]  # type: ignore[attr-defined]
              for m in layer.replace("|", ":").split(":")}
    found = {f"bwc_custody.{d.name}.{f.stem}"
             for d in (ROOT / "bwc_custody").iterdir()
             if d.is_dir() and d.name not in NOT_DOMAINS
             for f in d.glob("*.py") if f.stem not in ON_TOP}
    assert found, "no domain modules found"
    assert found - listed == set(), "modules no layer names (add them to pyproject.toml)"
    assert {m for m in listed if m != "bwc_custody.flows"} - found == set(), \
        "the contract names modules that do not exist"


def test_no_contract_carries_an_ignore_list() -> None:
    # scripts/test.sh runs lint-imports; an ignored import would be a loop kept by exception
    assert not any("ignore_imports" in c for c in _contracts())


def test_every_job_kind_has_one_handler() -> None:
    from bwc_custody.flows.jobs import HANDLERS
    from bwc_custody.jobs.service import KINDS

    assert sorted(HANDLERS) == sorted(KINDS)
    assert all(callable(h) for h in HANDLERS.values())
