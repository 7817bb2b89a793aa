"""`bwc tags`, `bwc analyze`, `bwc adults enrol|list|remove`, `bwc notifications list|done`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from bwc_custody.auth.service import Principal, cli_operator
from bwc_custody.errors import BwcError
from bwc_custody.roles import Role


def _operator() -> Principal:
    """Whoever runs the command: as the admin, or (`--as` a custodian) as the custodian."""
    return cli_operator(Role.admin, Role.custodian)


def _tag_dict(t: Any) -> dict[str, Any]:
    from bwc_custody.tags.models import TagRead

    return TagRead.model_validate(t).model_dump(mode="json")


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the `bwc` app."""
    from bwc_custody.commands import emit, fail, in_session

    adults_app = typer.Typer(help="Known adults (consenting SROs, staff) not counted as "
                                  "students.", no_args_is_help=True)
    app.add_typer(adults_app, name="adults")
    notes_app = typer.Typer(help="3-day notifications (detention under 18, arrest, firearm "
                                 "or Taser).", no_args_is_help=True)
    app.add_typer(notes_app, name="notifications")

    @notes_app.command("list")
    def list_notifications(all_: bool = typer.Option(False, "--all",
                                                     help="Include those done.")) -> None:
        """Notifications, soonest due first."""
        from bwc_custody.tags import service
        from bwc_custody.tags.models import NotificationRead

        emit(in_session(lambda session: [
            NotificationRead.model_validate(n).model_dump(mode="json")
            for n in service.list_notifications(session=session, open_only=not all_)]))

    @notes_app.command("done")
    def notification_done(notification_id: int,
                          note: str = typer.Option(..., help="How and to whom notice was "
                                                   "given (logged).")) -> None:
        """Record that a notification was given."""
        from bwc_custody.tags import service
        from bwc_custody.tags.models import NotificationRead

        emit(in_session(lambda session: NotificationRead.model_validate(
            service.mark_notification_done(session=session, notification_id=notification_id,
                                           actor=_operator(), note=note,
                                           client_addr="cli")).model_dump(mode="json")))

    tags_app = typer.Typer(help="A recording's tags: what the policy engine reads.",
                           no_args_is_help=True)
    app.add_typer(tags_app, name="tags")

    @tags_app.command("show")
    def tags(evidence_id: str = typer.Argument(..., help="A recording id or its start."),
             active: bool = typer.Option(False, help="Only tags in force.")) -> None:
        """Show a recording's tags with provenance (source, time, confidence, evidence)."""
        from bwc_custody.evidence.service import find
        from bwc_custody.tags import service

        def show(session: Any) -> dict[str, Any]:
            found = find(session=session, ref=evidence_id).id
            rows = service.list_tags(session=session, evidence_id=found,
                                     include_removed=not active)
            return {"evidence_id": found,
                    "effective": sorted({t.name for t in rows if t.removed_at is None}),
                    "tags": [_tag_dict(t) for t in rows]}

        emit(in_session(show))

    @tags_app.command("add")
    def tag_add(evidence_id: str = typer.Argument(..., help="A recording id or its start."),
                tag: str = typer.Argument(..., help="e.g. investigation_open, multi_student."),
                reason: str = typer.Option(..., help="Why (recorded in the custody log).")
                ) -> None:
        """Tag a recording (as custodian); its open requests are decided again."""
        from bwc_custody.evidence.service import find
        from bwc_custody.flows import tagging

        def add(session: Any) -> dict[str, Any]:
            found = find(session=session, ref=evidence_id).id
            return _tag_dict(tagging.add_tag(session=session, evidence_id=found, name=tag,
                                             source="custodian",
                                             actor=cli_operator(Role.custodian),
                                             reason=reason, client_addr="cli"))

        emit(in_session(add))

    @tags_app.command("remove")
    def tag_remove(evidence_id: str = typer.Argument(..., help="A recording id or its start."),
                   tag: str = typer.Argument(..., help="The tag to remove (every source)."),
                   reason: str = typer.Option(..., help="Why (recorded in the custody log).")
                   ) -> None:
        """Remove a tag from a recording (as custodian); its open requests are decided
        again."""
        from bwc_custody.evidence.service import find
        from bwc_custody.flows import tagging

        def remove(session: Any) -> list[dict[str, Any]]:
            found = find(session=session, ref=evidence_id).id
            return [_tag_dict(t) for t in tagging.remove_tag(
                session=session, evidence_id=found, name=tag, actor=cli_operator(Role.custodian),
                reason=reason, client_addr="cli")]

        emit(in_session(remove))

    @app.command("analyze")
    def analyze(
        target: str = typer.Argument(..., help="An evidence id, or a video file."),
        campus: bool = typer.Option(False, help="For a FILE: apply the on-campus rules."),
    ) -> None:
        """Count distinct people (JSON: distinct_people, tracks, tags).

        An evidence id is queued, run here in the foreground by the job worker code, stored
        and tagged; a FILE is only read."""
        from bwc_custody.db import check_migrated, session_scope
        from bwc_custody.tags import rules, service

        path = Path(target)
        try:
            if path.is_file():
                from bwc_custody.tags.analysis import people_of
                from redaction.analysis import analyze_file

                adults: list[Any] = []
                try:
                    check_migrated()
                    from bwc_custody.vault.service import get_keyring

                    with session_scope() as session:
                        adults = service.load_known_adults(session=session,
                                                           keyring=get_keyring())
                except BwcError:
                    adults = []  # no database here: nobody is a known adult
                result = analyze_file(str(path), known_adults=adults)
                data = result.to_dict()
                basis = "--campus given for this file" if campus else None
                proposed = rules.auto_tags(campus=basis, people=people_of(data["tracks"]))
                data["tags"] = [{"name": t.name, "source": "auto", "confidence": t.confidence,
                                 "evidence": t.evidence} for t in proposed]
                data["file"] = str(path)
                emit(data)
                return
            check_migrated()
            from bwc_custody.jobs.cli import run_in_foreground
            from bwc_custody.tags.analysis import latest_analysis, request_analysis

            with session_scope() as session:
                job = request_analysis(session=session, evidence_id=target,
                                       actor=_operator(), client_addr="cli")
            run_in_foreground(job.id)
            with session_scope() as session:
                from bwc_custody.tags.models import AnalysisRead

                row = latest_analysis(session=session, evidence_id=target)
                # The API's shape (times as aware UTC), plus what this run made.
                out = AnalysisRead.model_validate(row).model_dump(mode="json")
                out["analysis_id"] = row.id
                out["job_id"] = job.id
                out["tags"] = [_tag_dict(t) for t in service.list_tags(
                    session=session, evidence_id=target, include_removed=False)]
        except BwcError as exc:
            fail(exc)
        emit(out)

    @adults_app.command("enrol")
    def enrol(
        name: str,
        photos: list[Path] = typer.Argument(..., exists=True, dir_okay=False, readable=True),
        consent: str = typer.Option(..., help="Record of the adult's consent (required)."),
    ) -> None:
        """Enrol a known adult from reference photos (one clear face each)."""
        from bwc_custody.tags import service
        from bwc_custody.tags.models import KnownAdultRead
        from bwc_custody.vault.service import get_keyring

        emit(in_session(lambda session: KnownAdultRead.model_validate(
            service.enrol_known_adult(session=session, keyring=get_keyring(), name=name,
                                      photos=[p.read_bytes() for p in photos],
                                      consent=consent, actor=_operator(),
                                      client_addr="cli")).model_dump(mode="json")))

    @adults_app.command("list")
    def list_adults(all_: bool = typer.Option(False, "--all", help="Include removed.")) -> None:
        """List known adults (never their encodings)."""
        from bwc_custody.tags import service
        from bwc_custody.tags.models import KnownAdultRead

        emit(in_session(lambda session: [
            KnownAdultRead.model_validate(r).model_dump(mode="json")
            for r in service.list_known_adults(session=session, include_removed=all_)]))

    @adults_app.command("remove")
    def remove(adult_id: int,
               reason: str = typer.Option(..., help="Why (recorded in the custody log).")
               ) -> None:
        """Remove a known adult; the encrypted encodings are erased."""
        from bwc_custody.tags import service
        from bwc_custody.tags.models import KnownAdultRead

        emit(in_session(lambda session: KnownAdultRead.model_validate(
            service.remove_known_adult(session=session, adult_id=adult_id,
                                       actor=_operator(), reason=reason,
                                       client_addr="cli")).model_dump(mode="json")))
