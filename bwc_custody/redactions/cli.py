"""`bwc redactions request|list|export`: redaction of evidence items (the file-to-file tool
is `bwc redact IN OUT`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from bwc_custody.auth.service import Principal, cli_operator
from bwc_custody.errors import BwcError, InvalidInput, validated
from bwc_custody.roles import Role

if TYPE_CHECKING:
    from bwc_custody.redactions.models import SpeechAnalysis


def _operator() -> Principal:
    """Whoever runs the command: as the admin, or (`--as` a custodian) as the custodian."""
    return cli_operator(Role.admin, Role.custodian)


def _heads_line(asked: dict[str, Any], *, on: bool) -> str:
    """Which request and rule ask for whole heads, and whether this copy has them."""
    rules = "; ".join(f"{r['id']} ({r['citation']})" for r in asked["rules"])
    state = "heads on" if on else "heads OFF (--no-heads): that request will refuse this copy"
    return (f"{state}: request {asked['request_id']}, recording {asked['position']}, asks "
            f"for whole heads: {rules}")


def _ids(text: str) -> set[int]:
    try:
        return {int(x) for x in text.replace(" ", "").split(",") if x}
    except ValueError:
        raise InvalidInput(f"suggestion ids are whole numbers separated by commas: {text!r}",
                           given=text) from None


def _speech_choice(row: SpeechAnalysis, accept: str, reject: str) -> dict[str, Any]:
    """--accept/--reject as a redaction request's `speech` (`all` and `rest` expanded)."""
    every = {int(x["id"]) for x in row.suggestions}
    yes = every if accept.strip() == "all" else _ids(accept)
    no = (every - yes) if reject.strip() == "rest" else _ids(reject)
    return {"analysis_id": row.id,
            "decisions": [{"id": i, "action": "accept"} for i in sorted(yes)]
            + [{"id": i, "action": "reject"} for i in sorted(no)]}


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the `bwc` app."""
    from bwc_custody.commands import emit, fail, in_session

    red_app = typer.Typer(help="Redacted derivatives of evidence.", no_args_is_help=True)
    app.add_typer(red_app, name="redactions")

    @red_app.command("request")
    def request(
        evidence_id: str,
        regions: Path | None = typer.Option(None, exists=True, dir_okay=False,
                                            help="Regions JSON (boxes, blackout, mute)."),
        keep_adult: list[int] = typer.Option([], help="Known adult id who may stay visible."),
        keep_person: list[str] = typer.Option(
            [], help="A person the person count found (`bwc people`: <analysis>-<n>) who stays "
            "visible; repeat for several."),
        keep_reason: list[str] = typer.Option(
            [], help="Why a kept person may be seen, as PERSON=REASON (kept in the manifest's "
            "exemption log)."),
        heads: bool | None = typer.Option(
            None, "--heads/--no-heads", help="Blur every whole head too. Left out: on while a "
            "live request's decision on the recording asks for whole heads (the rule is "
            "printed); --no-heads makes a faces-only copy, which such a request refuses at "
            "submission."),
        mute_sound: str | None = typer.Option(None, help="silence or bleep: what muted "
                                              "ranges sound like."),
        speech: int | None = typer.Option(None, help="A speech search's id (`bwc redactions "
                                          "speech`): answer its suggestions with --accept and "
                                          "--reject."),
        accept: str = typer.Option("", help="Suggestions to mute: ids (0,2,5) or `all`."),
        reject: str = typer.Option("", help="Suggestions to leave: ids (1,3) or `rest`."),
        wait: bool = typer.Option(False, help="Run the job here now instead of leaving it "
                                  "to `bwc worker`."),
    ) -> None:
        """Queue a redaction of an evidence item (prints the job; with --wait, the result).
        With --speech, every suggestion must be accepted or rejected."""
        from bwc_custody.db import check_migrated, session_scope
        from bwc_custody.flows import redactions as flow
        from bwc_custody.jobs.cli import _job_dict, run_in_foreground
        from bwc_custody.redactions import service
        from bwc_custody.redactions.models import RedactionRequest
        from redaction.regions import load_regions

        try:
            check_migrated()
            reasons = dict(r.partition("=")[::2] for r in keep_reason)
            with session_scope() as session:
                choice = None if speech is None else _speech_choice(
                    service.get_speech_search(session=session, evidence_id=evidence_id,
                                              speech_id=speech), accept, reject)
            body = validated(RedactionRequest, {
                "regions": load_regions(regions).model_dump(exclude_defaults=True)
                if regions else {}, "keep_adults": keep_adult, "heads": heads,
                "mute_sound": mute_sound, "speech": choice, "keep_persons": keep_person,
                "keep_reasons": {k.strip(): v.strip() for k, v in reasons.items()}})
            with session_scope() as session:
                job = flow.request_redaction(session=session, evidence_id=evidence_id,
                                             body=body, actor=_operator(), client_addr="cli")
                for asked in job.params.get("heads_asked_by", []):
                    typer.echo(_heads_line(asked, on=bool(job.params.get("heads"))), err=True)
            out = _job_dict(run_in_foreground(job.id) if wait else job)
        except BwcError as exc:
            fail(exc)
        emit(out)

    @red_app.command("speech")
    def speech_search(
        evidence_id: str,
        words: str = typer.Option("", help="Names, places, a school, comma-separated "
                                  "(`Jayden Okafor,Maple Street`)."),
        terms: Path | None = typer.Option(None, exists=True, dir_okay=False,
                                          help="A terms JSON file (terms, patterns, numbers, "
                                          "min_digits: redaction/README.md)."),
        numbers: bool = typer.Option(True, help="Also suggest muting spoken numbers."),
        wait: bool = typer.Option(False, help="Run the job here now instead of leaving it "
                                  "to `bwc worker`."),
    ) -> None:
        """Search a recording's speech for what identifies a child: each hit becomes a
        suggested mute range (see them with `bwc redactions suggestions`)."""
        import json

        from bwc_custody.db import check_migrated, session_scope
        from bwc_custody.jobs.cli import _job_dict, run_in_foreground
        from bwc_custody.redactions import service
        from redaction.speech_models import parse_terms

        try:
            check_migrated()
            given: dict[str, Any] = json.loads(terms.read_text()) if terms else {}
            if not isinstance(given, dict):
                raise InvalidInput("the terms file holds a JSON object", path=str(terms))
            given["terms"] = [*given.get("terms", []),
                              *(w.strip() for w in words.split(",") if w.strip())]
            given.setdefault("numbers", numbers)
            with session_scope() as session:
                job = service.request_speech_search(
                    session=session, evidence_id=evidence_id, terms=parse_terms(given),
                    actor=_operator(), client_addr="cli")
            out = _job_dict(run_in_foreground(job.id) if wait else job)
        except (BwcError, json.JSONDecodeError) as exc:
            fail(exc if isinstance(exc, BwcError)
                 else InvalidInput(f"the terms file is not JSON: {exc}"))
        emit(out)

    @red_app.command("suggestions")
    def suggestions(evidence_id: str) -> None:
        """A recording's speech searches, newest first, with their suggested mute ranges."""
        from bwc_custody.redactions import service
        from bwc_custody.redactions.models import SpeechRead

        emit(in_session(lambda session: [
            SpeechRead.model_validate(r).model_dump(mode="json")
            for r in service.list_speech_searches(session=session, evidence_id=evidence_id)]))

    @red_app.command("list")
    def list_(evidence_id: str) -> None:
        """An evidence item's derivatives."""
        from bwc_custody.redactions import service
        from bwc_custody.redactions.models import DerivativeRead

        emit(in_session(lambda session: [
            DerivativeRead.model_validate(d).model_dump(mode="json")
            for d in service.list_derivatives(session=session, evidence_id=evidence_id)]))

    @red_app.command("export")
    def export(
        derivative_id: str,
        out: Path = typer.Argument(..., dir_okay=False, help="Where to write the video."),
        reason: str = typer.Option(..., help="Why it is exported (logged)."),
        manifest: Path | None = typer.Option(None, dir_okay=False,
                                             help="Also write the manifest here."),
    ) -> None:
        """Decrypt a derivative (and its manifest) to files; each read is logged."""
        from bwc_custody.db import check_migrated, session_scope
        from bwc_custody.redactions import service
        from bwc_custody.vault.service import get_keyring, get_store

        written = {}
        try:
            check_migrated()
            for part, path in (("video", out), ("manifest", manifest)):
                if path is None:
                    continue
                if path.exists():
                    raise typer.BadParameter(f"{path} exists; not overwritten")
                with session_scope() as session:
                    _row, obj, reader = service.open_derivative(
                        session=session, store=get_store(), keyring=get_keyring(),
                        derivative_id=derivative_id,
                        part="video" if part == "video" else "manifest",
                        actor=_operator(), reason=reason, client_addr="cli")
                tmp = path.with_name(f".{path.name}.partial")
                with open(tmp, "wb") as fh:
                    for chunk in reader.iter_plaintext():
                        fh.write(chunk)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
                written[part] = {"path": str(path), "sha256": obj.sha256, "bytes": obj.size}
        except BwcError as exc:
            fail(exc)
        emit(written)
