"""`bwc requests ...`: the custodian's records-request commands. A request names one or more
recordings; each is decided, submitted, released or denied on its own (name one by its
position in the request, `1`, `2`, ..., or its id). The legal sign-off between `submit` and
`release` is a named legal reviewer's, so it is made through the API or the console, never
by whoever runs the CLI."""

from __future__ import annotations

from typing import Any

import typer

from bwc_custody.appeals import service as appeals
from bwc_custody.appeals.models import AppealCreate, AppealDecision
from bwc_custody.auth.service import Principal, cli_operator
from bwc_custody.commands import emit, in_session
from bwc_custody.errors import validated
from bwc_custody.flows import requests as flow
from bwc_custody.releases import service as releases
from bwc_custody.releases.models import DelayNoticeBody, RoundRead, SubmitBody
from bwc_custody.requests import service
from bwc_custody.requests.models import DecisionRead, FactsUpdate, RequestCreate
from bwc_custody.roles import Role
from bwc_custody.vault.service import get_agency_ca, get_keyring, get_signer, get_store


def _custodian() -> Principal:
    """Whoever runs the command, acting as the custodian (`auth.service.cli_operator`)."""
    return cli_operator(Role.custodian)


def _read(session: Any, request_id: str) -> dict[str, Any]:
    return flow.view_by_id(session=session, request_id=request_id,
                           actor=_custodian()).model_dump(mode="json")


def _item(session: Any, request_id: str, ref: str) -> str:
    return service.find_recording(session=session, request_id=request_id, ref=ref).id


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the `bwc` app."""
    requests_app = typer.Typer(help="Records requests, the recordings each asks for, and the "
                                    "policy decision on each recording.",
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
        evidence: list[str] = typer.Option([], help="An evidence id asked for (repeat for "
                                           "several)."),
        received_on: str | None = typer.Option(None, help="YYYY-MM-DD (default today)."),
        residency: str = typer.Option("unknown", help="resident, nonresident or unknown "
                                      "(KRS 61.872(2)(a))."),
        parent_of_depicted: bool = typer.Option(False, help="Claims to be the parent of a "
                                                "child shown (confirm it with `confirm`)."),
        attorney_affidavit: bool = typer.Option(False, help="KRS 61.169 affidavit given."),
    ) -> None:
        """Record a request; each --evidence is linked and decided at once (JSON)."""
        given = {"description": description, "requester_name": requester,
                 "requester_type": requester_type, "form": form, "evidence_ids": evidence,
                 "residency": residency, "parent_of_depicted": parent_of_depicted,
                 "attorney_affidavit": attorney_affidavit, "received_on": received_on}
        emit(in_session(lambda s: _read(s, flow.create_request(
            session=s, body=validated(RequestCreate, given), actor=_custodian(),
            client_addr="cli").id)))

    @requests_app.command("list")
    def list_(state: str | None = typer.Option(None, help="open, answered or closed."),
              evidence: str | None = typer.Option(None, help="Only those naming this "
                                                  "evidence id.")) -> None:
        """Requests with their recordings and decisions, soonest deadline first."""
        emit(in_session(lambda s: [r.model_dump(mode="json") for r in flow.views_of(
            session=s, actor=_custodian(), rows=service.list_requests(
                session=s, actor=_custodian(), state=state, evidence_id=evidence))]))

    @requests_app.command("show")
    def show(request_id: str) -> None:
        """One request, every decision made on each recording (why, when, on which tags)
        and every review round."""

        def _show(s: Any) -> dict[str, Any]:
            out = _read(s, request_id)
            out["decisions"] = [DecisionRead.model_validate(d).model_dump(mode="json")
                                for d in service.decisions(session=s, request_id=request_id)]
            out["rounds"] = [RoundRead.model_validate(r).model_dump(mode="json")
                             for r in releases.rounds(session=s, request_id=request_id)]
            return out

        emit(in_session(_show))

    @requests_app.command("link")
    def link(request_id: str, evidence_ids: list[str]) -> None:
        """Name recordings a request asks for; each is decided on its own tags."""

        def _link(s: Any) -> dict[str, Any]:
            flow.link_recordings(session=s, request_id=request_id, evidence_ids=evidence_ids,
                                 actor=_custodian(), client_addr="cli")
            return _read(s, request_id)

        emit(in_session(_link))

    @requests_app.command("facts")
    def facts(request_id: str,
              residency: str | None = typer.Option(None, help="resident or nonresident, as "
                                                   "the requester stated (KRS 61.872(2)(a))."),
              custodial_parent: bool | None = typer.Option(None, help="Has legal custody of "
                                                            "the child (KRS 620.050)."),
              person_tested: bool | None = typer.Option(None, help="Is the person whose "
                                                         "sobriety test is recorded."),
              attorney_affidavit: bool | None = typer.Option(None, help="Signed the KRS "
                                                              "61.169 affidavit.")) -> None:
        """Record what was learned or checked about the requester; decided again."""
        given = {k: v for k, v in {
            "residency": residency, "custodial_parent": custodial_parent,
            "person_tested": person_tested, "attorney_affidavit": attorney_affidavit,
        }.items() if v is not None}

        def _facts(s: Any) -> dict[str, Any]:
            flow.update_facts(session=s, request_id=request_id,
                              body=validated(FactsUpdate, given), actor=_custodian(),
                              client_addr="cli")
            return _read(s, request_id)

        emit(in_session(_facts))

    @requests_app.command("confirm")
    def confirm(request_id: str,
                note: str = typer.Option(..., help="The document seen (birth certificate, "
                                         "custody order, letters of administration...).")
                ) -> None:
        """Confirm the relationship the requester claims; decided again."""

        def _confirm(s: Any) -> dict[str, Any]:
            flow.confirm_relationship(session=s, request_id=request_id, note=note,
                                      actor=_custodian(), client_addr="cli")
            return _read(s, request_id)

        emit(in_session(_confirm))

    @requests_app.command("submit")
    def submit(request_id: str, recording: str, derivative_id: str,
               note: str = typer.Option("", help="For the reviewer: what was redacted.")
               ) -> None:
        """Put one redacted file of a recording (its position or id) before legal review."""

        def _submit(s: Any) -> dict[str, Any]:
            releases.submit(session=s, store=get_store(), keyring=get_keyring(),
                            ca=get_agency_ca(), request_id=request_id,
                            item_id=_item(s, request_id, recording), actor=_custodian(),
                            body=SubmitBody(derivative_id=derivative_id, note=note),
                            client_addr="cli")
            return _read(s, request_id)

        emit(in_session(_submit))

    @requests_app.command("deny")
    def deny(request_id: str, recording: str,
             explanation: str = typer.Option(..., help="How the exceptions apply to this "
                                             "recording (it goes into the letter).")
             ) -> None:
        """Deny a recording (KRS 61.880(1)) when the decision in force withholds it; the
        written response goes out once every recording is answered."""

        def _deny(s: Any) -> dict[str, Any]:
            releases.deny(session=s, signer=get_signer(), request_id=request_id,
                          item_id=_item(s, request_id, recording), explanation=explanation,
                          actor=_custodian(), client_addr="cli")
            return _read(s, request_id)

        emit(in_session(_deny))

    @requests_app.command("release")
    def release(request_id: str, recording: str,
                explanation: str = typer.Option("", help="When part is withheld: how the "
                                                "exceptions apply (for the letter).")) -> None:
        """Release the file a legal reviewer approved (checked against the signed approval
        first); the response goes out once every recording is answered."""

        def _release(s: Any) -> dict[str, Any]:
            releases.release(session=s, store=get_store(), keyring=get_keyring(),
                             signer=get_signer(), request_id=request_id,
                             item_id=_item(s, request_id, recording),
                             explanation=explanation, actor=_custodian(),
                             client_addr="cli")
            return _read(s, request_id)

        emit(in_session(_release))

    @requests_app.command("withdraw")
    def withdraw(request_id: str, recording: str,
                 reason: str = typer.Option(..., help="Why (recorded, and in the letter).")
                 ) -> None:
        """Withdraw one recording from a request (not what was asked for, a duplicate)."""

        def _withdraw(s: Any) -> dict[str, Any]:
            flow.close_recording(session=s, signer=get_signer(), request_id=request_id,
                                 item_id=_item(s, request_id, recording),
                                 actor=_custodian(), reason=reason, client_addr="cli")
            return _read(s, request_id)

        emit(in_session(_withdraw))

    @requests_app.command("delay")
    def delay(request_id: str,
              place: str = typer.Option(..., help="Where the records will be available."),
              time: str = typer.Option(..., help="When (hours) they may be inspected."),
              earliest: str = typer.Option(..., help="The earliest date (YYYY-MM-DD)."),
              reason: str = typer.Option(..., help="The detailed reason for the delay.")
              ) -> None:
        """Send the KRS 61.872(5) notice that the records are not ready in five days."""
        given = {"place": place, "time": time, "earliest_date": earliest, "reason": reason}

        def _delay(s: Any) -> dict[str, Any]:
            releases.send_delay_notice(session=s, signer=get_signer(), request_id=request_id,
                                       body=validated(DelayNoticeBody, given),
                                       actor=_custodian(), client_addr="cli")
            return _read(s, request_id)

        emit(in_session(_delay))

    @requests_app.command("residency-request")
    def residency_request(request_id: str) -> None:
        """Ask the requester for the statement of residency (KRS 61.872(2)(a))."""

        def _ask(s: Any) -> dict[str, Any]:
            releases.request_residency_statement(session=s, signer=get_signer(),
                                                 request_id=request_id, actor=_custodian(),
                                                 client_addr="cli")
            return _read(s, request_id)

        emit(in_session(_ask))

    @requests_app.command("appeal")
    def appeal(request_id: str,
               forum: str = typer.Option(..., help="attorney_general or circuit_court."),
               filed_on: str = typer.Option(..., help="The day the appeal was filed "
                                            "(YYYY-MM-DD)."),
               note: str = typer.Option(..., help="How the agency learned of it."),
               reference: str = typer.Option("", help="The AG's log or the court's case "
                                             "number.")) -> None:
        """Record an appeal of the answer to a request (KRS 61.880(2)); its recordings are
        kept while it is pending and until the time to go to court has run."""
        emit(in_session(lambda s: appeals.read(appeals.record_appeal(
            session=s, request_id=request_id, actor=_custodian(), client_addr="cli",
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
            session=s, request_id=request_id, appeal_id=appeal_id, actor=_custodian(),
            client_addr="cli", body=validated(AppealDecision, {
                "outcome": outcome, "decided_on": decided_on, "note": note,
                "reference": reference}))).model_dump(mode="json")))

    @requests_app.command("close")
    def close(request_id: str,
              reason: str = typer.Option(..., help="Why (recorded in the custody log).")) -> None:
        """Close a request: its live recordings are withdrawn; the response goes out for any
        already answered. Its decisions stay on record."""
        emit(in_session(lambda s: _read(s, flow.close_request(
            session=s, signer=get_signer(), request_id=request_id, actor=_custodian(),
            reason=reason, client_addr="cli").id)))
