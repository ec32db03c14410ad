"""Evidence that ties a reply to a letter when headers do not: pure functions, no I/O.

Ministries answer from other addresses, without In-Reply-To, under "RE :", "Réf. :" or
a new subject ("Votre courrier du 3 octobre 2024 - N/Réf : CAB/2024/1234"). A letter
leaves *keys* (its subject, its local date, the reference numbers it carries) and an
incoming message leaves *probes* (its subject, the "Objet :" it quotes, the letter dates
it cites, the references it quotes). A key shared by both is evidence; ``decide_match``
only picks a thread when one candidate is clearly best (``tracker.thread.matching``).
Which correspondent a message concerns (``Resolver``) and which keys it leaves
(``evidence_keys``) live here, before the store, because the import's parser workers
read them as well as the threader.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import date, datetime, timezone
from typing import Iterable
from zoneinfo import ZoneInfo

from ..config import Config, Correspondent

# Prefixes mail clients, administrations and auto-responders put before a subject.
_PREFIX = re.compile(
    r"^\s*(?:"
    r"\[[^\]]{0,30}\]"  # [AR], [EXT], [EXTERNE], [SPAM?]
    r"|(?:re|r[ée]p|r[ée]ponse|r[ée]f|tr|trans|fw|fwd|aw|wg|sv|vs|antw|rif|enc|r)"
    r"\s*\.?\s*(?:\[\d+\]|\(\d+\))?\s*:"
    r"|(?:r[ée]ponse automatique|automatic reply|auto(?:matic)?[- ]?reply|absence du bureau"
    r"|absent\(e\)|out of office|accus[ée] de r[ée]ception|ar)\s*:"
    r"|(?:(?:\d+\s*(?:e|[èe]me|nde?|[èe]re)|deuxi[èe]me|seconde|troisi[èe]me|nouvelle|derni[èe]re)\s+)?"
    r"(?:relance|rappel)(?:\s*n\s*°?\s*\d+)?\s*:"
    r")\s*",
    re.I,
)
_REMINDER = re.compile(
    r"^\s*(?:(?:re|tr|fwd?)\s*:\s*)*(?:(?:\d+\s*(?:e|[èe]me|nde?)|deuxi[èe]me|seconde|troisi[èe]me|"
    r"nouvelle|derni[èe]re)\s+)?(?:relance|rappel)\b",
    re.I,
)

MONTHS = {
    "janvier": 1, "fevrier": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6, "juillet": 7,
    "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11, "decembre": 12,
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
}
_NOUN = (
    r"(?:courrier|lettre|message|mail|e-mail|email|courriel|envoi|demande|saisine|correspondance|"
    r"sollicitation|interpellation|relance|note|letter)"
)
_DATE = (
    r"(?:(?P<d1>1er|\d{1,2})\s+(?P<m1>[a-zéû]+)\s+(?P<y1>\d{4})"
    r"|(?P<d2>\d{1,2})\s*[/.-]\s*(?P<m2>\d{1,2})\s*[/.-]\s*(?P<y2>\d{4}|\d{2})\b)"
)
# "votre courrier du 3 octobre 2024", "votre lettre en date du 03/10/2024", "your letter of 3 October 2024":
# find "du <date>" first (cheap), then look for the noun just before it
_CITED = re.compile(r"\b(?:du|of|dated)\s+(?:le\s+)?" + _DATE, re.I)
_DIGITS = re.compile(r"[0-9]{2}")
_NOUN_BEFORE = re.compile(_NOUN + r"s?\b[^.\n]{0,60}$", re.I)
# N/Réf, V/Réf, Réf., notre référence, vos réf. : every label ends in "réf"
_REF_LABEL = re.compile(
    r"r[ée]f(?:[ée]rence)?s?\s*\.?\s*:?\s*(?:n\s*°\s*)?(?P<ref>[A-Z0-9][A-Z0-9/_.-]*\d[A-Z0-9/_.-]*)",
    re.I,
)
# a reference number standing alone: CAB/2024/1234, DGS-2024-0173, COLL/24/017
_REF_TOKEN = re.compile(r"\b[A-Z]{2,}[A-Z0-9]*(?:[/_-][A-Z0-9]+){1,4}\b")
_OBJET = re.compile(r"^[\s>]*(?:objet|obj\.|subject|sujet)\s*:\s*(?P<text>.+)$", re.I | re.M)

# A reminder said in words rather than by a subject prefix: "nous nous permettons de revenir vers
# vous au sujet de notre courrier du ...", "resté à ce jour sans réponse", "nous vous relançons"
_REMINDER_WORDS = re.compile(
    r"nous nous permettons de (?:revenir vers vous|vous relancer|vous rappeler)"
    r"|revenir vers vous (?:au sujet|[àa] propos|concernant)[^.\n]{0,12}\b(?:notre|nos|mon|ma)\s+" + _NOUN +
    r"|\b(?:rest[ée]e?s?|demeur[ée]e?s?)\s+(?:[àa] ce jour\s+|jusqu'[àa] pr[ée]sent\s+|toujours\s+)?sans\s+r[ée]ponse"
    r"|\bnous vous relan[cç]ons\b|\b[àa] titre de relance\b",
    re.I,
)
REMINDER_TEXT = 1500  # a reminder says so in its first paragraphs
# What an answer says it answers: "relatif à : <subject>", "concernant", "au sujet de", "objet :"
_NAMED = re.compile(
    r"(?:\brelati(?:f|ve|fs|ves)\s+(?:[àa]\s+|aux?\s+)|\bconcernant\s+|\bau\s+sujet\s+d(?:es?|u)\s+"
    r"|\b[àa]\s+propos\s+d(?:es?|u)\s+|\bobjet\s*:\s*)"
    r"\s*:?\s*[«\"“]?\s*(?:(?:les?|la|l['’]|des|du|de\s+la|d['’]|une?|votre|vos|notre|nos)\s*)?(?P<text>[^\n]{3,})",
    re.I,
)
# where a named subject may end inside its line (not at ":", "-" or "et": subjects hold them)
_CUT = re.compile(r"\s*(?:[»\"”;]|,\s|\.\s|\.$|\s\()")
_SENTENCE_END = re.compile(r"\s*(?:[»\"”;]|\.)")
NAMED_WORDS = 24  # the words of a named subject kept for overlap (the w: key)

EVIDENCE_VERSION = "4"  # bump when matching extracts evidence differently
BODY_LIMIT = 3000  # evidence sits near the top: the first screen of a body is enough


def _fold(text: str) -> str:
    """``text`` decomposed (NFKD) without its combining marks (accents)."""
    text = unicodedata.normalize("NFKD", text)
    if text.isascii():
        return text
    marks = {ord(c): None for c in set(text) if unicodedata.combining(c)}
    return text.translate(marks) if marks else text


_SEPARATORS = re.compile(r"[\s\u2019'’\"«»:;,.!?()\-–—]+")


@functools.lru_cache(maxsize=65536)
def subject_key(subject: str | None) -> str:
    """The subject without reply / forward / reminder / auto-reply prefixes, case- and
    accent-folded, spaces collapsed: what a letter and its answers have in common."""
    text = (subject or "").replace("\u00a0", " ")
    while True:
        stripped = _PREFIX.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    text = _fold(text).lower()
    text = _SEPARATORS.sub(" ", text).strip()
    return text


def is_reminder(subject: str | None, body: str | None = None) -> bool:
    """Whether a letter says it is a reminder: by its subject ("Relance :", "Rappel :", "2e
    relance") or in its first paragraphs ("nous nous permettons de revenir vers vous au sujet
    de notre courrier du ...", "resté à ce jour sans réponse")."""
    if _REMINDER.match(subject or ""):
        return True
    return bool(body) and bool(_REMINDER_WORDS.search(body[:REMINDER_TEXT]))


def _year(text: str) -> int:
    year = int(text)
    return year + 2000 if year < 100 else year


def cited_dates(text: str) -> set[str]:
    """The letter dates an answer cites ("votre courrier du 3 octobre 2024"), as YYYY-MM-DD."""
    found: set[str] = set()
    text = text or ""
    starts = sorted({max(0, m.start() // 16 * 16 - 40) for m in _DIGITS.finditer(text)})
    matches = []
    for start in starts:  # only around the years: bodies are long, cited dates few
        matches.extend(_CITED.finditer(text, start, min(len(text), start + 80)))
    for match in {m.start(): m for m in matches}.values():
        if not _NOUN_BEFORE.search(text, max(0, match.start() - 80), match.start()):
            continue
        try:
            if match.group("d1"):
                day = 1 if match.group("d1").lower() == "1er" else int(match.group("d1"))
                month = MONTHS.get(_fold(match.group("m1")).lower())
                if month is None:
                    continue
                found.add(date(_year(match.group("y1")), month, day).isoformat())
            else:
                found.add(
                    date(_year(match.group("y2")), int(match.group("m2")), int(match.group("d2"))).isoformat()
                )
        except ValueError:
            continue
    return found


def references(text: str) -> set[str]:
    """Reference numbers in a text (after "N/Réf", "V/Réf", "Réf." or standing alone)."""
    found = {m.group("ref").upper().rstrip("./-") for m in _REF_LABEL.finditer(text or "")}
    for word in (text or "").split():
        if ("/" in word or "-" in word or "_" in word) and sum(c.isdigit() for c in word) >= 3:
            found |= {m.group(0).upper() for m in _REF_TOKEN.finditer(word)}
    return {ref for ref in found if len(ref) >= 4}


_LABEL_LINE = re.compile(r"^[\s>]*[\w/.' ]{1,20}:", re.U)


def quoted_subjects(body: str) -> set[str]:
    """Subject keys of the "Objet : ..." lines an answer quotes; a long subject wrapped onto
    the next lines gives one key per possible end (letters wrap where their editor did)."""
    body = body or ""
    keys: set[str] = set()
    for match in _OBJET.finditer(body):
        text = match.group("text")
        keys.add(subject_key(text))
        following = body[match.end() + 1 :].split("\n", 3)[:3]
        for line in following:
            line = line.lstrip("> \t").strip()
            if not line or _LABEL_LINE.match(line):
                break
            text = f"{text} {line}"
            keys.add(subject_key(text))
    return {key for key in keys if key}


def named_subjects(text: str) -> tuple[set[str], set[str]]:
    """What an answer says it answers in its own words, after "relatif à", "concernant", "au
    sujet de", "objet :", read on up to two more lines (clients wrap): the subject keys it may
    name exactly (the text to the end of each line, and to each comma, full stop, semicolon,
    bracket or quote), and the folded words of each phrase to its first full stop, semicolon
    or quote, for partial subjects (compared by overlap)."""
    keys: set[str] = set()
    phrases: set[str] = set()
    text = text or ""
    for match in _NAMED.finditer(text):
        lines = text[match.start("text") :].split("\n", 3)
        joined = lines[0].strip()
        ends = [joined]
        for line in lines[1:3]:
            line = line.lstrip("> \t").strip()
            if not line or _LABEL_LINE.match(line):
                break
            joined = f"{joined} {line}"
            ends.append(joined)
        cuts = list(_CUT.finditer(joined))
        ends += [joined[: cut.start()] for cut in cuts]
        for end in ends:
            key = subject_key(end)
            if len(key) >= 6:
                keys.add(key)
        sentence = next((joined[: c.start()] for c in cuts if _SENTENCE_END.match(c.group(0))), joined)
        phrase = subject_key(sentence)
        if phrase:
            phrases.add(" ".join(phrase.split()[:NAMED_WORDS]))
    return keys, phrases


def letter_keys(subject: str | None, body: str | None, sent: datetime, tz: ZoneInfo) -> set[str]:
    """What a letter can be recognised by: its subject key, local date and reference numbers."""
    keys = {f"d:{sent.astimezone(tz).date().isoformat()}"}
    key = subject_key(subject)
    if key:
        keys.add(f"s:{key}")
    text = f"{subject or ''}\n{(body or '')[:BODY_LIMIT]}"
    keys |= {f"r:{ref}" for ref in references(text)}
    return keys


def probe_keys(subject: str | None, body: str | None, attachments: str | None = None) -> set[str]:
    """What an incoming message says about the letter it answers, in its subject, its body and
    its attachments' text: subject keys ("s:"), the words of subjects it names ("w:"), the
    letter dates it cites ("d:") and the references it quotes ("r:")."""
    body = (body or "")[:BODY_LIMIT]
    if attachments:
        body = f"{body}\n{attachments[:BODY_LIMIT]}"
    keys: set[str] = set()
    key = subject_key(subject)
    if key:
        keys.add(f"s:{key}")
    keys |= {f"s:{k}" for k in quoted_subjects(body)}
    text = f"{subject or ''}\n{body}"
    named, phrases = named_subjects(text)
    keys |= {f"s:{k}" for k in named}
    keys |= {f"w:{p}" for p in phrases}
    keys |= {f"d:{d}" for d in cited_dates(text)}
    keys |= {f"r:{ref}" for ref in references(text)}
    return keys


# --- who a message concerns, and the keys it leaves ------------------------------------


class Resolver:
    """Address -> correspondent id: exact address first, then the longest matching domain."""

    def __init__(self, correspondents: Iterable[Correspondent]) -> None:
        self.exact: dict[str, str] = {}
        self.domains: list[tuple[str, str]] = []
        for correspondent in correspondents:
            for address in correspondent.addresses:
                self.exact.setdefault(address.strip().lower(), correspondent.slug)
            for domain in correspondent.domains:
                self.domains.append((domain.strip().lower().lstrip("@."), correspondent.slug))
        self.domains.sort(key=lambda item: (-len(item[0]), item[0]))
        self._cache: dict[str, str | None] = {}

    def __call__(self, address: str | None) -> str | None:
        """The id of the correspondent ``address`` belongs to, or None (not tracked)."""
        if not address:
            return None
        try:
            return self._cache[address]  # as written: a mailbox has few distinct addresses
        except KeyError:
            pass
        normal = address.strip().lower()
        found = self.exact.get(normal)
        if found is None:
            domain = normal.rpartition("@")[2]
            for suffix, slug in self.domains:
                if domain == suffix or domain.endswith("." + suffix):
                    found = slug
                    break
        self._cache[address] = found
        return found



def evidence_role(direction: str, kind: str, sender: str | None, to: Iterable[str | None],
                  resolve: Resolver) -> str | None:
    """"letter" or "probe" when a rethread reads this message's evidence (a letter to a
    correspondent, an answer from one), else None: what ``derive_all`` calls concerned."""
    if direction == "outgoing" and kind == "letter":
        return "letter" if any(resolve(a) for a in to) else None
    if direction == "incoming" and kind in ("reply", "acknowledgement", "auto_reply"):
        return "probe" if resolve(sender) else None
    return None


def evidence_keys(role: str, subject: str | None, when: str | None, body: str | None, tz,
                  attachments: str | None = None) -> list[str]:
    """The evidence keys of one message and "x:evidence" (its body was read): for a letter
    its subject, local date and references (and for a reminder "reminder", "rs:" its subject
    and "c:" the letter dates it cites); for an answer what it cites, in its body and in
    ``attachments`` (their text, joined). ``when`` is the stored ISO date; ``body`` the stored
    body text. Pure: the import's parser workers call it for new messages (without the
    attachments' text: the threader reads again an answer whose attachments have text), the
    threader for any message not read yet."""
    body = (body or "")[: BODY_LIMIT]
    if role == "letter":
        found = letter_keys(subject, body, moment(when), tz)
        if is_reminder(subject, body):
            found.add("reminder")
            found |= {"rs:" + k[2:] for k in found if k.startswith("s:")}
            found |= {f"c:{d}" for d in cited_dates(body[:REMINDER_TEXT])}
    else:
        found = probe_keys(subject, body, attachments)
    return [*found, "x:evidence"]


def evidence_state(config: Config) -> str:
    """What stored evidence was derived with (threading_state's "evidence")."""
    return f"{EVIDENCE_VERSION} {config.timezone}"


def moment(text: str | datetime) -> datetime:
    if isinstance(text, datetime):
        moment = text
    else:
        moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
