"""What a message is: its direction (outgoing / incoming) and its kind.

Pure functions of a parsed record (or a stored ``messages`` row) and the config; no I/O.

Kinds (DESIGN.md): ``letter`` (outgoing), ``reply`` (a person of a correspondent wrote it),
``auto_reply`` (out of office and other automatic answers, read receipts, challenge/response
notices), ``acknowledgement`` (an acknowledgement of receipt, automatic or a bare "we
received it, we will answer"), ``bounce`` (a delivery failure), ``other`` (newsletters,
bulk, delay warnings, our own automatic mail): ``other`` never opens nor answers a thread.

Headers read (lower-case names in ``ParsedMessage.headers``): see ``HEADERS_READ``.

Every word list is in the "Word lists" section below, French and English first; matching
ignores case, accents, typographic apostrophes and the French space before ":".
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from ..config import Config
from .records import DeliveryReport, ParsedMessage

# --- Word lists ------------------------------------------------------------------------------
# Written as people see them; they are folded (lower case, no accents) when compiled.

HEADERS_READ = (
    "auto-submitted",
    "x-autoreply",
    "x-autorespond",
    "precedence",
    "x-auto-response-suppress",
    "x-ms-exchange-generated-message-source",
    "x-ms-exchange-inbox-rules-loop",
    "list-unsubscribe",
    "list-id",
    "return-path",
    "content-type",
    "x-failed-recipients",
    "x-post-messageclass",
    "x-bluebottle-request",
    "x-delivery-agent",
)
# Headers whose mere presence says a machine answered (``X-Autoreply:`` is sent empty).
PRESENCE_HEADERS = ("x-autoreply", "x-autorespond")
# Key of the type of a report nested in multipart/mixed (bounces.NESTED_REPORT): no real
# header has a ":" in its name.
NESTED_REPORT = ":nested-report-type"

# Folders whose messages are ours: a path segment starting with one of these.
SENT_FOLDER_WORDS = ("sent", "envoy", "gesendet", "enviad", "inviat", "verzonden", "skickat")
# Folders of unsent mail: a draft is no letter (a whole Maildir may be imported).
DRAFT_FOLDER_WORDS = ("draft", "brouillon", "entwurf", "borrador", "bozz", "concept", "templates")

# Senders that are mail systems, not people: their mail is about delivery.
DAEMON_SENDERS = (
    "mailer-daemon", "mailerdaemon", "mailer_daemon", "mail-daemon", "mail.delivery.system",
    "mail-delivery-system", "mail_delivery_system", "maildeliverysystem",
)
# Mail administrators: about delivery only when something else says so (people write
# from postmaster@ too).
POSTMASTER_SENDERS = ("postmaster", "microsoftexchange", "mdaemon")  # Exchange: MicrosoftExchange329e...@

# Senders that nobody reads. Some ministries send real answers from such addresses (a PDF
# "ci-joint"), so alone they prove nothing; they tip an acknowledgement-looking message.
NO_REPLY_SENDERS = (
    "noreply", "no-reply", "no_reply", "ne-pas-repondre", "nepasrepondre", "ne_pas_repondre",
    "ne.pas.repondre", "donotreply", "do-not-reply", "do_not_reply", "ne-pas-re", "automate",
    "notification", "notifications", "accuse-reception", "accusereception",
)

# Subjects of delivery failures (the start of the subject).
BOUNCE_SUBJECTS = (
    "undelivered mail returned to sender", "undeliverable", "undelivered", "non remis",
    "non distribuable", "non délivré", "message non délivré", "échec de la remise",
    "échec de remise", "remise impossible", "delivery status notification (failure)",
    "delivery failure", "delivery has failed", "failure notice", "returned mail",
    "mail delivery failed", "mail delivery failure", "mail system error",
    "message not delivered", "unzustellbar", "nicht zustellbar", "non recapitabile",
    "onbestelbaar", "niet bestelbaar", "olevererbart", "no se puede entregar", "no entregado",
    "mail could not be delivered", "message could not be delivered", "could not deliver",
    "there was an error sending your mail", "delivery status notification",
    "failed mail", "permanent delivery failure", "permanent error", "non-delivery",
    "nondeliverable", "non-deliverable", "undeliverable mail", "returned mail",
    "error during delivery", "delivery notification: delivery has failed",
    "notification d'état de remise (échec)", "notification d'état de la remise (échec)",
    "notification d'état de la distribution (échec)",
    "delivery failed", "failed delivery", "failure delivery", "message undeliverable",
    "undelivered message", "unable to deliver", "could not send your message", "nondelivery",
    "notice of delivery failure", "delivery final failure", "returned to sender",
    "impossible de remettre", "zustellung fehlgeschlagen", "ikke levert", "kan ikke leveres",
    "nedoručitelné", "kézbesíthetetlen", "nie można dostarczyć", "não entregue",
    "não é possível entregar", "neisporučivo", "toimittamaton", "teslim edilemedi",
)
# What a mail system writes in a delivery failure, in its own words: with a failure's subject
# (or a postmaster's address) it makes a notice of mail whose sender and return path say
# nothing (saved copies often lack "Return-Path: <>").
BOUNCE_PHRASES = (
    "not be delivered", "couldn't be delivered", "was not delivered to", "could not deliver",
    "unable to deliver", "delivery has failed", "delivery to the following recipient",
    "could not be reached", "did not reach the following recipient", "undeliverable to the following",
    "permanent fatal errors", "fatal delivery error", "permanent error", "this is the mail system at host",
    "i'm sorry to have to inform you that your message", "created automatically by mail delivery software",
    "returned to sender", "user unknown", "unknown user", "no such user", "unknown recipient",
    "recipient not found", "invalid recipient", "mailbox unavailable", "mailbox not found",
    "mailbox is full", "quota exceeded", "over quota", "address rejected", "relay access denied",
    "host not found", "domain not found", "unrouteable address", "message was rejected",
    "does not exist", "n'a pas pu être remis", "n'a pas pu être distribué", "n'a pas pu être délivré",
    "impossible de remettre", "adresse introuvable", "destinataire inconnu", "adresse inconnue",
    "boîte aux lettres pleine", "n'existe pas", "konnte nicht zugestellt werden",
    "non è stato possibile recapitare",
)
# Subjects of delivery notices that are not failures: the letter may still arrive.
DELAY_SUBJECTS = (
    "delayed mail", "delivery status notification (delay)", "warning: could not send message",
    "delivery delayed", "message delayed", "remise retardée", "retardé", "distribution retardée",
    "delivery status notification (success)", "delivered:", "relayed:", "remis :", "remis:",
    "notification d'état de remise (retard)", "notification d'état de la remise (retard)",
    "notification d'état de la distribution (retard)",
    "notification d'état de remise (réussite)",
    "notification d'état de la distribution (réussite)", "successful mail delivery report",
    "delivery status notification (relay)", "delivery status notification (delayed)",
    "warning: message", "zustellung nicht abgeschlossen", "zustellung verzögert",
    "mail delivery delayed", "message delivery delayed", "delivery delay", "delayed:",
    "verzögerte zustellung", "remise différée", "consegna ritardata", "entrega retrasada",
    "retard de remise", "recapito ritardato", "bezorging vertraagd",
    "zugestellt:", "entregado:", "consegnato:", "bezorgd:", "levererat:",
    # OpenSMTPD: "Delivery status notification: <the action>"
    "delivery status notification: delayed", "delivery status notification: delivered",
    "delivery status notification: relayed", "delivery status notification: success",
)

# Subjects of out-of-office and other automatic answers: how the subject starts.
AUTO_REPLY_SUBJECTS = (
    "réponse automatique", "reponse automatique", "absence du bureau", "absent du bureau",
    "message d'absence", "automatic reply", "auto-reply", "autoreply", "auto reply",
    "out of office", "out of the office", "abwesenheitsnotiz", "respuesta automática",
    "risposta automatica", "automatisch antwoord", "fuera de la oficina",
    # Outlook's "Automatic reply:" in the other languages of the EU and its neighbours
    "automatyczna odpowiedź", "automātiskā atbilde", "ārpus biroja", "automatická odpověď",
    "automatická odpoveď", "automatiskt svar", "automatisk svar", "automaattinen vastaus",
    "resposta automática", "răspuns automat", "automatikus válasz", "automatinis atsakymas",
    "automaatvastus", "samodejni odgovor", "automatski odgovor", "otomatik yanıt",
    "automatische antwort", "odpowiedź automatyczna", "autosvar", "automatic response",
    "auto response", "auto-response", "autoresponse", "automated response", "automated reply",
    # older Exchange, Lotus, Zimbra and hand-written ones
    "réponse en absence", "avis d'absence", "notification d'absence", "hors du bureau",
    "en congé", "je suis absent", "absent jusqu", "absente jusqu", "respuesta fuera de la oficina",
    "risposta fuori sede", "fuori sede", "fuori ufficio", "fora do escritório", "nicht im büro",
    "außer haus", "ausser haus", "afwezig",
)
# ... and words that mark one only when they open the subject followed by ":" or alone.
AUTO_REPLY_SUBJECT_WORDS = (
    "absent", "absente", "absence", "congés", "auto", "ooo", "abwesend", "abwesenheit", "vacation",
    "vacances", "urlaub", "ausente", "assente",
)
# Read receipts (RFC 8098 disposition notifications, Outlook "Lu :").
READ_RECEIPT_SUBJECTS = ("lu :", "lu:", "non lu :", "read:", "not read:", "gelesen:")

# Subjects of acknowledgements of receipt, anywhere in the subject.
ACK_SUBJECTS = (
    "accusé de réception", "accusé réception", "[ar]", "confirmation de réception",
    "confirmation de dépôt", "demande enregistrée", "demande bien reçue",
    "votre demande a bien été", "votre message a bien été", "votre courrier a bien été",
    "acknowledgement of receipt", "acknowledgment of receipt", "receipt confirmation",
    "we have received your", "eingangsbestätigung",
)
# ... and "AR" opening the subject: "AR : votre courrier", "A.R. - demande n° 12". Not
# "votre saisine" nor "confirmation de votre demande": ministries title real answers so.
ACK_SUBJECT_RE = r"^(?:ar|a\.r\.)\s*[:\-]"

# Body phrases, found anywhere in the sender's own words (case, accents and apostrophes
# do not matter). Plain phrases, not regular expressions: they are checked on every row
# at each rethread, and a substring test is a hundred times faster than a regex search.

# The message was received: an acknowledgement, or the opening of a real answer.
ACK_PHRASES = (
    "accuse reception", "accuse de reception", "accuse bonne reception", "accusons reception",
    "accusons bonne reception", "accusons de reception", "avons bien reçu",
    "avons bien pris connaissance", "a bien été reçu", "a bien été enregistré",
    "a bien été transmis", "a bien été pris en compte", "a été enregistré", "a été transmis",
    "a été pris en compte", "bien reçu votre", "date de réception", "a bien été déposé",
    "a bien été réceptionné", "avons bien réceptionné",
    "acknowledge receipt", "acknowledges receipt", "acknowledged receipt",
    "acknowledge the receipt", "confirm receipt", "confirms receipt", "confirming receipt",
    "we have received your", "has been received", "your request has been",
    "your message has been", "your letter has been", "eingang ihrer", "eingang ihres",
)
# An answer will come later: an acknowledgement, not the answer.
PROMISE_PHRASES = (
    "sera traité", "sera examiné", "sera étudié", "sera instruit", "sera transmis",
    "sera analysé", "dans les meilleurs délais", "dans les plus brefs délais",
    "réponse vous sera", "vous sera apporté", "vous sera adressé", "vous sera communiqué",
    "nous vous répondrons", "nous répondrons", "nous reviendrons", "service compétent",
    "décision implicite", "ne manquera pas de", "ne manqueront pas de",
    "will be processed", "will be answered", "will be handled", "will be reviewed",
    "we will get back", "we will reply", "we will respond", "as soon as possible",
)
# A machine wrote this message and says so. Not "réponse automatique" alone: a real answer
# may discuss "la réponse automatique" of some service.
AUTOMATIC_PHRASES = (
    "message automatique", "message est automatique", "courriel automatique",
    "mail automatique", "ceci est une réponse automatique", "réponse automatique à votre",
    "généré automatiquement", "envoyé automatiquement", "automatically generated",
    "automatically sent", "automated message", "automated response", "automated reply",
    "this is an automatic",
)
# Nobody reads answers to this message: like a no-reply sender, it tips an
# acknowledgement-looking message, and proves nothing alone (real answers say it too).
NO_REPLY_PHRASES = (
    "ne pas répondre", "ne pas y répondre", "ne peut pas recevoir de réponse",
    "ne peut recevoir de réponse", "adresse n'est pas surveillée", "do not reply",
    "please don't reply", "not monitored",
)
# Someone is away (read in automatic messages only: "le ministre est en déplacement" is
# ordinary prose in a real answer).
AWAY_PHRASES = (
    "je suis absent", "je serai absent", "actuellement absent", "en congé", "de retour le",
    "de retour au", "de retour à partir", "hors du bureau", "en déplacement", "accès limité",
    "out of office", "out of the office", "on leave", "on annual leave", "on vacation",
    "i will be back", "i am away", "i am currently away", "limited access to", "abwesend",
    "away from the office", "away from my desk", "will return on", "je serai de retour",
    "retour prévu", "en vacances", "nicht im büro", "außer haus", "im urlaub", "fuori sede",
    "sono assente", "fuera de la oficina", "estoy fuera", "ik ben afwezig", "niet op kantoor",
)
# Challenge/response filters (Boxbe, Bluebottle, SpamArrest, TMDA, ChoiceMail, Mailinblack,
# "verify you are human" senders) hold the letter until its sender proves to be a person:
# an automatic answer, neither a reply (nobody read the letter) nor a bounce (it is
# delivered once confirmed). Some send it as a delivery report, some from the very address
# written to. Phrases that ask the sender to act...
CHALLENGE_PHRASES = (
    "verify you are human", "verify that you are human", "verify you are a human",
    "verify that you are a human", "confirm you are human", "confirm that you are human",
    "confirm you are a human", "confirm that you are a human", "prove you are human",
    "prove that you are human", "prove you are a human", "prove that you are a human",
    "i am not a robot", "your server requires confirmation",
    "to have your address added", "add yourself to my", "add you to my", "be added to my",
    "my guest list", "boxbe guest list", "has been waitlisted", "was waitlisted",
    "senders i have approved", "senders i've approved", "approved beforehand",
    "to release your message", "please confirm your message", "one-time verification",
    "one time verification", "challenge/response", "challenge-response",
    "vous n'êtes pas un robot", "je ne suis pas un robot", "pas un spammeur",
    "merci de vous authentifier", "veuillez vous authentifier", "cette authentification",
    "en attente d'authentification", "en attente de validation par",
)
# ... and words of such filters that real mail uses too (a bounce's "sender verification
# failed", a reply about a "liste blanche"): they count half.
CHALLENGE_WORDS = (
    "allowed list", "allow list", "approved senders", "list of approved", "guest list",
    "whitelist", "white list", "white-list", "liste blanche", "sender verification",
    "please verify", "vérification de l'expéditeur", "validation de l'expéditeur",
    "expéditeurs autorisés", "to control spam", "protected by", "protégé par", "spam",
)
# A challenge is short: longer own text is a person writing about such filters.
CHALLENGE_MAX_CHARS = 3000
# Every challenge seen says one of these (its list, or asks to verify, confirm, approve or
# authenticate): the cheap first test, as this runs on every message.
CHALLENGE_STEMS = ("list", "verif", "confirm", "approv", "authentif")
# An acknowledgement with more than this much own text (quotes removed) is a real answer.
ACK_MAX_CHARS = 900
# Only the opening of a body is read.
BODY_SCAN_CHARS = 6000

KINDS = ("letter", "reply", "auto_reply", "acknowledgement", "bounce", "other")


# str.replace is many times faster than str.translate here
_TYPOGRAPHY = (("\u2019", "'"), ("\u2018", "'"), ("\u02bc", "'"), ("œ", "oe"), ("æ", "ae"))


def _strip_accents(text: str) -> str:
    if text.isascii():
        return text
    for typographic, plain in _TYPOGRAPHY:
        if typographic in text:
            text = text.replace(typographic, plain)
    # NFKD splits "é" into "e" and an accent; dropping what is not ASCII drops the accents
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def fold(text: str | None) -> str:
    """Lower case, ASCII (no accents), plain apostrophes, single spaces: what every list is
    matched on. C-speed steps only: it runs on every stored row at each rethread."""
    return " ".join(_strip_accents(text or "").lower().split())


def _any(patterns: Iterable[str]) -> re.Pattern:
    # \b before the alternatives that start a word: the search fails fast inside words
    return re.compile("|".join(rf"(?:\b{p})" if p[:1].isalnum() else f"(?:{p})" for p in patterns))


def _phrases(words: Iterable[str]) -> re.Pattern:
    folded = [fold(w) for w in words]
    # fold() keeps Latin letters only: a phrase it empties would match every subject
    assert all(folded), [w for w, f in zip(words, folded) if not f]
    return _any(re.escape(f) for f in folded)


_BOUNCE_SUBJECT = re.compile(r"^(?:" + _phrases(BOUNCE_SUBJECTS).pattern + ")")
_DELAY_SUBJECT = re.compile(
    r"^(?:" + _phrases(DELAY_SUBJECTS).pattern + r")|\(delay\)|\(still being retried\)|:\s*warning\s*$"
)
_AUTO_SUBJECT = re.compile(r"^[\[(]?(?:" + _phrases(AUTO_REPLY_SUBJECTS).pattern + ")")
_WORDS = _phrases(AUTO_REPLY_SUBJECT_WORDS).pattern
_AUTO_SUBJECT_WORD = re.compile(rf"^(?:\[(?:{_WORDS})\]|\((?:{_WORDS})\)|(?:{_WORDS})\s*(?::|$))")
_READ_RECEIPT_SUBJECT = re.compile(r"^(?:" + _phrases(READ_RECEIPT_SUBJECTS).pattern + ")")
_ACK_SUBJECT = _any([_phrases(ACK_SUBJECTS).pattern, ACK_SUBJECT_RE])


class _Phrases:
    """A folded phrase list."""

    def __init__(self, phrases: Iterable[str]):
        self.phrases = tuple(dict.fromkeys(fold(p) for p in phrases))

    def found_in(self, folded_text: str) -> bool:
        return any(map(folded_text.__contains__, self.phrases))

    def count_in(self, folded_text: str) -> int:
        """How many of the phrases ``folded_text`` contains."""
        return sum(map(folded_text.__contains__, self.phrases))


_ACK_BODY = _Phrases(ACK_PHRASES)
_PROMISE_BODY = _Phrases(PROMISE_PHRASES)
_AUTOMATIC_BODY = _Phrases(AUTOMATIC_PHRASES)
_AWAY_BODY = _Phrases(AWAY_PHRASES)
_BOUNCE_BODY = _Phrases(BOUNCE_PHRASES)
_NO_REPLY_BODY = _Phrases(NO_REPLY_PHRASES)
_CHALLENGE_BODY = _Phrases(CHALLENGE_PHRASES)
_CHALLENGE_WORDS = _Phrases(CHALLENGE_WORDS)
# On folded subjects: "RE :", "TR:", "Fwd:", "AW:", "WG:", "Rép. :", "Réf. :", "RE[2]:".
_REPLY_PREFIX = re.compile(r"^(?:re|tr|fw|fwd|aw|wg|rep|ref)\.?\s*(?:\[\d+\])?\s*:")
_SENT_FOLDER = re.compile(r"(?:^|[/.\s_\-\[\]])(?:" + "|".join(SENT_FOLDER_WORDS) + ")")
_DRAFT_FOLDER = re.compile(r"(?:^|[/.\s_\-\[\]])(?:" + "|".join(DRAFT_FOLDER_WORDS) + ")")
# Where the quoted letter starts in a reply: everything below is not the sender's own text.
_QUOTE_START = re.compile(
    r"^(?:>|-{2,}\s*(?:original message|message d'origine|message original)|"
    r"(?:de|from|von)\s*:.*@|le .{0,80} a ecrit\s*:|on .{0,80} wrote:)",
)


# --- Facts read from a message ---------------------------------------------------------------


@dataclass(frozen=True)
class _Facts:
    """The few things classification looks at, from a ParsedMessage or a stored row."""

    from_address: str
    subject: str
    body: str
    headers: dict[str, str]  # folded values of the headers in HEADERS_READ
    is_delivery_report: bool
    report_actions: tuple[str, ...]
    report_failed: bool = False  # a report says failed, or a 5.x.x status

    def header(self, name: str) -> str:
        return self.headers.get(name, "")

    @functools.cached_property
    def delivery_kind(self) -> str | None:
        """``bounce`` or ``other`` for a delivery notice, else ``None``."""
        return _delivery_kind(self)

    @functools.cached_property
    def own(self) -> str:
        """The sender's own words, folded (see ``_own_text``)."""
        return _own_text(self.body)


def _facts(
    from_address: str | None,
    subject: str | None,
    body: str | None,
    headers: dict | None,
    is_delivery_report: bool,
    reports: Iterable[DeliveryReport],
) -> _Facts:
    reports = list(reports)
    return _Facts(
        from_address=(from_address or "").lower(),
        subject=fold(subject),
        body=body or "",
        headers={
            name: fold(str(value))
            for name, value in ((str(k).lower(), v) for k, v in (headers or {}).items())
            if (name in HEADERS_READ and (value or name in PRESENCE_HEADERS)) or name == NESTED_REPORT
        },
        is_delivery_report=bool(is_delivery_report),
        report_actions=tuple(fold(r.action) for r in reports),
        report_failed=any(r.action == "failed" or r.status.startswith("5") for r in reports),
    )


def _local_part(address: str) -> str:
    return address.rpartition("@")[0] or address


def _report_type(facts: _Facts) -> str:
    nested = facts.header(NESTED_REPORT)
    if nested:
        return nested
    content_type = facts.header("content-type")
    match = re.search(r"report-type\s*=\s*\"?([\w-]+)", content_type)
    if match:
        return match.group(1)
    if content_type.startswith("message/delivery-status"):
        return "delivery-status"
    return ""


def _auto_submitted(facts: _Facts) -> bool:
    """RFC 3834 and its cousins: a machine wrote this message."""
    value = facts.header("auto-submitted")
    if value and not value.startswith("no"):
        return True
    for name in PRESENCE_HEADERS:
        if name in facts.headers and facts.header(name) not in ("no", "false", "0"):
            return True
    if facts.header("precedence") == "auto_reply" or "autoresponder" in facts.header("x-post-messageclass"):
        return True
    # Exchange out of office: X-Auto-Response-Suppress alone is on much ordinary mail; an
    # Exchange OOF also comes from the mailbox rules agent (and carries Auto-Submitted).
    if facts.header("x-auto-response-suppress") and (
        "mailbox rules agent" in facts.header("x-ms-exchange-generated-message-source")
        or facts.header("x-ms-exchange-inbox-rules-loop")
    ):
        return True
    return False


def _bulk(facts: _Facts) -> bool:
    """Newsletters and mailing lists."""
    return bool(facts.header("list-unsubscribe") or facts.header("list-id"))


def _automatic_sender(facts: _Facts) -> bool:
    """A null return path or a no-reply sender: nobody reads answers to this message."""
    local = _local_part(facts.from_address)
    return facts.header("return-path") == "<>" or any(w in local for w in NO_REPLY_SENDERS)


def _bulk_precedence(facts: _Facts) -> bool:
    return facts.header("precedence") in ("bulk", "list", "junk")


def _own_text(body: str) -> str:
    """The sender's own words, folded: the body above the quoted letter (and its first
    ``BODY_SCAN_CHARS`` characters only: automatic messages are short)."""
    own = []
    for line in _strip_accents(body[:BODY_SCAN_CHARS]).lower().split("\n"):
        line = " ".join(line.split())
        if _QUOTE_START.match(line):
            break
        if line:
            own.append(line)
    return " ".join(own)


def _challenge_header(facts: _Facts) -> bool:
    """A challenge/response filter that signs its notices (Bluebottle, TMDA)."""
    return bool(facts.header("x-bluebottle-request")) or (facts.header("x-delivery-agent") or "").lower().startswith("tmda")


def _challenge(facts: _Facts) -> bool:
    """A challenge/response filter asks the sender to prove to be a person (see
    ``CHALLENGE_PHRASES``). Decided before the bounce check: Boxbe sends a multipart/report."""
    own = facts.own
    if len(own) > CHALLENGE_MAX_CHARS:
        return False
    link = "http" in own or "www." in own
    report = facts.is_delivery_report or bool(facts.delivery_kind)
    machine = (report or _auto_submitted(facts) or _automatic_sender(facts) or _bulk_precedence(facts)
               or _challenge_header(facts))
    # the common path ends here: no link nor machine, or none of the stems
    if not (link or machine) or not any(map(own.__contains__, CHALLENGE_STEMS)):
        return False
    asks = _CHALLENGE_BODY.count_in(own)
    score = 2 * asks + _CHALLENGE_WORDS.count_in(own)
    if report:
        # a real bounce says "sender verification failed" too: ask more of a report, and
        # none of its recipients may have failed for good
        return (
            asks >= 1 and score >= 3 and not facts.header("x-failed-recipients") and not facts.report_failed
        )
    return score >= 2


def _delivery_kind(facts: _Facts) -> str | None:
    """``bounce``, or ``other`` for a delay warning or a success notice; ``None`` for mail
    that is no delivery notice."""
    report_type = _report_type(facts)
    local_part = _local_part(facts.from_address)
    daemon = local_part.startswith(DAEMON_SENDERS)
    postmaster = local_part.startswith(POSTMASTER_SENDERS)
    null_sender = facts.header("return-path") == "<>"
    delay_subject = bool(_DELAY_SUBJECT.search(facts.subject))
    bounce_subject = not delay_subject and bool(_BOUNCE_SUBJECT.match(_strip_prefixes(facts.subject)))
    is_notice = (
        report_type == "delivery-status"
        or (null_sender and not facts.from_address)  # "From: <>": no person, no autoresponder
        or (facts.is_delivery_report and report_type in ("", "delivery-status"))
        or bool(facts.header("x-failed-recipients"))
        or daemon
        or (postmaster and (null_sender or _auto_submitted(facts)))
        or (
            (bounce_subject or delay_subject)
            and (null_sender or postmaster or _auto_submitted(facts))
        )
        # a failure's own subject (no "RE:", no "TR:": a person forwarding one writes those)
        # or a postmaster, and a mail system's words
        or (
            ((bounce_subject and not _REPLY_PREFIX.match(facts.subject)) or postmaster
             or (null_sender and _auto_submitted(facts)))
            and _BOUNCE_BODY.found_in(facts.own)
        )
    )
    if not is_notice:
        return None
    actions = set(facts.report_actions) - {""}
    if "failed" in actions:
        return "bounce"
    if actions and actions <= {"delayed", "delivered", "relayed", "expanded"}:
        return "other"
    if facts.header("x-failed-recipients") or bounce_subject:
        return "bounce"
    if delay_subject or "warning" in facts.header("auto-submitted"):
        return "other"
    return "bounce"


def looks_like_delivery_subject(subject: str) -> bool:
    """True for subjects of delivery failures, delay warnings and success notices."""
    folded = fold(subject)
    return bool(_DELAY_SUBJECT.search(folded) or _BOUNCE_SUBJECT.match(_strip_prefixes(folded)))


def _strip_prefixes(subject: str) -> str:
    while True:
        match = _REPLY_PREFIX.match(subject)
        if not match:
            return subject
        subject = subject[match.end():].lstrip()


def _automatic_kind(facts: _Facts, automatic: bool) -> str:
    """auto_reply or acknowledgement for a message a machine wrote."""
    own = facts.own
    if _ACK_SUBJECT.search(facts.subject) or _ACK_BODY.found_in(own):
        if not (_AUTO_SUBJECT.search(facts.subject) or _AWAY_BODY.found_in(own)):
            return "acknowledgement"
    if _AUTO_SUBJECT.search(facts.subject) or _AWAY_BODY.found_in(own) or automatic:
        return "auto_reply"
    return "other"


def _incoming_kind(facts: _Facts) -> str:
    report_type = _report_type(facts)
    if report_type == "disposition-notification":
        return "auto_reply"  # a read receipt: the letter was opened, not answered
    if report_type == "feedback-report":
        return "other"
    if _challenge(facts):
        return "auto_reply"  # never a reply nor a bounce: the letter waits for its sender
    if facts.delivery_kind:
        return facts.delivery_kind
    subject = facts.subject
    bare_subject = _strip_prefixes(subject)
    own = facts.own
    if _bulk(facts):
        # an out-of-office that came through a list answers the list's letter all the same
        away = _AWAY_BODY.found_in(own) and (_auto_submitted(facts) or _automatic_sender(facts))
        return "auto_reply" if _AUTO_SUBJECT.search(subject) or away else "other"

    automatic = _auto_submitted(facts) or bool(_AUTOMATIC_BODY.found_in(own))
    if automatic:
        return _automatic_kind(facts, automatic=True)
    if _automatic_sender(facts) and len(own) <= ACK_MAX_CHARS and _AWAY_BODY.found_in(own):
        return "auto_reply"  # "I am out of the office until ..." from a null or no-reply sender
    if _AUTO_SUBJECT.search(subject) or _AUTO_SUBJECT_WORD.match(bare_subject):
        return "auto_reply"
    if _READ_RECEIPT_SUBJECT.match(subject):
        return "auto_reply"
    if _ACK_SUBJECT.search(bare_subject) and bare_subject == subject:
        return "acknowledgement"  # "Accusé de réception : ..." is not someone's "RE :"
    if _bulk_precedence(facts):
        # "Precedence: bulk" from a null return path is an autoresponder ("Thank you for your
        # e-mail ..."): no person sends bulk mail that may not be answered
        return _automatic_kind(facts, automatic=_automatic_sender(facts))
    if _ACK_BODY.found_in(own):
        # "J'accuse réception de votre courrier" opens many real answers: only a short
        # message that promises an answer later (or comes from nobody) is an acknowledgement.
        no_reply = any(w in _local_part(facts.from_address) for w in NO_REPLY_SENDERS)
        no_reply = no_reply or _NO_REPLY_BODY.found_in(own)
        short = len(own) <= ACK_MAX_CHARS
        if short and (_PROMISE_BODY.found_in(own) or no_reply):
            return "acknowledgement"
    return "reply"


def _outgoing_kind(facts: _Facts) -> str:
    """Our own automatic or bulk mail is not a letter."""
    if (
        _auto_submitted(facts)
        or _bulk(facts)
        or _bulk_precedence(facts)
        or _report_type(facts) in ("disposition-notification", "delivery-status", "feedback-report")
        or _AUTO_SUBJECT.search(facts.subject)
        or _AUTO_SUBJECT_WORD.match(facts.subject)  # Lotus Notes' "AUTO: X is out of the office"
        or _READ_RECEIPT_SUBJECT.match(facts.subject)
        or (_automatic_sender(facts) and _AWAY_BODY.found_in(facts.own))
        or _challenge(facts)  # a coalition member's challenge/response filter
    ):
        return "other"
    return "letter"


# --- Public API --------------------------------------------------------------------------------


def is_coalition_address(address: str | None, config: Config) -> bool:
    """True when ``address`` is one of the coalition's addresses or in one of its domains."""
    if not address:
        return False
    address = address.lower()
    if address in config.coalition_addresses:
        return True
    domain = address.rpartition("@")[2]
    return any(domain == d or domain.endswith("." + d) for d in config.coalition_domains)


def is_sent_folder(folder: str | None) -> bool:
    """True for "Sent", "INBOX.Sent", "[Gmail]/Sent Mail", "Éléments envoyés", ... ."""
    return bool(folder) and bool(_SENT_FOLDER.search(fold(folder)))


def is_draft_folder(folder: str | None) -> bool:
    """True for "Drafts", "INBOX.Brouillons", "[Gmail]/Drafts", "Entwürfe", ... ."""
    return bool(folder) and bool(_DRAFT_FOLDER.search(fold(folder)))


def _direction(facts: _Facts, folders: Iterable[str], config: Config) -> str:
    if facts.delivery_kind:
        return "incoming"  # our own mail server's bounces come from our domain
    if is_coalition_address(facts.from_address, config):
        return "outgoing"
    if any(is_sent_folder(f) for f in folders):
        return "outgoing"
    return "incoming"


def _classify(facts: _Facts, folders: list[str], config: Config) -> tuple[str, str]:
    found = _direction(facts, folders, config)
    if found == "outgoing":
        drafts = folders and all(is_draft_folder(f) for f in folders)
        return found, "other" if drafts else _outgoing_kind(facts)
    return found, _incoming_kind(facts)


def direction(msg: ParsedMessage, folder: str | None, config: Config) -> str:
    """``outgoing`` when written by the coalition (or found in a Sent folder), else ``incoming``."""
    return classify(msg, folder, config)[0]


def classify(msg: ParsedMessage, folder: str | None, config: Config) -> tuple[str, str]:
    """Return ``(direction, kind)`` for a message found in ``folder``."""
    facts = _facts(
        msg.from_.address if msg.from_ else None,
        msg.subject,
        msg.body_text,
        msg.headers,
        msg.is_delivery_report,
        msg.delivery_reports,
    )
    return _classify(facts, [folder] if folder else [], config)


def classify_row(row: dict, config: Config) -> tuple[str, str]:
    """Return ``(direction, kind)`` for a stored ``messages`` row, so that ``tracker rethread``
    re-derives kinds after a config change without re-importing. Reads ``from_address``,
    ``subject``, ``body_text``, ``headers``, ``is_delivery_report``, ``delivery_reports`` and
    ``folders`` (JSON columns as text or already decoded)."""
    reports = [
        DeliveryReport(**{k: v for k, v in r.items() if k in DeliveryReport.__dataclass_fields__})
        for r in _json(row.get("delivery_reports"), [])
        if isinstance(r, dict) and "recipient" in r
    ]
    facts = _facts(
        row.get("from_address"),
        row.get("subject"),
        row.get("body_text"),
        _json(row.get("headers"), {}),
        bool(row.get("is_delivery_report")),
        reports,
    )
    folders = [f for f in _json(row.get("folders"), []) if isinstance(f, str)]
    return _classify(facts, folders, config)


def _json(value, default):
    if value is None or value == "":
        return default
    if isinstance(value, (str, bytes)):
        return json.loads(value)
    return value


__all__ = [
    "KINDS",
    "HEADERS_READ",
    "classify",
    "classify_row",
    "direction",
    "fold",
    "is_coalition_address",
    "is_draft_folder",
    "is_sent_folder",
    "looks_like_delivery_subject",
]
