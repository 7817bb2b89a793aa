"""Decision table: request scenarios written from the seeds and statutes, with the expected
effect and the rules that decide it (the rules whose effect is the decision's effect)."""

from __future__ import annotations

from typing import Any

import pytest

from policies.engine import evaluate

# A parent whose claim that their child is shown the custodian has confirmed (KRS 610.340(1)(a)).
PARENT = {"parent": True, "confirmed": True}
AFFIDAVIT = {"affidavit": True}
NONRES = {"residency": "nonresident"}
INSPECT = {"form": "inspection"}


def case(name: str, requester: str, effect: str, decisive: list[str], *, tags: tuple[str, ...] = (),
         redact: list[str] | None = None, **kw: Any) -> Any:
    return pytest.param(requester, {"tags": tags, **kw}, effect, decisive, redact, id=name)


SCENARIOS = [
    # Open Records Act: residents (KRS 61.872(2)(a), 61.870(10)); news media count as residents.
    case("public-resident-copy", "public", "release", ["open-records-resident"], redact=[]),
    case("public-resident-inspect", "public", "release", ["open-records-resident"], **INSPECT),
    case("public-nonresident", "public", "deny", ["open-records-nonresident"], **NONRES),
    case("news-nonresident", "news_media", "release", ["open-records-news-media"], **NONRES),
    case("news-resident", "news_media", "release",
         ["open-records-resident", "open-records-news-media"]),
    case("insurer-resident", "insurer", "release", ["open-records-resident"]),
    case("insurer-nonresident", "insurer", "deny", ["open-records-nonresident"], **NONRES),
    case("parent-not-depicted-resident", "parent_guardian", "release", ["open-records-resident"]),
    case("parent-not-depicted-nonresident", "parent_guardian", "deny",
         ["open-records-nonresident"], **NONRES),
    case("attorney-no-affidavit-resident", "attorney_for_depicted", "release",
         ["open-records-resident"]),
    case("attorney-no-affidavit-nonresident", "attorney_for_depicted", "deny",
         ["open-records-nonresident"], **NONRES),
    # School personnel: through the custodian like any citizen (000 IV.H.b, MOU II(D)(12)).
    case("school-resident-copy", "school_personnel", "release", ["open-records-resident"]),
    case("school-nonresident", "school_personnel", "deny", ["open-records-nonresident"], **NONRES),
    case("school-students", "school_personnel", "release_redacted",
         ["juvenile-records-confidential", "multi-student-open-records"],
         tags=("juvenile", "multi_student", "school_campus"),
         redact=["juveniles", "students", "whole_heads"], **INSPECT),
    case("school-investigation", "school_personnel", "deny_during_investigation",
         ["investigation-pending-open-records"], tags=("juvenile", "investigation_open")),
    # Children's records: KRS 610.320(3), 61.878(1)(l), (1)(a), (4); 98-ORD-185; 23-ORD-260.
    case("public-juvenile", "public", "release_redacted", ["juvenile-records-confidential"],
         tags=("juvenile",), redact=["juveniles"]),
    case("news-juvenile-campus", "news_media", "release_redacted",
         ["juvenile-records-confidential"], tags=("juvenile", "school_campus")),
    case("public-juvenile-custody", "public", "deny", ["juvenile-custody-withheld"],
         tags=("juvenile", "detention_under_18"), redact=["juveniles"]),
    case("public-custody-untagged-juvenile", "public", "deny", ["juvenile-custody-withheld"],
         tags=("detention_under_18",)),
    case("news-juvenile-custody-campus", "news_media", "deny", ["juvenile-custody-withheld"],
         tags=("juvenile", "detention_under_18", "school_campus")),
    case("depicted-adult-juvenile-copy", "depicted_adult", "release_redacted",
         ["juvenile-records-confidential"], tags=("juvenile",), redact=["juveniles"]),
    case("depicted-adult-juvenile-view", "depicted_adult", "view_only",
         ["involved-person-viewing"], tags=("juvenile",), redact=["juveniles"], **INSPECT),
    case("parent-juvenile-copy", "parent_guardian", "release_redacted", ["juvenile-child-side"],
         tags=("juvenile",), redact=["non_subject_juveniles"], **PARENT),
    case("parent-juvenile-view", "parent_guardian", "view_only", ["representative-viewing"],
         tags=("juvenile",), **PARENT, **INSPECT),
    case("child-juvenile-view", "depicted_juvenile", "view_only", ["involved-person-viewing"],
         tags=("juvenile",), redact=["non_subject_juveniles"], **INSPECT),
    case("child-juvenile-copy", "depicted_juvenile", "view_only", ["depicted-juvenile-copy"],
         tags=("juvenile",)),
    case("attorney-affidavit-juvenile", "attorney_for_depicted", "release_redacted",
         ["juvenile-child-side"], tags=("juvenile",), **AFFIDAVIT),
    case("attorney-no-affidavit-juvenile", "attorney_for_depicted", "release_redacted",
         ["juvenile-records-confidential"], tags=("juvenile",), redact=["juveniles"]),
    case("prosecutor-juvenile-custody", "prosecutor", "release", ["prosecutor-official-use"],
         tags=("juvenile", "detention_under_18")),
    case("police-juvenile-custody-open", "law_enforcement_agency", "release",
         ["law-enforcement-official-use"],
         tags=("juvenile", "detention_under_18", "investigation_open")),
    case("court-order-juvenile-abuse", "court_order", "release", ["court-order"],
         tags=("juvenile", "child_abuse_report")),
    case("parent-not-depicted-custody", "parent_guardian", "deny", ["juvenile-custody-withheld"],
         tags=("juvenile", "detention_under_18")),
    case("parent-of-child-in-custody", "parent_guardian", "release_redacted",
         ["juvenile-child-side"], tags=("juvenile", "detention_under_18"), **PARENT),
    # Several students: 000 IV.H.c; 24-ORD-239 and FERPA guidance; 12-ORD-018.
    case("public-multi-student", "public", "release_redacted", ["multi-student-open-records"],
         tags=("multi_student", "school_campus"), redact=["students", "whole_heads"]),
    # tagged by hand without the campus: no whole heads asked (the rules say where they apply)
    case("public-multi-student-no-campus", "public", "release_redacted",
         ["multi-student-open-records"], tags=("multi_student",), redact=["students"]),
    case("parent-multi-student-view", "parent_guardian", "view_only",
         ["representative-viewing", "multi-student-parent-inspect-only"],
         tags=("juvenile", "multi_student", "school_campus"),
         redact=["non_subject_juveniles", "non_subject_students", "whole_heads"], **PARENT,
         **INSPECT),
    case("parent-multi-student-copy", "parent_guardian", "view_only",
         ["multi-student-parent-inspect-only"], tags=("juvenile", "multi_student"), **PARENT),
    case("parent-multi-student-investigation-view", "parent_guardian",
         "deny_during_investigation",
         ["multi-student-investigation-parents", "investigation-pending-involved"],
         tags=("juvenile", "multi_student", "investigation_open"), **PARENT, **INSPECT),
    case("parent-multi-student-investigation-copy", "parent_guardian",
         "deny_during_investigation",
         ["multi-student-investigation-parents", "investigation-pending-involved"],
         tags=("multi_student", "investigation_open", "school_campus"),
         redact=["non_subject_students", "whole_heads"], **PARENT),
    case("other-parent-multi-student-investigation", "parent_guardian",
         "deny_during_investigation", ["investigation-pending-open-records"],
         tags=("multi_student", "investigation_open"), **INSPECT),
    case("attorney-affidavit-multi-student", "attorney_for_depicted", "release_redacted",
         ["juvenile-child-side", "multi-student-involved"], tags=("juvenile", "multi_student"),
         redact=["non_subject_juveniles", "non_subject_students"], **AFFIDAVIT),
    case("depicted-adult-multi-student", "depicted_adult", "release_redacted",
         ["multi-student-involved"], tags=("multi_student",), redact=["non_subject_students"]),
    case("child-multi-student-view", "depicted_juvenile", "view_only",
         ["involved-person-viewing"], tags=("juvenile", "multi_student"), **INSPECT),
    # Pending investigations: KRS 61.878(1)(h), 17.150(2); 21-ORD-102.
    case("public-investigation", "public", "deny_during_investigation",
         ["investigation-pending-open-records"], tags=("investigation_open",)),
    case("news-investigation-arrest", "news_media", "deny_during_investigation",
         ["investigation-pending-open-records"], tags=("investigation_open", "arrest")),
    case("depicted-adult-investigation", "depicted_adult", "deny_during_investigation",
         ["investigation-pending-involved"], tags=("investigation_open",), **INSPECT),
    case("attorney-affidavit-investigation", "attorney_for_depicted",
         "deny_during_investigation", ["investigation-pending-involved"],
         tags=("investigation_open",), **AFFIDAVIT),
    case("prosecutor-investigation", "prosecutor", "release", ["prosecutor-official-use"],
         tags=("investigation_open",)),
    case("public-investigation-residence", "public", "deny", ["bwc-4-residence-withheld"],
         tags=("investigation_open", "private_residence_interior")),
    # Informants: KRS 61.878(1)(h), 17.150(2).
    case("public-informant", "public", "release_redacted", ["informant-identity"],
         tags=("informant",), redact=["informant_identity"]),
    case("attorney-affidavit-informant", "attorney_for_depicted", "release_redacted",
         ["informant-identity"], tags=("informant",), **AFFIDAVIT),
    case("prosecutor-informant", "prosecutor", "release", ["prosecutor-official-use"],
         tags=("informant",), redact=[]),
    case("public-informant-juvenile", "public", "release_redacted",
         ["juvenile-records-confidential", "informant-identity"],
         tags=("informant", "juvenile"), redact=["informant_identity", "juveniles"]),
    # Body-camera footage the agency may elect not to disclose: KRS 61.168(4), (5)(d), 61.169.
    case("public-residence", "public", "deny", ["bwc-4-residence-withheld"],
         tags=("private_residence_interior",), redact=["residence_interior"]),
    case("news-counselling-campus", "news_media", "deny", ["bwc-4-medical-withheld"],
         tags=("medical_or_counseling", "school_campus")),
    case("public-nudity", "public", "deny", ["bwc-4-nudity-withheld"], tags=("nudity",)),
    case("public-deceased", "public", "deny", ["bwc-4-deceased-withheld"], tags=("deceased",)),
    case("public-sexual-offense-victim", "public", "deny", ["bwc-4-sexual-offense-victim-withheld"],
         tags=("sexual_offense_victim",), redact=["victim_identity"]),
    case("depicted-adult-residence-copy", "depicted_adult", "view_only",
         ["bwc-sensitive-involved-view-only"], tags=("private_residence_interior",)),
    case("parent-counselling-copy", "parent_guardian", "view_only",
         ["bwc-sensitive-involved-view-only"], tags=("juvenile", "medical_or_counseling"),
         **PARENT),
    case("attorney-affidavit-nudity", "attorney_for_depicted", "release",
         ["attorney-affidavit-copy"], tags=("nudity",), **AFFIDAVIT),
    # KRS 61.168(5): footage of a detention or arrest is outside the (4) elections, so the
    # residence is redacted, not the recording withheld (24-ORD-086). Was `deny`.
    case("public-residence-arrest", "public", "release_redacted", ["bwc-5-residence-redacted"],
         tags=("private_residence_interior", "arrest"), redact=["residence_interior"]),
    case("public-arrest", "public", "release", ["open-records-resident"], tags=("arrest",)),
    case("public-taser-discharged-campus", "public", "release", ["open-records-resident"],
         tags=("firearm_or_taser_discharged", "school_campus")),
    # Child abuse and neglect reports: KRS 620.050.
    case("public-child-abuse", "public", "deny", ["child-abuse-report"],
         tags=("child_abuse_report",)),
    case("parent-child-abuse-view", "parent_guardian", "deny", ["child-abuse-report"],
         tags=("juvenile", "child_abuse_report"), **PARENT, **INSPECT),
    case("prosecutor-child-abuse", "prosecutor", "release", ["prosecutor-official-use"],
         tags=("child_abuse_report",)),
    # Directly involved persons: KRS 61.168(5)(d), 61.169; parents: KRS 610.340(1)(a).
    case("depicted-adult-view-nonresident", "depicted_adult", "view_only",
         ["involved-person-viewing"], **INSPECT, **NONRES),
    case("depicted-adult-copy-nonresident", "depicted_adult", "view_only",
         ["involved-copy-nonresident"], **NONRES),
    case("depicted-adult-copy-resident", "depicted_adult", "release",
         ["involved-copy-resident"]),
    case("child-copy", "depicted_juvenile", "view_only", ["depicted-juvenile-copy"]),
    # KRS 61.872(2)(a): an open-records copy is for residents; a nonresident parent views under
    # KRS 61.168(5)(d). Was a full `release` with no residency check.
    case("parent-copy-nonresident", "parent_guardian", "view_only", ["involved-copy-nonresident"],
         **PARENT, **NONRES),
    case("attorney-affidavit-view", "attorney_for_depicted", "view_only",
         ["representative-viewing"], **AFFIDAVIT, **INSPECT),
    case("attorney-affidavit-copy-nonresident", "attorney_for_depicted", "release",
         ["attorney-affidavit-copy"], **AFFIDAVIT, **NONRES),
    # Officials: KRS 610.340(2); court orders.
    case("court-order-investigation-informant", "court_order", "release", ["court-order"],
         tags=("investigation_open", "informant")),
    case("police-view-nonresident", "law_enforcement_agency", "release",
         ["law-enforcement-official-use"], **INSPECT, **NONRES),
]


def test_at_least_sixty_scenarios() -> None:
    assert len(SCENARIOS) >= 60


@pytest.mark.parametrize(("requester", "kw", "effect", "decisive", "redact"), SCENARIOS)
def test_decision_table(rules, make_facts, requester, kw, effect, decisive, redact) -> None:
    decision = evaluate(make_facts(requester, **kw), rules)
    assert decision.effect == effect
    assert decision.reason == "rule"
    assert sorted(r.id for r in decision.rules if r.decisive) == sorted(decisive)
    if redact is not None:
        assert decision.redact == sorted(redact)
    # Every recording here is made by an SRO: legal review before release (000 IV.H.e).
    assert decision.requires_legal_signoff
    assert "sro-legal-review" in {r.id for r in decision.rules}
