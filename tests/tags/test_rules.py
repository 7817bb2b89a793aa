"""The pure tagging rules: incident types, and analysis -> auto tags."""

from __future__ import annotations

from bwc_custody.tags.rules import NOTIFY, Person, auto_tags, incident_tags
from policies.vocabulary import TAGS


def _p(n: int, adult: str | None = None, score: float = 0.9) -> Person:
    return Person(person=n, track_ids=(n * 10,), frames=((n, n + 30),), score=score,
                  known_adult=adult)


def names(tags: list) -> set[str]:  # type: ignore[type-arg]
    return {t.name for t in tags}


def test_one_unidentified_person_on_campus_is_juvenile_not_multi_student() -> None:
    tags = auto_tags(campus="test campus", people=[_p(1)])
    assert names(tags) == {"school_campus", "juvenile"}
    juvenile = next(t for t in tags if t.name == "juvenile")
    assert juvenile.confidence == 0.9
    assert juvenile.evidence["track_ids"] == [10]
    assert juvenile.evidence["frames"] == [[1, 31]]


def test_two_unidentified_people_on_campus_are_multi_student() -> None:
    tags = auto_tags(campus="test campus", people=[_p(1, score=0.95), _p(2, score=0.7)])
    assert names(tags) == {"school_campus", "juvenile", "multi_student"}
    multi = next(t for t in tags if t.name == "multi_student")
    assert multi.confidence == 0.7  # as sure as the weaker of the two
    assert multi.evidence["track_ids"] == [10, 20]


def test_known_adult_plus_one_student_is_not_multi_student() -> None:
    tags = auto_tags(campus="test campus", people=[_p(1, adult="SRO Smith"), _p(2)])
    assert names(tags) == {"school_campus", "juvenile"}
    assert next(t for t in tags if t.name == "juvenile").evidence["persons"] == [2]


def test_only_known_adults_on_campus_add_no_juvenile() -> None:
    assert names(auto_tags(campus="test campus", people=[_p(1, adult="SRO Smith")])) == {
        "school_campus"}


def test_no_faces_on_campus_proposes_nothing_to_clear() -> None:
    # The rules only ever add: absence of faces proves nothing about children.
    assert names(auto_tags(campus="test campus", people=[])) == {"school_campus"}


def test_school_campus_basis_is_the_reason_given() -> None:
    campus = auto_tags(campus="--campus given for this file", people=[])[0]
    assert campus.evidence == {"basis": "--campus given for this file"}


def test_off_campus_no_presumption() -> None:
    assert auto_tags(campus=None, people=[_p(1), _p(2)]) == []


def test_incident_types_map_to_vocabulary_tags() -> None:
    assert incident_tags("Detention") == (["detention_under_18"], [])
    assert incident_tags("arrest_non_student, taser drawn") == (
        ["arrest", "firearm_or_taser_drawn"], [])
    assert incident_tags("firearm-discharged") == (["firearm_or_taser_discharged"], [])
    assert incident_tags("private_residence_interior,fight") == (
        ["private_residence_interior"], ["fight"])
    assert incident_tags(None) == ([], [])
    assert NOTIFY <= set(TAGS)
