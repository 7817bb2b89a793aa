"""`bwc requests add|list|show|link|submit|deny|release|close`: the custodian's records-request
commands. The legal sign-off between `submit` and `release` is a named legal reviewer's, so it
is made through the API (`POST /requests/{id}/approve`), never by the CLI's local operator."""

from __future__ import annotations

from datetime import date
from typing import Any

import typer

from bwc_custody.appeals import service as appeals
from bwc_custody.appeals.models import AppealCreate, AppealDecision
from bwc_custody.auth.service import LOCAL_OPERATOR, Principal
from bwc_custody.commands import emit, in_session
from bwc_custody.errors import validated
from bwc_custody.flows import requests as flow
from bwc_custody.releases import service as releases
from bwc_custody.releases.models import RoundRead, SubmitBody
from bwc_custody.requests import service
from bwc_custody.requests.models import DecisionRead, RequestCreate
from bwc_custody.roles import Role
from bwc_custody.vault.service import get_keyring, get_signer, get_store

# Whoever runs the CLI holds the database and the keys; they act here as the custodian, and
# the custody log names them `local-operator` as for every other command.
CLI_CUSTODIAN = Principal(user_id=None, username=LOCAL_OPERATOR.username,
                          roles=frozenset({Role.custodian}))


def _read(session: Any, row: Any) -> dict[str, Any]:
    return flow.view_of(session=session, row=row, actor=CLI_CUSTODIAN).model_dump(mode="json")


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the `bwc` app."""
    requests_app = typer.Typer(help="Records requests and the policy decision on each.",
                               no_args_is_help=True)
    app.add_typer(requests_app, name="requests")

    @requests_app.command("add")
    def add(
        description: str = typer.Option(..., help="What is asked for, in the requester's "
                                        "words."),
        requester: str = typer.Option(..., help="The requester's name."),
        requester_type: str = typer.Option(..., "--type", help="public, news_media, "
                                           "school_personnel, parent_guardian, ..."),
        form: str = typer.Option("copy", help="inspection or copy."),
        evidence: str | None = typer.Option(None, help="The evidence id asked for."),
        received_on: str | None = typer.Option(None, help="YYYY-MM-DD (default today)."),
        ky_resident: bool = typer.Option(False, help="The requester lives in Kentucky."),
        parent_of_depicted: bool = typer.Option(False, help="Parent of a child shown."),
        attorney_affidavit: bool = typer.Option(False, help="KRS 61.169 affidavit given."),
    ) -> None:
        """Record a request; with --evidence it is decided at once (JSON with the decision)."""
        body = RequestCreate(
            description=description, requester_name=requester, requester_type=requester_type,
            form=form, evidence_id=evidence, ky_resident=ky_resident,
            parent_of_depicted=parent_of_depicted, attorney_affidavit=attorney_affidavit,
            received_on=date.fromisoformat(received_on) if received_on else None)
        emit(in_session(lambda s: _read(s, service.create_request(
            session=s, body=body, actor=CLI_CUSTODIAN, client_addr="cli"))))

    @requests_app.command("list")
    def list_(state: str | None = typer.Option(None, help="open, in_review, approved, "
                                               "released or closed."),
              evidence: str | None = typer.Option(None, help="Only this evidence id.")) -> None:
        """Requests with their decisions, soonest deadline first."""
        emit(in_session(lambda s: [r.model_dump(mode="json") for r in flow.views_of(
            session=s, actor=CLI_CUSTODIAN, rows=service.list_requests(
                session=s, actor=CLI_CUSTODIAN, state=state, evidence_id=evidence))]))

    @requests_app.command("show")
    def show(request_id: str) -> None:
        """One request and every decision made on it (why, when, on which tags)."""

        def _show(s: Any) -> dict[str, Any]:
            out = _read(s, service.get_or_raise(session=s, request_id=request_id))
            out["decisions"] = [DecisionRead.model_validate(d).model_dump(mode="json")
                                for d in service.decisions(session=s, request_id=request_id)]
            out["rounds"] = [RoundRead.model_validate(r).model_dump(mode="json")
                             for r in releases.rounds(session=s, request_id=request_id)]
            return out

        emit(in_session(_show))

    @requests_app.command("link")
    def link(request_id: str, evidence_id: str) -> None:
        """Name the recording a request asks for; it is decided on that recording's tags."""

        def _link(s: Any) -> dict[str, Any]:
            flow.link_evidence(session=s, request_id=request_id, evidence_id=evidence_id,
                               actor=CLI_CUSTODIAN, client_addr="cli")
            return _read(s, service.get_or_raise(session=s, request_id=request_id))

        emit(in_session(_link))

    @requests_app.command("submit")
    def submit(request_id: str, derivative_id: str,
               note: str = typer.Option("", help="For the reviewer: what was redacted.")
               ) -> None:
        """Put one redacted file of the linked recording before legal review."""

        def _submit(s: Any) -> dict[str, Any]:
            releases.submit(session=s, request_id=request_id, actor=CLI_CUSTODIAN,
                            body=SubmitBody(derivative_id=derivative_id, note=note),
                            client_addr="cli")
            return _read(s, service.get_or_raise(session=s, request_id=request_id))

        emit(in_session(_submit))

    @requests_app.command("deny")
    def deny(request_id: str,
             explanation: str = typer.Option(..., help="How the exceptions apply to the "
                                             "record withheld (sent to the requester).")
             ) -> None:
        """The written denial (KRS 61.880(1)), when the decision in force withholds."""

        def _deny(s: Any) -> dict[str, Any]:
            releases.deny(session=s, signer=get_signer(), request_id=request_id,
                          explanation=explanation, actor=CLI_CUSTODIAN, client_addr="cli")
            return _read(s, service.get_or_raise(session=s, request_id=request_id))

        emit(in_session(_deny))

    @requests_app.command("release")
    def release(request_id: str) -> None:
        """Release the file a legal reviewer approved (its stored bytes re-hashed first)."""

        def _release(s: Any) -> dict[str, Any]:
            releases.release(session=s, store=get_store(), keyring=get_keyring(),
                             signer=get_signer(),
                             request_id=request_id, actor=CLI_CUSTODIAN, client_addr="cli")
            return _read(s, service.get_or_raise(session=s, request_id=request_id))

        emit(in_session(_release))

    @requests_app.command("appeal")
    def appeal(request_id: str,
               forum: str = typer.Option(..., help="attorney_general or circuit_court."),
               filed_on: str = typer.Option(..., help="The day the appeal was filed "
                                            "(YYYY-MM-DD)."),
               note: str = typer.Option(..., help="How the agency learned of it."),
               reference: str = typer.Option("", help="The AG's log or the court's case "
                                             "number.")) -> None:
        """Record an appeal of the answer to a request (KRS 61.880(2)); its recording is
        kept while it is pending and 30 days after its decision."""

        emit(in_session(lambda s: appeals.read(appeals.record_appeal(
            session=s, request_id=request_id, actor=CLI_CUSTODIAN, client_addr="cli",
            body=validated(AppealCreate, {"forum": forum, "filed_on": filed_on, "note": note,
                                          "reference": reference}))).model_dump(mode="json")))

    @requests_app.command("appeal-decided")
    def appeal_decided(request_id: str, appeal_id: int,
                       outcome: str = typer.Option(..., help="upheld, reversed, "
                                                   "partly_reversed, dismissed or withdrawn."),
                       decided_on: str = typer.Option(..., help="YYYY-MM-DD."),
                       note: str = typer.Option(..., help="What was decided, in brief."),
                       reference: str = typer.Option("", help="e.g. 26-ORD-123.")) -> None:
        """Record the Attorney General's or the court's decision on an appeal."""
        emit(in_session(lambda s: appeals.read(appeals.record_decision(
            session=s, request_id=request_id, appeal_id=appeal_id, actor=CLI_CUSTODIAN,
            client_addr="cli", body=validated(AppealDecision, {
                "outcome": outcome, "decided_on": decided_on, "note": note,
                "reference": reference}))).model_dump(mode="json")))

    @requests_app.command("close")
    def close(request_id: str,
              reason: str = typer.Option(..., help="Why (recorded in the custody log).")) -> None:
        """Close a request; its decisions stay on record."""
        emit(in_session(lambda s: _read(s, flow.close_request(
            session=s, request_id=request_id, actor=CLI_CUSTODIAN, reason=reason,
            client_addr="cli"))))
