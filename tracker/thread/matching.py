"""Which thread an incoming message belongs to, from the evidence keys it shares with letters.

Keys count by kind (a subject, a cited date, a reference); the best candidate must be clearly
ahead. When the keys leave candidates tied (two letters sent the same day, both cited), the
words of the subject the answer names ("relatif à", "concernant", "au sujet de", "objet :")
narrow them: ``break_tie``."""

from __future__ import annotations

from dataclasses import dataclass, field

WEIGHTS = {"s": 3, "d": 4, "r": 5}
THRESHOLD = 3  # at least one subject, date or reference in common
MARGIN = 2  # and clearly ahead of the next candidate


@dataclass
class Candidate:
    """A thread an incoming message may belong to, with the evidence for it."""

    thread_id: str
    score: int = 0
    evidence: list[str] = field(default_factory=list)
    last_letter_at: str = ""


def score(candidate: Candidate, shared: set[str]) -> Candidate:
    """Add the shared keys' weights, counting each kind of evidence once."""
    kinds = {key.split(":", 1)[0] for key in shared}
    candidate.evidence = sorted(shared)
    candidate.score = sum(WEIGHTS.get(kind, 0) for kind in kinds)
    return candidate


def decide_match(candidates: list[Candidate]) -> tuple[Candidate | None, list[Candidate]]:
    """The clearly best candidate (or None) and all candidates ranked best first."""
    ranked = sorted(candidates, key=lambda c: (-c.score, c.thread_id))
    if not ranked or ranked[0].score < THRESHOLD:
        return None, ranked
    if len(ranked) > 1 and ranked[0].score - ranked[1].score < MARGIN:
        return None, ranked
    return ranked[0], ranked


# words that say nothing about which subject is named
STOPWORDS = frozenset(
    "a au aux avec d dans de des du en et l la le les n ou par pour r ref s sur un une vos votre "
    "nos notre the of and to".split()
)
COVER = 0.5  # the named words must cover at least half of the winner's subject


def words(key: str) -> frozenset[str]:
    """The words of a subject key that can tell one subject from another."""
    return frozenset(w for w in key.split() if len(w) > 1 and w not in STOPWORDS)


def break_tie(ranked: list[Candidate], phrases: list[str], subjects: dict[str, list[str]]) -> Candidate | None:
    """Among the candidates tied at the top (within MARGIN of the best, which passes
    THRESHOLD), the one whose subject alone has words the answer names, when exactly one has,
    and the answer names at least COVER of its subject's words; else None. ``phrases`` are
    the folded subjects the answer names ("w:" keys), ``subjects`` each thread's letters'
    subject keys."""
    if not ranked or ranked[0].score < THRESHOLD or not phrases:
        return None
    tied = [c for c in ranked if ranked[0].score - c.score < MARGIN]
    if len(tied) < 2:
        return None
    own = {c.thread_id: frozenset().union(*(words(s) for s in subjects.get(c.thread_id, [])))
           for c in tied}
    named = [words(p) for p in phrases]
    winners = []
    for candidate in tied:
        mine = own[candidate.thread_id]
        others = frozenset().union(*(own[c.thread_id] for c in tied if c is not candidate))
        alone = mine - others
        if mine and any(p & alone and len(p & mine) >= COVER * len(mine) for p in named):
            winners.append(candidate)
    if len(winners) != 1:
        return None
    winner = winners[0]
    winner.evidence = sorted({*winner.evidence, *(f"w:{p}" for p in phrases if words(p) & own[winner.thread_id])})
    return winner
