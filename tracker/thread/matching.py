"""Which thread an incoming message belongs to, from the evidence keys it shares with letters."""

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
