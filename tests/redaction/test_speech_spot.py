"""Keyword spotting beside the Whisper passes, with the real engine (pocketsphinx and its
en-us model from the wheel) on real espeak-ng speech: a term's word it spots becomes a
suggestion of its own ("unsure") or one more pass agreeing with the transcript's; a term's
word its dictionary cannot say is reported as not listened for; transcripts stored before
it still load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.voice import speak
from redaction.speech import find_in_transcript, transcribe
from redaction.speech_match import (
    LEVEL_HELP,
    LEVEL_PRECISION,
    SPOTTED,
    SPOTTED_LEVEL,
    SPOTTED_NUMBER_LEVEL,
    MatchOptions,
)
from redaction.speech_models import SpeechTerms, Transcript, Word
from redaction.speech_spot import KeywordSpotter, term_words
from tests.redaction.util import spoken_clip

TEXT = "Marcus, Marcus Washington, come here."
LEAD = 0.5
TERMS = SpeechTerms(terms=["Marcus Washington", "Jayden Okafor"])


class Spotted:
    """The clip, when each word was said, and the spotter's transcript (no Whisper pass:
    what the spotter alone heard)."""

    def __init__(self, d: Path) -> None:
        self.clip = spoken_clip(TEXT, d, lead_s=LEAD)
        self.said_all = [(w.text.strip(",."), (w.start + LEAD, w.end + LEAD))
                         for w in speak(TEXT).words]
        self.said = dict(self.said_all)  # (the last "Marcus")
        self.transcript = transcribe(self.clip, transcriber=[], hotwords=TERMS.terms)


@pytest.fixture(scope="module")
def spotted(tmp_path_factory: pytest.TempPathFactory) -> Spotted:
    return Spotted(tmp_path_factory.mktemp("spot"))


def _said_at(spotted: Spotted, w: Word) -> tuple[str, float, float] | None:
    """The word said where `w` was spotted (most of `w` inside its spoken range)."""
    for text, (a, b) in spotted.said_all:
        if min(b, w.end) - max(a, w.start) >= 0.5 * (w.end - w.start):
            return text, a, b
    return None


def test_a_spotted_name_is_suggested_at_its_own_level(spotted: Spotted) -> None:
    tr = spotted.transcript
    assert tr.passes == [[]]  # no transcriber ran: every hit below is the spotter's
    assert tr.spotted
    for w in tr.spotted:  # each where that word was said
        at = _said_at(spotted, w)
        assert at is not None, (w, spotted.said_all)
        assert at[0].lower() == w.text, (w, spotted.said_all)
    suggestions = find_in_transcript(tr, TERMS)
    assert len(suggestions) >= 1
    for s in suggestions:
        assert (s.kind, s.term) == ("term", "Marcus Washington")
        assert (s.level, s.low_confidence) == (SPOTTED_LEVEL, True)
        assert s.confidence == LEVEL_PRECISION[SPOTTED_LEVEL]
        assert s.why.startswith(SPOTTED)
        assert s.engine_confidence is None  # a keyword score is no word probability
        assert s.start < s.heard_start < s.heard_end < s.end
    # each word spotted is muted where it was said (spotter times are frames, 10 ms)
    for w in tr.spotted:
        at = _said_at(spotted, w)
        assert at is not None
        _, a, b = at
        covered = sum(max(0.0, min(b, s.end) - max(a, s.start)) for s in suggestions)
        assert covered / (b - a) >= 0.9


def test_a_spotted_word_the_transcript_heard_too_is_one_more_pass(spotted: Spotted) -> None:
    # a Whisper pass that heard the name where it was said
    pass_words = [Word(text, *spotted.said[text.strip(",")], 0.9)
                  for text in ("Marcus,", "Marcus", "Washington,")]
    tr = Transcript(pass_words, spotted.transcript.duration, {}, 0.0, [],
                    spotted.transcript.spotted)
    without = find_in_transcript(Transcript(pass_words, tr.duration), TERMS)
    with_spot = find_in_transcript(tr, TERMS)
    assert len(with_spot) == len(without)  # nothing new: the same suggestions, agreed more
    assert all(s.agreed == 1 for s in without)
    joined = [s for s in with_spot if s.agreed == 2]
    assert joined, [s.why for s in with_spot]
    for s in joined:
        assert s.level == "likely"  # a name heard as spelled stays what it was
        assert "spotted by keyword search too" in s.why
        assert s.heard.lower().startswith("marcus")  # the transcript's words, not the spotter's
    # a near match heard by one pass only is "unsure"; the spotter agreeing makes it possible
    near = [Word("Marius", *spotted.said["Washington"], 0.9)]
    [alone] = find_in_transcript(Transcript(near, tr.duration), SpeechTerms(terms=["Marcus"]))
    [both] = find_in_transcript(Transcript(near, tr.duration, spotted=[
        Word("marcus", *spotted.said["Washington"], 1.0)]), SpeechTerms(terms=["Marcus"]))
    assert (alone.level, both.level, both.agreed) == ("unsure", "possible", 2)


def test_words_missing_from_the_dictionary_are_not_listened_for(spotted: Spotted) -> None:
    tr = spotted.transcript
    assert tr.not_listened_for == ["okafor"]  # "Jayden" it knows; "Okafor" it cannot say
    spot = tr.engine["spotter"]
    assert spot["not_listened_for"] == ["okafor"]
    assert spot["settings"]["threshold"] == KeywordSpotter.threshold == 1e-10
    assert spot["pocketsphinx"]
    assert spot["name"] == "pocketsphinx-kws"
    # only words it cannot say: no error, nothing spotted, said so
    none = KeywordSpotter().prepare(["Okafor Nguyenova"])
    assert (none.listened_for, none.not_listened_for) == ([], ["okafor", "nguyenova"])
    assert term_words(["O'Brien Street", "o'brien  street", "Room 2B"]) == [
        "o'brien", "street", "room", "2b"]
    with pytest.raises(ValueError, match="between 0 and 1"):
        KeywordSpotter(threshold=0)


def test_the_spotted_words_round_trip_and_old_transcripts_still_load(spotted: Spotted) -> None:
    tr = spotted.transcript
    back = Transcript.from_dict(json.loads(json.dumps(tr.to_dict())))
    assert [w.row() for w in back.spotted] == [w.row() for w in tr.spotted]
    assert back.not_listened_for == tr.not_listened_for
    # stored before the spotter: no "spotted", no "not_listened_for"
    old = {"schema": "bwc-transcript/1", "engine": {"passes": [{"name": "whisper-tiny.en"}]},
           "duration": 3.0, "seconds": 1.0, "word_columns": ["text", "start", "end",
                                                            "confidence"],
           "words": [["Marcus", 0.5, 0.9, 0.8], ["Washington", 0.95, 1.5, 0.7]],
           "alternatives": []}
    loaded = Transcript.from_dict(old)
    assert (loaded.spotted, loaded.not_listened_for) == ([], [])
    [s] = find_in_transcript(loaded, TERMS, MatchOptions())
    assert (s.heard, s.level, s.agreed) == ("Marcus Washington", "likely", 1)


def test_every_level_has_words_for_the_custodian() -> None:
    assert SPOTTED_LEVEL in LEVEL_HELP
    assert "keyword" in LEVEL_HELP[SPOTTED_LEVEL]


NUMBER = "His mother's number is five zero two, three four one, eight eight nine nine."


def test_a_run_of_spotted_digits_is_a_number(tmp_path: Path) -> None:
    """Asked for spoken numbers, the spotter listens for digit words too; a run of them is
    read by the rules for spoken numbers (5 or more digits), a suggestion of its own."""
    clip = spoken_clip(NUMBER, tmp_path, lead_s=LEAD)
    said = [(w.text.strip(",."), w.start + LEAD, w.end + LEAD) for w in speak(NUMBER).words]
    digits = [(a, b) for t, a, b in said if t in ("five", "zero", "two", "three", "four",
                                                  "one", "eight", "nine")]
    tr = transcribe(clip, transcriber=[], hotwords=[], spot_digits=True)
    assert tr.engine["spotter"]["digits"] is True
    assert tr.engine["spotter"]["settings"]["digit_threshold"] == 1e-3
    numbers = find_in_transcript(tr, SpeechTerms(min_digits=5))
    assert numbers, tr.spotted
    for s in numbers:
        assert (s.kind, s.level, s.spotted_only) == ("number", SPOTTED_NUMBER_LEVEL, True)
        assert s.why.startswith(SPOTTED)
        # inside the number read out (its padding aside), not on "mother's"
        assert digits[0][0] - 0.5 < s.heard_start < s.heard_end < digits[-1][1] + 0.5
    covered = [sum(max(0.0, min(b, s.end) - max(a, s.start)) for s in numbers) / (b - a)
               for a, b in digits]
    assert sum(c >= 0.9 for c in covered) >= 3, covered
    # numbers not asked for: digits spotted or not, no number suggested
    assert find_in_transcript(tr, SpeechTerms(numbers=False)) == []
    # and without `spot_digits` the spotter does not listen for them at all
    assert transcribe(clip, transcriber=[], hotwords=["Marcus"]).engine["spotter"][
        "digits"] is False
