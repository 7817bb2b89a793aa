"""A `bwc` command names who ran it in the custody log: the operating-system account
(`os:NAME`), or the user `--as NAME` names (before or after the command's own arguments),
checked against the users table before the command does anything."""

from __future__ import annotations

import getpass
import json
from typing import Any

import pytest
from typer.testing import CliRunner

from bwc_custody.cli import app


def _bwc(*args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    text = result.stdout if result.exit_code == 0 else (result.stderr or result.stdout)
    return result.exit_code, json.loads(text)


def _log() -> list[tuple[str, str, str, str]]:
    code, entries = _bwc("log")
    assert code == 0
    return [(e["actor"], e["role"], e["action"], e["target_id"]) for e in entries]


@pytest.fixture
def people(sqlite_migrated: str) -> list[tuple[str, str, str, str]]:
    """An admin (ada), a custodian (cy) and a disabled admin (old); the log so far."""
    for name, role in (("ada", "admin"), ("cy", "custodian"), ("old", "admin")):
        assert _bwc("users", "add", name, "--role", role)[0] == 0
    assert _bwc("users", "disable", "old")[0] == 0
    return _log()


def test_a_command_names_the_operating_system_account(
        people: list[tuple[str, str, str, str]]) -> None:
    me = f"os:{getpass.getuser()}"
    assert {actor for actor, *_ in people} == {me}
    assert ("os:" + getpass.getuser(), "admin", "user.create", "ada") in people


@pytest.mark.parametrize("where", ["before", "after"])
def test_as_names_a_user_of_the_table(people: list[tuple[str, str, str, str]],
                                      where: str) -> None:
    command = ["users", "add", "new-1", "--role", "auditor"]
    args = ["--as", "ada", *command] if where == "before" else [*command, "--as", "ada"]
    assert _bwc(*args)[0] == 0
    assert _log()[len(people):] == [("ada", "admin", "user.create", "new-1"),
                                    ("ada", "admin", "auth.token_issue", "new-1")]


@pytest.mark.parametrize(("name", "code"), [
    ("nobody", "unknown_operator"), ("old", "operator_disabled"),
    ("cy", "operator_lacks_role")])  # a custodian does not act as the admin
@pytest.mark.parametrize("where", ["before", "after"])
def test_as_an_unknown_disabled_or_unfit_user_is_refused_and_nothing_is_done(
        people: list[tuple[str, str, str, str]], name: str, code: str, where: str) -> None:
    command = ["users", "add", "new-2", "--role", "auditor"]
    args = ["--as", name, *command] if where == "before" else [*command, "--as", name]
    exit_code, err = _bwc(*args)
    assert (exit_code, err["error"]["code"]) == (2, code)
    assert name in err["error"]["message"]
    assert _log() == people  # nothing recorded
    assert "new-2" not in [u["username"] for u in _bwc("users", "list")[1]]


def test_as_a_custodian_acts_as_the_custodian_where_the_command_allows(
        people: list[tuple[str, str, str, str]]) -> None:
    code, made = _bwc("--as", "cy", "requests", "add", "--description", "hallway, 2 March",
                      "--requester", "R. Doe", "--type", "public")
    assert code == 0, made
    assert _log()[len(people):] == [("cy", "custodian", "request.create", made["id"])]


def test_two_different_names_are_refused(people: list[tuple[str, str, str, str]]) -> None:
    code, err = _bwc("--as", "ada", "users", "add", "new-3", "--role", "auditor", "--as", "cy")
    assert (code, err["error"]["code"]) == (2, "invalid_input")
    assert _log() == people


def test_every_command_that_records_takes_as() -> None:
    from typer.main import get_command

    without: set[str] = set()

    def walk(group: Any, path: str) -> None:
        for name, cmd in group.commands.items():
            if hasattr(cmd, "commands"):
                walk(cmd, f"{path}{name} ")
            elif "--as" not in {o for p in cmd.params for o in getattr(p, "opts", [])}:
                without.add(f"{path}{name}")

    walk(get_command(app), "")
    # the server, the schema, the dock (it acts with its own token), and the file-only
    # tools that record nothing
    assert without == {"serve", "db upgrade", "db check", "dock watch", "redact",
                       "policy explain", "policy lint", "policy docs"}


@pytest.mark.parametrize("command", [["keys", "rotate"], ["keys", "rotate-signing"]])
def test_a_refused_as_leaves_the_keys_alone(people: list[tuple[str, str, str, str]],
                                            command: list[str]) -> None:
    from bwc_custody.config import get_settings

    keys = get_settings().keys_dir
    before = sorted((p.name, p.read_bytes()) for p in keys.rglob("*") if p.is_file())
    code, err = _bwc("--as", "cy", *command)
    assert (code, err["error"]["code"]) == (2, "operator_lacks_role")
    assert sorted((p.name, p.read_bytes()) for p in keys.rglob("*") if p.is_file()) == before
    assert _log() == people
