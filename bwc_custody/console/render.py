"""How console pages are made: the templates with their filters (times in the agency's zone,
effects, states and triggers in plain words), the headers every page carries (no script but
the console's own files, no framing, no caching), the page, redirect and error helpers, and
the role shortcuts and form fields every page module uses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, NamedTuple
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

from fastapi import Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from bwc_custody.config import get_settings
from bwc_custody.console.session import (
    COOKIE,
    ConsoleUser,
    console_allow,
    console_form,
    cookie_args,
)
from bwc_custody.errors import BwcError
from bwc_custody.jobs.models import Job
from bwc_custody.jobs.service import time_left
from bwc_custody.roles import ROLE_LABELS, Role
from bwc_custody.timeutil import utcnow, video_clock
from policies.vocabulary import (
    ACTION_LABELS,
    ACTION_TEXTS,
    EFFECT_LABELS,
    EFFECT_MEANINGS,
    EFFECT_PLAIN,
    REDACTION_LABELS,
    REDACTIONS,
    REQUESTER_LABELS,
    REQUESTER_MEANINGS,
    TAG_LABELS,
    TAG_MEANINGS,
    WHOLE_HEADS,
)
from redaction.manifest import FLAG_LABELS, FLAG_MEASURES

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
STATIC = Path(__file__).parent / "static"

STAFF = (Role.custodian, Role.legal_reviewer, Role.auditor)
Staff = Annotated[ConsoleUser, Depends(console_allow(*STAFF))]
Watcher = Annotated[ConsoleUser, Depends(console_allow(Role.custodian, Role.legal_reviewer))]
Auditor = Annotated[ConsoleUser, Depends(console_allow(Role.auditor))]
Custodian = Annotated[ConsoleUser, Depends(console_allow(Role.custodian))]
Reviewer = Annotated[ConsoleUser, Depends(console_allow(Role.legal_reviewer))]
Admin = Annotated[ConsoleUser, Depends(console_allow(Role.admin))]
AdminForm = Annotated[ConsoleUser, Depends(console_form(Role.admin))]
AuditorForm = Annotated[ConsoleUser, Depends(console_form(Role.auditor))]
CustodianForm = Annotated[ConsoleUser, Depends(console_form(Role.custodian))]
ReviewerForm = Annotated[ConsoleUser, Depends(console_form(Role.legal_reviewer))]
HolderForm = Annotated[ConsoleUser, Depends(console_form(Role.custodian, Role.legal_reviewer))]
AnyoneForm = Annotated[ConsoleUser, Depends(console_form(*Role))]
Text = Annotated[str, Form(max_length=4000)]
Short = Annotated[str, Form(max_length=200)]

# The console's own script and style files only: nothing inline, nothing from elsewhere,
# never inside another site's frame; htmx asks this server alone.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; media-src 'self'; "
       "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")

# What a form's redirect may say was done; anything else in `?done=` is not shown, so a
# crafted link cannot put words on a console page.
DONE = {
    "linked": "The recordings are linked and each is decided on its tags.",
    "recorded": "The request is recorded.",
    "submitted": "The file is before legal review.",
    "approved": "The file is signed off for release.",
    "returned": "The file is sent back to the custodian.",
    "released": "The file is released; the written response goes out once every recording "
                "of the request is answered.",
    "denied": "The recording is denied; the written response goes out once every recording "
              "of the request is answered.",
    "released, answered": "The file is released. Every recording is answered: the written "
                          "response is under Letters.",
    "denied, answered": "The recording is denied. Every recording is answered: the written "
                        "response is under Letters.",
    "withdrawn": "The recording is withdrawn from the request.",
    "confirmed": "The relationship is confirmed; the recordings are decided again.",
    "facts recorded": "The requester's facts are recorded; the recordings are decided again.",
    "delay sent": "The delay notice is sent.",
    "residency asked": "The request for a statement of residency is sent.",
    "appeal recorded": "The appeal is recorded; the recording is kept while it stands.",
    "appeal decided": "The appeal's decision is recorded.",
    "closed": "The request is closed.",
    "held": "The hold is placed.",
    "lifted": "The hold is lifted.",
    "case closed": "The case is recorded as closed.",
    "destroyed": "The recording is destroyed; its hash and custody history remain.",
    "redaction queued": "A redaction is queued.",
    "copy queued": "The copy is being made. It appears in the right-hand player when it is "
                   "ready: this page reloads by itself.",
    "person count queued": "A person count is queued.",
    "speech search queued": "The search of the recording's speech is queued; its suggestions "
                            "appear under Make a redacted copy when it is done.",
    "tagged": "The tag is added; the recording's open requests are decided again.",
    "untagged": "The tag is removed; the recording's open requests are decided again.",
    "facts set": "The recording's facts are set; its open requests are decided again.",
    "labelled": "The copy's label is saved.",
    "notice given": "The notification is recorded as given.",
    "logged out": "You are logged out.",
    "roles changed": "The roles are changed; they apply from the user's next page.",
    "disabled": "The account is disabled: its logons and tokens stopped working at once.",
    "enabled": "The account is enabled again; its password, one-time-code key and live "
               "tokens work again.",
    "token revoked": "The token is revoked: nothing can use it any more.",
}

STATE_WORDS = {
    "open": "open", "in_review": "in legal review", "approved": "approved, ready to release",
    "released": "released", "denied": "denied", "closed": "withdrawn", "answered": "answered",
}
TRIGGER_WORDS = {
    "evidence_linked": "the recording was linked", "tags_changed": "a tag or fact changed",
    "facts_changed": "the requester's facts changed",
    "relationship_confirmed": "the relationship was confirmed",
}


def home_of(roles: frozenset[Role]) -> str:
    """The page a user lands on after logon: the queue for staff, the users page for an
    administrator who is nothing else."""
    if Role.admin in roles and not roles & set(STAFF):
        return "/console/admin/users"
    return "/console/"


def agency_zone() -> ZoneInfo:
    """The agency's time zone (BWC_AGENCY_TIMEZONE): Kentucky has two."""
    return ZoneInfo(get_settings().agency_timezone)


def when(value: dt.datetime | None) -> Markup:
    """A time in the agency's zone, to the minute, with the exact UTC on hover."""
    if value is None:
        return Markup("")
    utc = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    local = utc.astimezone(agency_zone())
    shown = local.strftime("%a %d %b %Y, %H:%M %Z")
    exact = utc.astimezone(dt.UTC).isoformat()
    return Markup(f'<time datetime="{exact}" title="UTC {exact}">{escape(shown)}</time>')


def day(value: dt.date | None) -> str:
    """A date as people read it: Wed 10 Mar 2027."""
    return value.strftime("%a %d %b %Y") if value else ""


def effect_words(effect: str, form: str | None = None) -> str:
    """What an effect means for staff, or (with the form asked for) what the requester is
    told."""
    if form:
        return EFFECT_PLAIN.get(effect, {}).get(form, effect)
    return EFFECT_MEANINGS.get(effect, effect)


class Addition(NamedTuple):
    """One thing a rule adds without deciding: its badge label, its meaning for the hover
    text, and the redaction's key when it is one (None for a requirement)."""

    label: str
    meaning: str
    redaction: str | None = None


LEGAL_SIGNOFF = Addition("legal sign-off",
                         "a review by legal authority before anything is released")
NOTICE = Addition("notice", "a notice for staff, shown above with this rule's id")


def rule_adds(decision: Mapping[str, Any], rule: Mapping[str, Any]) -> list[Addition]:
    """What a matched rule that decides nothing adds: the redactions it asks for (whole heads
    first; `redaction_rules`), then legal sign-off, the actions and a notice. A decision
    stored before the rules' sign-off and actions were recorded gives what it recorded."""
    rule_id = rule.get("id")
    asked = decision.get("redaction_rules") or {}
    redactions = sorted((r for r, ids in asked.items() if rule_id in (ids or [])),
                        key=lambda r: (r != WHOLE_HEADS, r))
    adds = [Addition(REDACTION_LABELS.get(r, r), REDACTIONS.get(r, r), r) for r in redactions]
    if rule.get("requires_legal_signoff"):
        adds.append(LEGAL_SIGNOFF)
    adds += [Addition(ACTION_LABELS.get(a, a), ACTION_TEXTS.get(a, {}).get("text", a))
             for a in rule.get("actions") or []]
    if any(n.get("rule") == rule_id for n in decision.get("notices") or []):
        adds.append(NOTICE)
    return adds


def adds_words(adds: list[Addition]) -> str:
    """The badge of a rule that decides nothing but adds something: "none" would say it does
    nothing. Whole heads is how the persons listed are hidden: "adds: whole heads (students)"."""
    if all(a.redaction != WHOLE_HEADS for a in adds):
        return "adds: " + ", ".join(a.label for a in adds)
    hidden = [a.label for a in adds if a.redaction not in (None, WHOLE_HEADS)]
    rest = [a.label for a in adds if a.redaction is None]
    return ", ".join(["adds: whole heads" + (f" ({', '.join(hidden)})" if hidden else ""),
                      *rest])


def adds_meaning(adds: list[Addition]) -> str:
    """The same badge's hover text, in the policy's own words for each thing added."""
    redacted = [a.meaning for a in adds if a.redaction is not None]
    required = [f"{a.label}: {a.meaning}" for a in adds if a.redaction is None]
    said = (["adds to the redactions: " + "; ".join(redacted)] if redacted else []) \
        + (["requires " + "; ".join(required)] if required else [])
    return "Decides nothing; " + "; ".join(said)


def size_words(n: int | None, like: int | None = None) -> str:
    """A number of bytes as people read it, in the unit `like` (default `n`) calls for: a
    test clip of 4,900 bytes is "4.8 KiB", not "0.0 MiB", which reads as nothing read."""
    n = int(n or 0)
    scale = n if like is None else int(like)
    if scale < 1024:
        return f"{n} bytes"
    if scale < 1048576:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 1048576:.1f} MiB"


def plain_value(value: Any) -> str:
    """A custody entry's detail as people read it: lists joined, yes/no, no brackets."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(plain_value(v) for v in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {plain_value(v)}" for k, v in detail_items(value))
    return "" if value is None else str(value)


def watch_length(seconds: float) -> str:
    """A length of playing time in words, floored to the second so that "at least" before
    it stays true: "under a second", "45 s", "3 min 05 s", "1 h 10 min"."""
    n = int(seconds)
    if n == 0:
        return "under a second"
    if n >= 3600:
        return f"{n // 3600} h {n % 3600 // 60:02d} min"
    return f"{n // 60} min {n % 60:02d} s" if n >= 60 else f"{n} s"


def at_least(seconds: float) -> str:
    """`watch_length` as a least time ("at least 3 min 05 s"; a sliver stays "under a
    second")."""
    return ("at least " if seconds >= 1 else "") + watch_length(seconds)


def about_time(seconds: float) -> str:
    """An expected length of time, rounded as people say it: "about 12 min", "about 2.5 h",
    "under a minute"."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return "under a minute"
    if minutes >= 90:
        return f"about {minutes / 60:.1f} h".replace(".0 h", " h")
    return f"about {minutes} min"


def job_time_left(job: Job) -> str:
    """A running job's expected time still to go ("about 12 min left"); "" until its pace
    can be told."""
    left = time_left(job, utcnow())
    return "" if left is None else f"{about_time(left)} left"


def flag_measure(reason: str, value: float) -> str:
    """What a flagged range's number measures, with the number ("" where it means nothing,
    as for a crowd)."""
    words = FLAG_MEASURES.get(reason)
    return words.format(value) if words else ""


def detail_items(details: Mapping[str, Any] | None, about: str | None = None
                 ) -> list[tuple[str, Any]]:
    """The details of a custody entry worth a line: a detail that reads as nothing (null,
    empty, or a mapping of such: a job started afresh records `reclaimed_from: null`, a
    verification with no witness `witnesses: {summary: ""}`) would read "reclaimed from:"
    with nothing after it, and one equal to `about` (the entry's target id, shown beside it:
    a job's entries carry `job_id` and are about the job) would say the same id twice. The
    stored entry keeps them; only the page leaves them out. False and 0 say something and
    stay; an empty list reads "none" and stays."""
    return [(k, v) for k, v in (details or {}).items()
            if plain_value(v) != "" and (about is None or v != about)]


def error_details(details: Mapping[str, Any] | None
                  ) -> tuple[list[tuple[str, Any]], dict[str, Any]]:
    """A refusal's details split for its page: those a line can say (a field, a limit, a list
    of names; each of a form's invalid fields, as "where: what") and those that are records
    (a refused sign-off's flagged ranges, which its message says in words): the page folds
    the records away rather than print them as raw data; the API's body keeps them all."""
    plain: list[tuple[str, Any]] = []
    structured: dict[str, Any] = {}
    for key, value in detail_items(details):
        items = value if isinstance(value, list | tuple) else [value]
        if not items:
            continue  # "uncovered: none" under a refusal for not covering says the opposite
        if key == "problems":  # a form's invalid fields: the message names only the first
            plain += [(str(p.get("at", "")), p.get("problem", "")) for p in items
                      if isinstance(p, dict)]
            structured[key] = value
        elif any(isinstance(v, dict | list | tuple) for v in items):
            structured[key] = value
        else:
            plain.append((key, value))
    return plain, structured


TEMPLATES.env.filters |= {
    "plain_value": plain_value, "detail_items": detail_items, "error_details": error_details,
    "when": when, "day": day, "effect_words": effect_words, "clock": video_clock,
    "size_words": size_words, "rule_adds": rule_adds, "adds_words": adds_words,
    "adds_meaning": adds_meaning,
    "state_words": lambda s: STATE_WORDS.get(s, s.replace("_", " ")),
    "trigger_words": lambda t: TRIGGER_WORDS.get(t, t.replace("_", " ")),
    "tag_words": lambda t: TAG_MEANINGS.get(t, t.replace("_", " ")),
    "requester_words": lambda t: REQUESTER_MEANINGS.get(t, t.replace("_", " ")),
    # short names: a tag's badge, a requester type, an effect, a role
    "tag_label": lambda t: TAG_LABELS.get(t, t),
    "requester_label": lambda t: REQUESTER_LABELS.get(t, t),
    "effect_label": lambda e: EFFECT_LABELS.get(e, e),
    "role_label": lambda r: ROLE_LABELS.get(str(r), str(r)),
    "flag_label": lambda r: FLAG_LABELS.get(r, r.replace("_", " ")),
    "flag_measure": flag_measure, "watch_length": watch_length, "at_least": at_least,
    "job_time_left": job_time_left, "about_time": about_time,
}


def guarded(response: Response) -> Response:
    """`response` with the headers every console answer carries."""
    response.headers["Cache-Control"] = "no-store"  # pages name children's cases
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def with_cookie(response: Response, request: Request, user: ConsoleUser | None) -> Response:
    """`response` guarded, with the renewed logon cookie when there is one."""
    if user is not None and user.renewed_token:
        response.set_cookie(value=user.renewed_token, **cookie_args(request))
    return guarded(response)


def page(request: Request, user: ConsoleUser | None, template: str, *, status: int = 200,
         **context: Any) -> Response:
    """A console page (a fragment too, for htmx), with the renewed logon cookie."""
    context |= {"user": user, "roles": sorted(str(r) for r in user.principal.roles)
                if user else [], "done": DONE.get(request.query_params.get("done", "")),
                "zone": get_settings().agency_timezone,
                "home": home_of(user.principal.roles) if user else "/console/"}
    return with_cookie(TEMPLATES.TemplateResponse(request, template, context,
                                                  status_code=status), request, user)


def fragment(request: Request) -> bool:
    """Whether htmx asks for the part of the page it will swap in (not a whole page: a
    history restore after Back asks for the whole)."""
    return (request.headers.get("HX-Request") == "true"
            and request.headers.get("HX-History-Restore-Request") != "true")


def back(request: Request, user: ConsoleUser, url: str, done: str) -> Response:
    """After a form: back to the page it came from, saying what was done (Post/Redirect/Get)."""
    assert done.replace("+", " ") in DONE, done
    return with_cookie(RedirectResponse(f"{url}?done={quote_plus(done, safe='+')}",
                                        status_code=303), request, user)


def error_page(request: Request, exc: BwcError) -> Response:
    """A refusal as a page (401: to the logon page instead)."""
    if exc.status == 401:
        response: Response = RedirectResponse("/console/login", status_code=303)
        response.delete_cookie(COOKIE, path="/console")
        return response
    principal = getattr(request.state, "principal", None)
    home = home_of(principal.roles) if principal is not None else "/console/"
    if exc.status == 403 and request.method == "GET" and request.url.path == "/console/" \
            and home != "/console/":
        # the console's address typed by someone whose work is elsewhere (an administrator):
        # their own first page, not a refusal
        return RedirectResponse(home, status_code=303)
    # back to the page the form was on, when that was a console page of this server
    here = f"{request.url.scheme}://{request.url.netloc}/console/"
    referer = request.headers.get("referer", "")
    back_to = referer[len(here) - len("/console/"):] if referer.startswith(here) else home
    return guarded(TEMPLATES.TemplateResponse(request, "error.html", {
        "user": None, "roles": [], "error": exc, "back": back_to}, status_code=exc.status))


class ConfirmationRequired(BwcError):
    """A form that releases, denies or destroys was sent without its confirmation box."""

    code = "confirmation_required"
    status = 422


def confirmed(value: str, what: str) -> None:
    """Refuse an irreversible step the person did not confirm on the form."""
    if value != "yes":
        raise ConfirmationRequired(f"tick the box to confirm: {what}", field="confirm")
