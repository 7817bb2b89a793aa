"""Find what identifies a child in a transcript: the custodian's terms (names, a street, a
school), heard exactly or nearly (a recogniser spells an unusual name the way it sounds:
"Jaden" for "Jayden"), and spoken numbers and codes (a phone number, a student ID).

Pure functions on words; every hit is a suggestion for a person, so a doubtful one is
flagged `low_confidence`, never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import jellyfish

from redaction.speech_models import Kind, Level, MuteSuggestion, SpeechTerms, Word

# Words of a term that identify nobody on their own: "Street" is muted beside "Maple",
# never alone.
GENERIC = frozenset("""
street st road rd avenue ave drive dr lane ln court ct boulevard blvd way place pl circle
cir parkway pkwy highway hwy trail terrace route north south east west n s e w the of and
school elementary middle high academy county university college apartments apartment apt
unit room mr mrs ms miss
""".split())

_UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
          "seventeen", "eighteen", "nineteen"]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
NUMBER_WORDS: dict[str, str] = {
    **{w: str(i) for i, w in enumerate(_UNITS)}, "oh": "0", "o": "0",
    **{w: str(10 + i) for i, w in enumerate(_TEENS)},
    **{w: str(20 + 10 * i) for i, w in enumerate(_TENS)},
    "hundred": "00", "thousand": "000",
}
# what a recogniser writes for a digit it half heard ("pre-five" for "three five"): these
# count inside a run of real digits, never make one on their own
SOUNDS_LIKE_DIGIT: dict[str, str] = {
    "to": "2", "too": "2", "for": "4", "fore": "4", "won": "1", "ate": "8", "free": "3",
    "tree": "3", "pre": "3", "fine": "5", "sex": "6", "sick": "6", "nein": "9", "oh": "0",
}
_FUNCTION_WORDS = frozenset({"to", "too", "for", "fore", "oh", "o"})


@dataclass(frozen=True)
class MatchOptions:
    """How close is close enough, and how much to mute around a word."""

    # seconds muted before and after each word: word times from the recogniser are
    # estimates, more often late than early (see redaction/README.md for the measured
    # trade-off)
    pad_before: float = 0.3
    pad_after: float = 0.15
    # similarity (0-1) from which a heard word counts as a term's word
    min_match: float = 0.85
    # from this similarity a term's hit is "likely" (below: "possible" when several
    # recognition passes heard it, "unsure" when one did)
    sure_match: float = 0.95
    # a neighbouring word that lasts longer than it takes to say may hold part of the hit
    # (the recogniser's times for a long number such as "270," are squeezed): extend into
    # that slack, by at most this many seconds (0: off)
    max_slack: float = 1.0
    # let one word that is no digit sit inside a spoken number (the recogniser misheard
    # a digit as a word): measured on the bench, most lost numbers were split this way
    bridge: bool = True
    # seconds between pieces of digits (2 or more each) that are still one number read out
    # (0: off); see _code_hits
    join_gap: float = 2.0
    # the fewest digits a piece must have to be joined
    join_piece_digits: int = 2
    # seconds between words that still belong to one phrase ("Brianna ... Okafor") or one
    # spoken number (digits read in groups: "five oh two, three four one, ...")
    max_gap: float = 1.5


# What `MuteSuggestion.confidence` says: of the suggestions shown at each level on the
# bench's development clips (bench/audio.py, seeds 1-2, hallway and cafeteria noise, 5, 10
# and 20 dB SNR, the three recognition passes and the keyword spotter), the share that were
# on a word to mute. Measured, not a model's score: the recogniser's own word probability
# says little here (names spelled as the custodian entered them score ~0.01 and are right),
# so the level rests on how the words were matched and how many passes heard them (see
# level_of, SPOTTED_LEVEL; redaction/README.md).
# 2026-12-06, three passes (Whisper base added): likely 207/209; possible 15/18 (3/6 from
# the passes, 12/12 runs of digits spotted only); unsure 28/49 (1/2 from the passes, 27/47
# names spotted only). Possible rests on few suggestions: the figures rank the levels more
# than they measure them. (Two passes with the spotter: likely 210/214, possible 16/17,
# unsure 36/58; before the spotter: likely 210/215, possible 4/6, unsure 4/8.)
LEVEL_PRECISION: dict[Level, float] = {"likely": 0.99, "possible": 0.83, "unsure": 0.57}

# What each level says to a custodian (the console's words)
LEVEL_HELP: dict[Level, str] = {
    "likely": "a name as you listed it, or a number read out whole",
    "possible": "sounds like a name you listed, or a number in pieces, heard by two or more "
                "passes; "
                "or digits read out that only the keyword search picked out: listen to check",
    "unsure": "sounds like a name you listed, heard by one pass only, or a name you listed "
              "picked out by keyword search alone (not in the transcript): listen before "
              "deciding",
}


def level_of(kind: Kind, match: float, agreed: int, opts: MatchOptions) -> Level:
    """How sure a suggestion is, in words: a code, a spoken number heard whole, or a term
    heard as spelled (or within `sure_match`), is "likely"; a term that only sounds like
    it, or a number heard in pieces, is "possible" when several recognition passes heard it
    there, else "unsure"."""
    if kind == "pattern" or match >= opts.sure_match:
        return "likely"
    return "possible" if agreed >= 2 else "unsure"


def normalize(text: str) -> str:
    """Lower-case letters and digits only ("O'Brien," -> "obrien")."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


def similarity(heard: str, token: str) -> float:
    """How alike two normalised words are, in spelling or in sound (0-1)."""
    if heard == token:
        return 1.0
    # short words differ by one letter from too many others: only the same word counts
    if len(token) <= 3 or len(heard) <= 2:
        return 0.0
    text = float(jellyfish.jaro_winkler_similarity(heard, token))
    ph, pt = jellyfish.metaphone(heard), jellyfish.metaphone(token)
    if len(ph) < 2 or len(pt) < 2:
        return text
    sound = float(jellyfish.jaro_winkler_similarity(ph, pt))
    return max(text, (text + sound) / 2)


@dataclass(frozen=True)
class _Term:
    text: str
    tokens: tuple[str, ...]
    distinctive: tuple[str, ...]


def _prepare(terms: Sequence[str]) -> list[_Term]:
    out = []
    for t in terms:
        tokens = tuple(n for n in (normalize(p) for p in t.split()) if n)
        distinctive = tuple(n for n in tokens if n not in GENERIC) or tokens
        if tokens:
            out.append(_Term(t, tokens, distinctive))
    return out


def _best(cand: str, tokens: Sequence[str]) -> tuple[float, str]:
    best = (0.0, "")
    for tok in tokens:
        s = similarity(cand, tok)
        if s > best[0]:
            best = (s, tok)
    return best


def _term_hits(words: Sequence[Word], norm: list[str], terms: list[_Term],
               opts: MatchOptions) -> list[tuple[int, int, _Term, float, str]]:
    """(first word, last word, term, similarity, term word) for every term heard."""
    hits: list[tuple[int, int, _Term, float, str]] = []
    used = [False] * len(words)
    for i, n in enumerate(norm):
        if not n or used[i]:
            continue
        best: tuple[float, int, _Term | None, str] = (0.0, i, None, "")
        for term in terms:
            s, tok = _best(n, term.distinctive)
            if s > best[0]:
                best = (s, i, term, tok)
            # a name the recogniser split in two ("Oka for")
            j = i + 1
            if j < len(words) and norm[j] and words[j].start - words[i].end <= 0.3:
                s2, tok2 = _best(n + norm[j], term.distinctive)
                # only when neither half is the term's word by itself ("on Maple")
                if s2 > max(best[0], s, _best(norm[j], term.distinctive)[0]) + 0.02:
                    best = (s2, j, term, tok2)
            # the whole phrase heard together ("Gabrielle Union" for "Gabriela Nguyen",
            # "Western Highway" for "Preston Highway"), its words in one or one more word
            if len(term.tokens) > 1:
                whole = "".join(term.tokens)
                shorter = 0.0
                for n_words in (len(term.tokens), len(term.tokens) + 1):
                    j = i + n_words - 1
                    if j >= len(words) or not all(norm[i:j + 1]) or \
                            words[j].start - words[i].end > opts.max_gap * n_words:
                        continue
                    s3 = similarity("".join(norm[i:j + 1]), whole)
                    # one word more only where the recogniser split one ("Oka for"), and
                    # starting here, not one word early ("on Maple Street")
                    longer = n_words > len(term.tokens)
                    if longer and s3 <= shorter + 0.02:
                        continue
                    shorter = s3
                    if s3 >= opts.min_match and s3 > similarity("".join(norm[i + 1:j + 1]),
                                                                whole):
                        # covering the whole phrase beats a closer match of one word
                        if best[2] is not term or j > best[1]:
                            best = (max(s3, best[0]) if best[2] is term else s3, j, term,
                                    " ".join(term.tokens))
        score, last, found, tok = best
        if found is None or score < opts.min_match:
            continue
        term = found
        first = i
        # the rest of the phrase said beside it: "Okafor" after "Brianna", "Street"
        while (last + 1 < len(words) and norm[last + 1]
               and words[last + 1].start - words[last].end <= opts.max_gap
               and _best(norm[last + 1], term.tokens)[0] >= opts.min_match):
            last += 1
        while (first > 0 and norm[first - 1] and not used[first - 1]
               and words[first].start - words[first - 1].end <= opts.max_gap
               and _best(norm[first - 1], term.tokens)[0] >= opts.min_match):
            first -= 1
        for k in range(first, last + 1):
            used[k] = True
        hits.append((first, last, term, score, tok))
    return hits


def _code_piece(text: str, letters: bool) -> tuple[str, int] | None:
    """What a word contributes to a spoken number or code (digits, or letters of a code),
    and how many of those digits were heard as digits rather than guessed from a
    sound-alike ("for" as 4)."""
    parts = [normalize(p) for p in re.split(r"[-\s]", text)]
    parts = [p for p in parts if p]
    if not parts:
        return None
    out = ""
    sure = 0
    tens = False
    for p in parts:
        if p.isdigit():
            out += p
            sure += len(p)
        elif p in NUMBER_WORDS:
            d = NUMBER_WORDS[p]
            # "twenty-three" -> 23, not 203
            out = out[:-1] + d if tens and len(d) == 1 else out + d
            sure += len(d) if p != "oh" else 0
            tens = p in _TENS
            continue
        elif p in SOUNDS_LIKE_DIGIT:
            out += SOUNDS_LIKE_DIGIT[p]
        elif any(c.isdigit() for c in p):
            out += p.upper()
            sure += sum(c.isdigit() for c in p)
        elif letters and len(p) <= 2:
            out += p.upper()
        else:
            return None
        tens = False
    return out, sure


def _code_runs(words: Sequence[Word], letters: bool,
               opts: MatchOptions) -> list[list[tuple[int, str]]]:
    """Runs of consecutive words that are digits, number words (or their sound-alikes
    among them) or code letters; a run needs more digits heard as digits than guessed."""
    pieces = [_code_piece(w.text, letters) for w in words]
    runs: list[list[tuple[int, str, int]]] = []
    cur: list[tuple[int, str, int]] = []
    for i, w in enumerate(words):
        got = pieces[i]
        if cur and w.start - words[cur[-1][0]].end > opts.max_gap:
            runs.append(cur)
            cur = []
        if got is None:
            # one misheard word inside a number ("eight times zero six three...") bridges
            # it when digits follow at once
            if (cur and opts.bridge and cur[-1][1] and i + 1 < len(words)
                    and pieces[i + 1] is not None
                    and words[i + 1].start - words[cur[-1][0]].end <= opts.max_gap):
                cur.append((i, "", 0))
                continue
            if cur:
                runs.append(cur)
            cur = []
        else:
            cur.append((i, *got))
    if cur:
        runs.append(cur)
    out = []
    for run in runs:
        # a preposition at either end belongs to the sentence ("to 502...", "... for")
        while run and (not run[0][1] or normalize(words[run[0][0]].text) in _FUNCTION_WORDS):
            run = run[1:]
        while run and (not run[-1][1]
                       or normalize(words[run[-1][0]].text) in _FUNCTION_WORDS):
            run = run[:-1]
        digits = sum(c.isdigit() for _, p, _ in run for c in p)
        sure = sum(n for _, _, n in run)
        if digits and sure * 2 > digits:
            out.append([(i, p) for i, p, _ in run])
    return out


JOINED = "(in pieces)"  # a spoken number heard in pieces, misheard words between them
JOINED_MATCH = 0.9  # its `match`: below sure_match, so "possible" or "unsure"


def _code_hits(words: Sequence[Word], terms: SpeechTerms,
               opts: MatchOptions) -> list[tuple[int, int, Kind, str]]:
    """(first word, last word, kind, pattern) for spoken numbers and codes."""
    hits: list[tuple[int, int, Kind, str]] = []
    pieces: list[tuple[int, int, int]] = []  # (first word, last word, digits) of numbers
    patterns = [re.compile(p) for p in terms.patterns]
    for run in _code_runs(words, bool(patterns), opts):
        text = "".join(p for _, p in run)
        ends = []
        pos = 0
        for _, p in run:
            pos += len(p)
            ends.append(pos)
        covered = [False] * len(run)
        for rx in patterns:
            for m in rx.finditer(text):
                if m.end() == m.start():
                    continue
                a = next(k for k, e in enumerate(ends) if e > m.start())
                b = next(k for k, e in enumerate(ends) if e >= m.end())
                for k in range(a, b + 1):
                    covered[k] = True
                hits.append((run[a][0], run[b][0], "pattern", rx.pattern))
        if terms.numbers:
            rest = [(k, (i, p)) for k, (i, p) in enumerate(run)
                    if not covered[k] and any(c.isdigit() for c in p)]
            if rest:
                pieces.append((rest[0][1][0], rest[-1][1][0],
                               sum(c.isdigit() for _, (_, p) in rest for c in p)))
    # a number read out in pieces, misheard words between them ("270, rope breezy, 2 7056"):
    # pieces of 2 or more digits at most `join_gap` s apart are one number
    groups: list[list[tuple[int, int, int]]] = []
    for piece in pieces:
        g = groups[-1] if groups else None
        if (g and opts.join_gap > 0 and min(piece[2], g[-1][2]) >= opts.join_piece_digits
                and words[piece[0]].start - words[g[-1][1]].end <= opts.join_gap):
            g.append(piece)
        else:
            groups.append([piece])
    for g in groups:
        if sum(n for _, _, n in g) >= terms.min_digits:
            hits.append((g[0][0], g[-1][1], "number", "" if len(g) == 1 else JOINED))
    return hits


def speaking_time(text: str) -> float:
    """Seconds a word of this spelling usually takes to say (a generous estimate)."""
    return 0.1 + 0.07 * len(normalize(text))


def _with_slack(words: Sequence[Word], first: int, last: int,
                opts: MatchOptions) -> tuple[float, float]:
    """The hit's time range, extended into the slack of the words on either side."""
    start, end = words[first].start, words[last].end
    if opts.max_slack <= 0:
        return start, end
    if first > 0:
        prev = words[first - 1]
        said_by = prev.start + speaking_time(prev.text)
        if said_by < start:
            start = max(said_by, start - opts.max_slack)
    if last + 1 < len(words):
        nxt = words[last + 1]
        from_ = nxt.end - speaking_time(nxt.text)
        if from_ > end:
            end = min(from_, end + opts.max_slack)
    return start, end


def _heard(words: Sequence[Word], first: int, last: int) -> str:
    return " ".join(w.text for w in words[first:last + 1])


def find_identifiers(words: Sequence[Word], terms: SpeechTerms,
                     options: MatchOptions | None = None,
                     duration: float | None = None) -> list[MuteSuggestion]:
    """Every stretch of `words` that says one of `terms`, a spoken number of at least
    `terms.min_digits` digits, or a code matching one of `terms.patterns`, as suggested
    mute ranges in time order."""
    opts = options or MatchOptions()
    norm = [normalize(w.text) for w in words]
    found: list[tuple[int, int, Kind, str, float, str]] = []
    for first, last, term, score, tok in _term_hits(words, norm, _prepare(terms.terms), opts):
        how = "the same word" if score >= 1.0 else f"sounds like {tok!r}, {score:.2f}"
        found.append((first, last, "term", term.text, score, f"term {term.text!r} ({how})"))
    for first, last, kind, pattern in _code_hits(words, terms, opts):
        if kind == "pattern":
            found.append((first, last, kind, pattern, 1.0, f"matches pattern {pattern!r}"))
        elif pattern == JOINED:
            # what lies between the pieces was heard as words: as sure as a near match
            found.append((first, last, kind, "", JOINED_MATCH,
                          f"pieces of a spoken number, {terms.min_digits} or more digits in "
                          "all, words between them misheard"))
        else:
            found.append((first, last, kind, "", 1.0,
                          f"a spoken number of {terms.min_digits} or more digits"))
    found.sort(key=lambda f: (words[f[0]].start, f[1]))
    out: list[MuteSuggestion] = []
    for first, last, kind, term_text, score, why in found:
        w0, w1 = words[first], words[last]
        engine = min(w.confidence for w in words[first:last + 1]) * score
        level = level_of(kind, score, 1, opts)
        start, end = _with_slack(words, first, last, opts)
        end += opts.pad_after
        if duration is not None:
            end = min(end, max(duration, w1.end))
        out.append(MuteSuggestion(
            id=len(out), start=max(0.0, start - opts.pad_before), end=end,
            heard=_heard(words, first, last), heard_start=w0.start, heard_end=w1.end,
            kind=kind, term=term_text, match=score, confidence=LEVEL_PRECISION[level],
            low_confidence=level != "likely", level=level, engine_confidence=engine,
            why=f'heard "{_heard(words, first, last)}": {why}'))
    return out


SPOTTED = "spotted by keyword search, not in the transcript"
# a keyword hit alone is not a transcript: the level it is shown at, for a term's words
# (27 of 47 right on the dev clips with three passes) and for a run of digit words (12 of
# 12): LEVEL_PRECISION
SPOTTED_LEVEL: Level = "unsure"
SPOTTED_NUMBER_LEVEL: Level = "possible"
# what a keyword spotter listens for to hear a number (redaction/speech_spot.py)
DIGIT_WORDS = frozenset(w for w, d in NUMBER_WORDS.items()
                        if len(d) == 1 and w not in ("o", "oh"))


def _spotted_numbers(spotted: Sequence[Word], terms: SpeechTerms, opts: MatchOptions,
                     duration: float | None) -> list[MuteSuggestion]:
    """Runs of spotted digit words read by the rules for spoken numbers (`find_identifiers`
    with the terms' `min_digits`, no terms, no patterns)."""
    digits: list[Word] = []
    for w in sorted((w for w in spotted if normalize(w.text) in DIGIT_WORDS),
                    key=lambda w: (w.start, w.end)):
        # two digits spotted on one stretch of sound: the first
        if digits and w.start < digits[-1].end - 0.5 * (w.end - w.start):
            continue
        digits.append(w)
    if not digits or not terms.numbers:
        return []
    # spotted digits stand for themselves: no pieces joined across what was not spotted, no
    # word bridged (in babble, stray hits chained into 27 s "numbers": held-out, measured)
    found = find_identifiers(digits, SpeechTerms(numbers=True, min_digits=terms.min_digits),
                             replace(opts, join_gap=0.0, bridge=False), duration)
    return [replace(s, level=SPOTTED_NUMBER_LEVEL,
                    confidence=LEVEL_PRECISION[SPOTTED_NUMBER_LEVEL],
                    low_confidence=SPOTTED_NUMBER_LEVEL != "likely", engine_confidence=None,
                    spotted_only=True,
                    why=f'{SPOTTED}: digits "{s.heard}", {terms.min_digits} or more in a run')
            for s in found if s.kind == "number"]


def find_spotted(spotted: Sequence[Word], terms: SpeechTerms,
                 options: MatchOptions | None = None,
                 duration: float | None = None) -> list[MuteSuggestion]:
    """The terms' words and digit words a keyword spotter heard (`Transcript.spotted`), as
    suggestions: words of one term spotted within `max_gap` of each other are one hit of
    kind "term", which needs one of the term's distinctive words ("Street" spotted alone is
    no name); a run of digit words is a "number" as in a transcript. Shown at
    SPOTTED_LEVEL / SPOTTED_NUMBER_LEVEL; `find_in_transcript` folds a hit into a
    transcript's suggestion of the same term (a number) at the same time instead."""
    opts = options or MatchOptions()
    prepared = _prepare(terms.terms)
    words = sorted(spotted, key=lambda w: (w.start, w.end))
    norm = [normalize(w.text) for w in words]
    used = [False] * len(words)
    out: list[MuteSuggestion] = []
    for i, n in enumerate(norm):
        if used[i]:
            continue
        term = next((t for t in prepared if n in t.distinctive), None)
        if term is None:
            continue
        first = last = i
        used[i] = True
        # the rest of the phrase spotted beside it, either side (the spotter may report a
        # later word first when two hits overlap)
        for j in range(i + 1, len(words)):
            if words[j].start - words[last].end > opts.max_gap:
                break
            if not used[j] and norm[j] in term.tokens:
                used[j], last = True, j
        while (first > 0 and not used[first - 1] and norm[first - 1] in term.tokens
               and words[first].start - words[first - 1].end <= opts.max_gap):
            first -= 1
            used[first] = True
        group = words[first:last + 1]
        heard = " ".join(w.text for w in group)
        h0, h1 = min(w.start for w in group), max(w.end for w in group)
        end = h1 + opts.pad_after
        if duration is not None:
            end = min(end, max(duration, h1))
        out.append(MuteSuggestion(
            id=len(out), start=max(0.0, h0 - opts.pad_before), end=end, heard=heard,
            heard_start=h0, heard_end=h1, kind="term", term=term.text, match=1.0,
            confidence=LEVEL_PRECISION[SPOTTED_LEVEL],
            low_confidence=SPOTTED_LEVEL != "likely", level=SPOTTED_LEVEL,
            engine_confidence=None, spotted_only=True,
            why=f'{SPOTTED}: "{heard}", a word of term {term.text!r}'))
    out += _spotted_numbers(spotted, terms, opts, duration)
    out.sort(key=lambda s: (s.start, s.end))
    return [replace(s, id=i) for i, s in enumerate(out)]
