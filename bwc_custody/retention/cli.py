"""`bwc retention show|due|hold|lift|close-case|dispose`: the custodian's retention commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from bwc_custody.auth.service import cli_operator
from bwc_custody.errors import InvalidInput, validated
from bwc_custody.roles import Role

if TYPE_CHECKING:
    from sqlmodel import Session


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the `bwc` app."""
    from bwc_custody.commands import emit, fail, in_session

    retention_app = typer.Typer(help="Retention schedule, holds and destruction (KDLA L6707).",
                                no_args_is_help=True)
    app.add_typer(retention_app, name="retention")

    @retention_app.command("show")
    def show(evidence_id: str) -> None:
        """How a recording's retention stands: blockers with their rules, holds."""
        from bwc_custody.retention import service

        emit(in_session(lambda s: service.status(session=s, evidence_id=evidence_id)
                        .model_dump(mode="json")))

    @retention_app.command("due")
    def due() -> None:
        """Recordings due for destruction now (JSON list), oldest first."""
        from bwc_custody.retention import service

        emit(in_session(lambda s: [v.model_dump(mode="json") for v in service.due(session=s)]))

    @retention_app.command("hold")
    def hold(evidence_id: str,
             kind: str = typer.Option(..., help="investigation, litigation, records_request "
                                      "or other."),
             reference: str = typer.Option("", help="Case, court or request number."),
             reason: str = typer.Option(..., help="Why (recorded in the custody log)."),
             tag_investigation_open: bool = typer.Option(
                 False, help="With an investigation hold: also tag the recording "
                 "investigation_open, which withholds it from requesters.")) -> None:
        """Hold a recording past its schedule."""
        from bwc_custody.flows import tagging
        from bwc_custody.retention import service
        from bwc_custody.retention.models import HoldCreate
        from bwc_custody.vault.service import get_store

        try:
            body = validated(HoldCreate, {"kind": kind, "reference": reference,
                                          "reason": reason,
                                          "tag_investigation_open": tag_investigation_open})
        except InvalidInput as exc:
            fail(exc)

        def run(s: Session) -> dict[str, Any]:
            tagging.place_hold(session=s, store=get_store(), evidence_id=evidence_id,
                               body=body, actor=cli_operator(Role.custodian), client_addr="cli")
            return service.status(session=s, evidence_id=evidence_id).model_dump(mode="json")

        emit(in_session(run))

    @retention_app.command("lift")
    def lift(evidence_id: str, hold_id: int,
             reason: str = typer.Option(..., help="Why (recorded in the custody log).")) -> None:
        """Lift one hold."""
        from bwc_custody.retention import service
        from bwc_custody.vault.service import get_store

        def run(s: Session) -> dict[str, Any]:
            service.lift_hold(session=s, store=get_store(), evidence_id=evidence_id,
                              hold_id=hold_id, reason=reason, actor=cli_operator(Role.custodian),
                              client_addr="cli")
            return service.status(session=s, evidence_id=evidence_id).model_dump(mode="json")

        emit(in_session(run))

    @retention_app.command("close-case")
    def close_case(case_number: str,
                   reason: str = typer.Option(..., help="How it is known that all legal "
                                              "activity has ended.")) -> None:
        """Record that a case's legal activity has ended; its recordings fall under the
        schedule from now."""
        from bwc_custody.retention import service
        from bwc_custody.retention.models import CaseClose, CaseClosureRead

        body = CaseClose(case_number=case_number, reason=reason)
        emit(in_session(lambda s: CaseClosureRead.model_validate(service.close_case(
            session=s, body=body, actor=cli_operator(Role.custodian), client_addr="cli"))
            .model_dump(mode="json")))

    @retention_app.command("dispose")
    def dispose(evidence_id: str,
                reason: str = typer.Option(..., help="Why (recorded in the custody log).")
                ) -> None:
        """Destroy a recording due under its schedule; refused, naming what keeps it."""
        from bwc_custody.retention import service
        from bwc_custody.vault.service import get_store

        emit(in_session(lambda s: service.dispose(
            session=s, store=get_store(), evidence_id=evidence_id, reason=reason,
            actor=cli_operator(Role.custodian), client_addr="cli").model_dump(mode="json")))
