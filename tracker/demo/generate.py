"""Generate the demo correspondence: a fictional coalition's letters to public bodies and
everything that came back, as a Maildir, with the truth the threading tests score against.

``generate(out)`` writes three things, byte-identical for the same arguments:

- ``out/mailbox/``: a Maildir++ (INBOX = ``cur/``, Sent = ``.Sent/cur/``). File names carry no
  ``:2,`` info suffix, so the folder installs and copies on any file system.
- ``out/tracker.toml``: the matching config (coalition, correspondents, deadlines), whose
  ``database`` is ``tracker.db`` beside it.
- ``out/truth.json``: what the generator decided, not what tracker computes. Format
  ``tracker-demo-truth/1``::

    {
      "format": "tracker-demo-truth/1",
      "seed": 1, "letters": 180,
      "as_of": "2026-09-01",          # statuses below hold on this date (Europe/Paris);
                                      # no message is dated on or after it
      "timezone": "Europe/Paris",
      "coalition": {"name": ..., "addresses": [...], "domains": [...]},
      "correspondents": [{"name", "short_name", "addresses", "domains", "deadline"}],
      "messages": [                   # every distinct message, in date order
        {"message_id": "...",         # without angle brackets, as records.ParsedMessage has it
         "files": ["cur/1727....ensemble-demo", ...],   # relative to mailbox/; two files = one
                                  # message found twice (a Bcc copy in INBOX, or delivered twice)
         "folders": ["Sent"], "date": "2024-10-03T09:41:00+02:00",
         "direction": "outgoing" | "incoming",
         "kind": "letter" | "reply" | "auto_reply" | "acknowledgement" | "bounce" | "other",
         "from": "address",
         "correspondent": "configured name" | null,     # the sender's body (incoming only)
         "threads": [[letter_message_id, correspondent_name], ...],  # the threads it belongs to
         "cases": ["reply_headerless", "subject_prefix:RE :", ...]}  # what it exercises (below)
      ],
      "threads": [                    # one per (letter, To correspondent) pair
        {"letter": "message id of the letter that opened it",
         "correspondent": "configured name", "address": "the To address used",
         "subject": "...", "reference": "CET-2024-017",
         "status": "awaiting_reply" | "acknowledged" | "answered" | "bounced",
         "replies": [message ids of kind reply that answer it],     # the set to score
         "messages": [every message id in the thread: letter, reminders, replies,
                      auto-replies, acknowledgements, bounce],
         "reminders": [...],
         "opened_at": "ISO date-time of the letter",
         "due_at": "YYYY-MM-DD",      # opened_at's local date + the body's deadline (months:
                                      # same day-of-month or the month's last day; working
                                      # days: the letter's day not counted, weekends and FR
                                      # public holidays skipped); given for every thread
         "overdue": true | false,     # not answered/bounced and as_of > due_at
         "answered_late": true | false,
         "cases": [...]}
      ],
      "unmatched": [message ids],     # replies that must land in the `unmatched` table: two
                                      # open threads of that body are equally plausible
      "unmatched_candidates": {message_id: [letter message ids]},
      "counts": {...}
    }

A message with ``"threads": []`` belongs to no thread: newsletters (kind ``other``), replies and
auto-replies from a body that was only copied (Cc) on the letter, and the ``unmatched`` replies.
Scoring should use each thread's ``status`` and ``replies``; ``messages`` is the fuller picture
(auto-replies without In-Reply-To that only quote the subject are in it too).

Case tags (``cases``), for slicing a score: letters ``to_several``, ``cc_bodies``,
``cc_unconfigured_address``, ``pdf_attached``, ``bcc_copy_in_inbox``, ``reference_in_subject``,
``ambiguous_pair``; reminders ``reminder``, ``reminder_with_headers``, ``reminder_headerless``,
``prefix:Relance :``; replies ``reply_linked:both|in_reply_to|references|missing_parent`` (the
last: In-Reply-To names an internal forward never seen, References still reaches the letter),
``reply_headerless`` with ``subject_prefix:RE :`` (and TR :, Réf. :, Rép. :, TR : RE : ...),
``subject_of_reminder`` ("RE : Relance : ..."), ``new_subject_cites_date``,
``new_subject_cites_numeric_date``, ``objet_quoted_in_body``, ``objet_wrapped`` (the Objet line
hard-wrapped by the client), ``cites_letter_reference``, ``human_accuse_reception``,
``html_only``, ``pdf_reply``, ``multipart_alternative``, ``second_reply``, ``after_deadline``,
``file_before_letter`` (its file name sorts before the letter's), ``delivered_twice``,
``cc_body_reply``, ``ambiguous``; ``auto_reply:rfc3834|x_autoreply|exchange_subject|precedence``,
``cc_body_auto_reply``, ``acknowledgement:accuse|ar|accuse_subject``,
``auto_submitted_acknowledgement``, ``dsn:postfix|exchange``, ``newsletter``; every message
``charset:<charset>/<transfer encoding>``. Threads: ``bounce_one_of_several``, ``never_answers``,
``within_deadline``, ``ambiguous_pair``.

Conventions the truth relies on: an automatic acknowledgement of receipt that also carries
``Auto-Submitted: auto-generated`` is an ``acknowledgement`` (the specific kind beats the generic
header); a human reply that begins "J'accuse réception de votre courrier" and answers is a
``reply``; a reminder never follows a reply in its thread.

``generate_bulk(out, messages)`` writes a large Maildir directly at ``out`` (``cur/`` and
``.Sent/cur/``) for benchmarks: the same style, a realistic size mix, no truth file.

CLI: ``python -m tracker.demo.generate OUT [--letters N] [--seed S] [--bulk N]``.
"""

from __future__ import annotations

import argparse
import base64
import calendar
import json
import os
import quopri
import random
import shutil
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from email.header import Header
from email.utils import format_datetime, formataddr
from pathlib import Path
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
TRUTH_FORMAT = "tracker-demo-truth/1"
HOST = "ensemble-demo"

COALITION_NAME = "Collectif Ensemble contre la traite des êtres humains"
COALITION_DOMAIN = "ensemble-traite.example.org"
COALITION_SENDERS = [
    ("Claire Dumoulin", f"coordination@{COALITION_DOMAIN}", "Coordinatrice du Collectif"),
    ("Hélène Marchetti", f"plaidoyer@{COALITION_DOMAIN}", "Chargée de plaidoyer"),
    ("Jean-Baptiste Ndiaye", f"presidence@{COALITION_DOMAIN}", "Président du Collectif"),
]
COALITION_ADDRESSES = [a for _, a, _ in COALITION_SENDERS]
PARTNERS = [
    ("Association Aide aux victimes", "contact@aide-victimes.example.net"),
    ("Comité contre l'esclavage moderne", "plaidoyer@ccem.example.net"),
    ("Amicale du Nid", "siege@amicale-nid.example.net"),
]
REPORTING_MTA = "mx1.hebergeur-associatif.example.net"
MAILER_DAEMON = f"MAILER-DAEMON@{REPORTING_MTA}"
EXCHANGE_POSTMASTER = "postmaster@hebergeur-associatif.example.net"


@dataclass
class Body:
    """A public body of the demo, with how it behaves."""

    name: str
    short: str
    domains: list[str]
    addresses: list[str]  # configured exact addresses
    to: str  # where letters go
    staff: list[tuple[str, str]]  # (display name, address): other addresses it answers from
    noreply: str | None  # acknowledgements come from here
    salutation: str
    signer: tuple[str, str]  # (name, title)
    deadline: str | None = None
    answer: float = 0.7
    median_days: float = 35
    ack: float = 0.2
    auto: float = 0.1
    weight: float = 1.0
    mailer: str = "zimbra"  # zimbra | outlook | lotus | legacy
    ref_prefix: str = "CAB"
    stale: str | None = None  # an old address that bounces


BODIES = [
    Body(
        "Ministère de l'Intérieur", "Intérieur", ["interieur.gouv.fr"],
        ["secretariat.cabinet@interieur.gouv.fr"], "secretariat.cabinet@interieur.gouv.fr",
        [("Bureau du cabinet", "bureau.cabinet@interieur.gouv.fr"),
         ("DLPAJ - Sous-direction du conseil juridique", "dlpaj-sdcj@interieur.gouv.fr"),
         ("Courrier du cabinet", "courrier.cabinet@interieur.gouv.fr")],
        "ne-pas-repondre@interieur.gouv.fr", "Monsieur le Ministre",
        ("Laurent Berthier", "Directeur adjoint du cabinet"),
        answer=0.75, median_days=45, ack=0.5, auto=0.1, weight=16, mailer="zimbra",
        ref_prefix="CAB", stale="conseiller.migrations@interieur.gouv.fr",
    ),
    Body(
        "Préfecture de police de Paris", "Préfecture de police",
        ["prefecture-police-paris.interieur.gouv.fr"], [],
        "cabinet@prefecture-police-paris.interieur.gouv.fr",
        [("Cabinet du préfet de police", "pp-cabinet-courrier@prefecture-police-paris.interieur.gouv.fr"),
         ("Brigade de protection des mineurs", "bpm-secretariat@prefecture-police-paris.interieur.gouv.fr")],
        None, "Monsieur le Préfet de police",
        ("Sophie Lemaire-Vidal", "Cheffe de cabinet du préfet de police"),
        deadline="45 days", answer=0.7, median_days=30, ack=0.0, auto=0.15, weight=8,
        mailer="outlook", ref_prefix="PP/CAB",
    ),
    Body(
        "Ministère de la Justice", "Justice", ["justice.gouv.fr"],
        ["courrier.cabinet@justice.gouv.fr"], "courrier.cabinet@justice.gouv.fr",
        [("DACG - Bureau de la politique pénale générale", "dacg-bppg@justice.gouv.fr"),
         ("Cabinet du garde des Sceaux", "cabinet.gds@justice.gouv.fr")],
        "accuse-reception@justice.gouv.fr", "Monsieur le Garde des Sceaux",
        ("Marc Olivieri", "Conseiller pénal"),
        deadline="30 working days", answer=0.7, median_days=40, ack=0.6, auto=0.05, weight=14,
        mailer="lotus", ref_prefix="DACG", stale="ancien.cabinet@justice.gouv.fr",
    ),
    Body(
        "Ministère du Travail et de l'Emploi", "Travail", ["travail.gouv.fr"],
        ["cabinet@travail.gouv.fr"], "cabinet@travail.gouv.fr",
        [("Direction générale du travail", "dgt-courrier@travail.gouv.fr"),
         ("Secrétariat particulier", "secretariat.particulier@travail.gouv.fr")],
        None, "Madame la Ministre", ("Nadia Ferhat", "Conseillère sociale"),
        answer=0.6, median_days=50, ack=0.1, auto=0.2, weight=10, mailer="outlook",
        ref_prefix="DGT", stale="conseiller.social@travail.gouv.fr",
    ),
    Body(
        "Ministère de l'Europe et des Affaires étrangères", "Affaires étrangères",
        ["diplomatie.gouv.fr"], ["cabinet.ministre@diplomatie.gouv.fr"],
        "cabinet.ministre@diplomatie.gouv.fr",
        [("Direction des Nations unies et des organisations internationales", "nuoi-dh@diplomatie.gouv.fr"),
         ("Protocole", "protocole.immunites@diplomatie.gouv.fr")],
        None, "Monsieur le Ministre", ("Arnaud de Castelbajac", "Conseiller diplomatique"),
        answer=0.55, median_days=55, ack=0.0, auto=0.35, weight=7, mailer="outlook",
        ref_prefix="NUOI/DH",
    ),
    Body(
        "Ministère des Solidarités et des Familles", "Solidarités",
        ["social.gouv.fr", "solidarites.gouv.fr"], ["cabinet.solidarites@social.gouv.fr"],
        "cabinet.solidarites@social.gouv.fr",
        [("DGCS - Bureau des urgences sociales", "dgcs-urgences-sociales@social.gouv.fr"),
         ("Cabinet de la ministre", "secretariat.cabinet@solidarites.gouv.fr")],
        "ne-pas-repondre@social.gouv.fr", "Madame la Ministre",
        ("Camille Rousseau", "Conseillère en charge de l'hébergement"),
        answer=0.7, median_days=35, ack=0.35, auto=0.1, weight=10, mailer="zimbra",
        ref_prefix="DGCS",
    ),
    Body(
        "Ministère chargé de l'Égalité entre les femmes et les hommes", "Égalité",
        ["egalite-femmes-hommes.gouv.fr"], ["cabinet@egalite-femmes-hommes.gouv.fr"],
        "cabinet@egalite-femmes-hommes.gouv.fr",
        [("Service des droits des femmes", "sdfe@egalite-femmes-hommes.gouv.fr")],
        None, "Madame la Ministre", ("Julie Garnier", "Cheffe de cabinet"),
        answer=0.8, median_days=25, ack=0.0, auto=0.1, weight=9, mailer="legacy",
        ref_prefix="SDFE",
    ),
    Body(
        "Mission interministérielle pour la protection des femmes contre les violences et la "
        "lutte contre la traite des êtres humains", "MIPROF", [],
        ["miprof@social.gouv.fr", "secretariat.miprof@social.gouv.fr"], "miprof@social.gouv.fr",
        [("Secrétariat de la MIPROF", "secretariat.miprof@social.gouv.fr")],
        None, "Madame la Secrétaire générale", ("Isabelle Carrère", "Secrétaire générale"),
        answer=0.9, median_days=15, ack=0.0, auto=0.1, weight=8, mailer="zimbra",
        ref_prefix="MIPROF",
    ),
    Body(
        "Commission nationale consultative des droits de l'homme", "CNCDH", ["cncdh.fr"], [],
        "secretariat@cncdh.fr", [("Rapporteur national traite", "rapporteur.traite@cncdh.fr")],
        None, "Madame la Présidente", ("Thomas Vasseur", "Secrétaire général"),
        deadline="1 month", answer=0.85, median_days=18, ack=0.0, auto=0.05, weight=6,
        mailer="legacy", ref_prefix="CNCDH",
    ),
    Body(
        "Défenseur des droits", "Défenseur des droits", ["defenseurdesdroits.fr"], [],
        "saisine@defenseurdesdroits.fr",
        [("Pôle droits fondamentaux des étrangers", "pole.etrangers@defenseurdesdroits.fr")],
        "ne-pas-repondre@defenseurdesdroits.fr", "Madame la Défenseure des droits",
        ("Élodie Marchand", "Juriste, pôle droits fondamentaux des étrangers"),
        answer=0.75, median_days=40, ack=0.8, auto=0.0, weight=6, mailer="zimbra",
        ref_prefix="DDD",
    ),
    Body(
        "Office français de protection des réfugiés et apatrides", "OFPRA", ["ofpra.gouv.fr"], [],
        "direction.generale@ofpra.gouv.fr",
        [("Mission vulnérabilités", "mission.vulnerabilites@ofpra.gouv.fr")],
        None, "Monsieur le Directeur général", ("Pierre-Yves Kermarrec", "Chef de la mission vulnérabilités"),
        answer=0.65, median_days=30, ack=0.1, auto=0.1, weight=6, mailer="outlook",
        ref_prefix="OFPRA/DG",
    ),
    Body(
        "Ministère de l'Économie et des Finances", "Économie",
        ["economie.gouv.fr", "finances.gouv.fr"], ["cabinet.ministre@economie.gouv.fr"],
        "cabinet.ministre@economie.gouv.fr", [], "ne-pas-repondre@finances.gouv.fr",
        "Monsieur le Ministre", ("", ""),
        answer=0.0, median_days=60, ack=0.5, auto=0.1, weight=5, mailer="outlook",
        ref_prefix="BERCY",
    ),
    Body(
        "Commission des lois de l'Assemblée nationale", "Commission des lois",
        ["assemblee-nationale.fr"], [], "commission.lois@assemblee-nationale.fr",
        [("Secrétariat de la commission des lois", "secretariat.lois@assemblee-nationale.fr")],
        None, "Monsieur le Président de la commission des lois",
        ("Antoine Morel", "Administrateur de la commission"),
        answer=0.35, median_days=40, ack=0.0, auto=0.2, weight=5, mailer="legacy",
        ref_prefix="AN/LOIS",
    ),
]

TOPICS = [
    ("la délivrance des titres de séjour aux victimes de traite (article L. 425-1 du CESEDA)",
     "Titres de séjour des victimes de traite"),
    ("le financement du dispositif national Ac.Sé d'accueil sécurisé des victimes",
     "Financement du dispositif Ac.Sé"),
    ("la situation des mineurs contraints à commettre des délits",
     "Mineurs contraints à commettre des délits"),
    ("le troisième plan national de lutte contre la traite des êtres humains",
     "Plan national de lutte contre la traite"),
    ("la formation des inspecteurs du travail à l'identification des victimes",
     "Formation des inspecteurs du travail"),
    ("l'exploitation des travailleurs saisonniers dans les vendanges",
     "Exploitation des saisonniers agricoles"),
    ("l'exploitation sexuelle organisée par le biais des plateformes en ligne",
     "Exploitation sexuelle en ligne"),
    ("la transposition de la directive (UE) 2024/1712 modifiant la directive 2011/36/UE",
     "Transposition de la directive (UE) 2024/1712"),
    ("l'indemnisation des victimes par les commissions d'indemnisation (CIVI)",
     "Indemnisation des victimes par les CIVI"),
    ("l'hébergement sécurisé des victimes et de leurs enfants",
     "Hébergement sécurisé des victimes"),
    ("l'esclavage domestique au sein de foyers bénéficiant d'immunités diplomatiques",
     "Esclavage domestique et immunités diplomatiques"),
    ("la prévention des mariages forcés", "Prévention des mariages forcés"),
    ("le contrôle des agences de recrutement de main-d'œuvre à l'étranger",
     "Agences de recrutement à l'étranger"),
    ("le devoir de vigilance des entreprises dans leurs chaînes d'approvisionnement",
     "Devoir de vigilance et travail forcé"),
    ("l'identification des victimes dans les centres de rétention administrative",
     "Identification des victimes en rétention"),
    ("l'accès des victimes à l'asile et la prise en compte de leur vulnérabilité",
     "Asile et vulnérabilité des victimes de traite"),
    ("la collecte de données statistiques sur la traite",
     "Statistiques sur la traite des êtres humains"),
    ("la protection des victimes lors des procédures pénales",
     "Protection des victimes pendant la procédure pénale"),
    ("la mise à l'abri des mineurs non accompagnés exploités",
     "Mise à l'abri des mineurs non accompagnés"),
    ("l'exploitation dans les chantiers du bâtiment", "Travail forcé sur les chantiers"),
    ("la coopération avec les pays d'origine des victimes", "Coopération avec les pays d'origine"),
    ("la traite à des fins de mendicité forcée", "Mendicité forcée"),
    ("le parcours de sortie de la prostitution", "Parcours de sortie de la prostitution"),
    ("la sensibilisation des professionnels de santé", "Sensibilisation des professionnels de santé"),
    ("le rapport d'évaluation du GRETA sur la France", "Rapport du GRETA sur la France"),
]
CONTEXTS = [
    "", "", "", " : demande de rendez-vous", " : nos recommandations", " : suites à donner",
    " en Île-de-France", " dans les Hauts-de-France", " en Provence-Alpes-Côte d'Azur",
    " en Outre-mer", " : situation préoccupante", " : contribution du Collectif",
    " : questions écrites", " : demande d'information", " en Auvergne-Rhône-Alpes",
    " dans le Grand Est", " en Occitanie", " : bilan et perspectives",
]
ASKS = [
    "Nous sollicitons un rendez-vous avec vos services afin d'échanger sur ces questions.",
    "Nous vous demandons de bien vouloir nous indiquer les mesures que vous entendez prendre.",
    "Nous souhaiterions connaître l'état d'avancement des travaux engagés par vos services.",
    "Nous vous prions de bien vouloir nous communiquer les instructions données aux services.",
    "Nous vous serions reconnaissants de nous faire part de votre position sur nos recommandations.",
]
PROBLEMS = [
    "Les associations membres du Collectif constatent sur le terrain que les victimes "
    "rencontrent des difficultés croissantes pour faire valoir leurs droits.",
    "Plusieurs situations récentes, suivies par nos associations, montrent que les dispositifs "
    "existants restent largement méconnus des professionnels concernés.",
    "Malgré les engagements pris, les moyens consacrés à l'accompagnement des victimes demeurent "
    "insuffisants au regard des besoins que nous observons.",
    "Les délais constatés exposent les personnes concernées à un risque élevé de nouvelle "
    "exploitation, ce qui nous préoccupe vivement.",
]
ANSWERS = [
    "Je tiens à vous assurer de la pleine mobilisation des services sur ce sujet. Une "
    "instruction a été adressée aux services déconcentrés afin de rappeler le cadre applicable "
    "et de veiller à son application homogène sur l'ensemble du territoire.",
    "Vos recommandations ont été examinées avec attention. Certaines d'entre elles seront "
    "reprises dans les travaux interministériels en cours, dont les conclusions sont attendues "
    "dans les prochains mois.",
    "Les crédits consacrés à ce dispositif ont été reconduits pour l'année en cours, et une "
    "évaluation sera conduite afin d'en apprécier l'adéquation aux besoins que vous décrivez.",
    "Mes services se tiennent à votre disposition pour une réunion de travail. Le secrétariat "
    "prendra prochainement l'attache de votre coordination afin d'en fixer la date.",
    "Une réflexion est engagée sur l'évolution du cadre réglementaire ; vos observations "
    "seront utilement versées à la concertation qui s'ouvrira prochainement.",
]
GENERIC_ANSWER = (
    "J'ai bien pris connaissance de votre courrier et des préoccupations qu'il exprime. Je puis "
    "vous assurer que les services du ministère examinent avec la plus grande attention les "
    "questions que vous soulevez, qui rejoignent les priorités de l'action gouvernementale. Ils "
    "restent à la disposition du Collectif pour poursuivre ce dialogue."
)
HEADERLESS_PREFIXES = ["RE : ", "TR : ", "Réf. : ", "Rép. : ", "RE: ", "TR: ", "Réf : ", "Fwd: ",
                       "Rép : ", "TR : RE : ", "RE : TR : "]
HEADERLESS_VARIANTS = ["subject_prefix", "date_subject", "subject_prefix", "objet_body", "subject_prefix",
                      "reference", "subject_prefix", "pdf", "subject_prefix", "accuse_human",
                      "objet_body", "html_only", "subject_prefix", "date_numeric"]
MONTHS_FR = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
             "septembre", "octobre", "novembre", "décembre"]
DAYS_FR = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]


# ---------------------------------------------------------------------------- small helpers

def french_date(day: date) -> str:
    """3 octobre 2024; 1er octobre 2024."""
    return f"{'1er' if day.day == 1 else day.day} {MONTHS_FR[day.month - 1]} {day.year}"


def add_months(day: date, months: int) -> date:
    """Same day-of-month ``months`` later, or the last day of a shorter month."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_date(start: date, deadline: str) -> date:
    """The generator's own reading of a deadline (the truth must not come from tracker)."""
    count_text, _, unit = deadline.partition(" ")
    count = int(count_text)
    if unit.startswith("month"):
        return add_months(start, count)
    if unit.startswith("working"):
        import holidays

        off = holidays.country_holidays("FR", years=range(start.year, start.year + 3))
        day, left = start, count
        while left:
            day += timedelta(days=1)
            if day.weekday() < 5 and day not in off:
                left -= 1
        return day
    return start + timedelta(days=count)


def _of(salutation: str) -> str:
    """"Monsieur le Ministre" -> "du Ministre"; "Madame la Ministre" -> "de la Ministre"."""
    if salutation.startswith("Monsieur le "):
        return "du " + salutation[len("Monsieur le "):]
    if salutation.startswith("Madame la "):
        return "de la " + salutation[len("Madame la "):]
    return "de " + salutation


def encode_header(text: str, charset: str = "utf-8") -> str:
    """RFC 2047 when needed, folded at 76 characters."""
    if text.isascii():
        return text
    return Header(text, charset, header_name="Subject").encode(linesep="\n")


def address(name: str, addr: str, charset: str = "utf-8") -> str:
    if not name:
        return addr
    return formataddr((name, addr), charset=charset)


def latin1_safe(text: str) -> str:
    """What a Latin-1 mailer can carry: typographic quotes and ligatures flattened."""
    return (text.replace("’", "'").replace("œ", "oe").replace("Œ", "OE").replace("€", "EUR")
            .replace("“", '"').replace("”", '"').replace("…", "..."))


def encode_body(text: str, charset: str, cte: str) -> bytes:
    if charset == "iso-8859-1":
        text = latin1_safe(text)
    data = text.encode(charset)
    if cte == "quoted-printable":
        return quopri.encodestring(data)
    if cte == "base64":
        return base64.encodebytes(data)
    return data if data.endswith(b"\n") else data + b"\n"


def wrap_8bit(text: str, flowed: bool, width: int = 72) -> str:
    """Wrap long lines as mail clients do for 8bit parts: format=flowed soft breaks (a trailing
    space, RFC 3676) for UTF-8, hard breaks for the older Latin-1 and windows-1252 clients."""
    out: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width + 4:
            out.append(line)
            continue
        chunks = wrap(line, width)
        out.extend(chunk + " " for chunk in chunks[:-1]) if flowed else out.extend(chunks[:-1])
        out.append(chunks[-1])
    return "\n".join(out)


def text_part(text: str, charset: str, cte: str, subtype: str = "plain") -> bytes:
    flowed = subtype == "plain" and cte == "8bit" and charset == "utf-8"
    if subtype == "plain" and cte == "8bit":
        text = wrap_8bit(text, flowed)
    head = (f"Content-Type: text/{subtype}; charset=\"{charset}\""
            + ("; format=flowed" if flowed else "")
            + f"\nContent-Transfer-Encoding: {cte}\n\n")
    return head.encode("ascii") + encode_body(text, charset, cte)


def html_of(text: str) -> str:
    from html import escape

    paragraphs = "".join(
        f"<p>{escape(p).replace(chr(10), '<br>')}</p>\n" for p in text.strip().split("\n\n")
    )
    return ("<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; "
            "charset=utf-8\"></head>\n<body style=\"font-family:Marianne,Arial,sans-serif\">\n"
            f"{paragraphs}</body></html>\n")


def multipart(subtype: str, boundary: str, parts: list[bytes], extra: str = "") -> bytes:
    head = f"Content-Type: multipart/{subtype}; boundary=\"{boundary}\"{extra}\n\n".encode()
    body = b"This is a multi-part message in MIME format.\n\n"
    for part in parts:
        body += f"--{boundary}\n".encode() + part + (b"" if part.endswith(b"\n") else b"\n")
    return head + body + f"--{boundary}--\n".encode()


def attachment_part(data: bytes, filename: str, ctype: str = "application/pdf") -> bytes:
    return (f"Content-Type: {ctype}; name=\"{filename}\"\n"
            f"Content-Disposition: attachment; filename=\"{filename}\"\n"
            "Content-Transfer-Encoding: base64\n\n").encode() + base64.encodebytes(data)


def wrap(text: str, width: int = 88) -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
    return lines


def make_pdf(text: str, title: str = "Courrier", padding: bytes = b"") -> bytes:
    """A minimal valid one-page PDF with a Helvetica text layer (pypdf extracts it).

    ``padding`` adds an unreferenced binary stream (scanned-letter weight for benchmarks)."""

    def esc(line: str) -> bytes:
        raw = line.encode("cp1252", "replace")
        return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")

    lines = wrap(text)[:56]
    content = b"BT\n/F1 10 Tf\n13 TL\n56 790 Td\n" + b"".join(
        b"(" + esc(line) + b") Tj T*\n" for line in lines
    ) + b"ET\n"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"endstream",
        b"<< /Title (" + esc(title) + b") /Producer (tracker demo generator) >>",
    ]
    if padding:
        objects.append(b"<< /Length %d >>\nstream\n" % len(padding) + padding + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += (b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objects) + 1, xref))
    return bytes(out)


def delivery_report(rng: random.Random, mid: str, when: datetime, to: str, failed: str,
                    original: bytes, style: str) -> bytes:
    """A multipart/report DSN saying ``failed`` does not exist (5.1.1): Postfix style (the whole
    original attached) or Exchange style (French text, the original's headers only)."""
    remote = f"smtp.{failed.split('@')[1]}"
    original_headers = original.split(b"\n\n", 1)[0] + b"\n"
    if style == "postfix":
        mta, sender, subject = REPORTING_MTA, f"Mail Delivery System <{MAILER_DAEMON}>", \
            "Undelivered Mail Returned to Sender"
        diagnostic = f"smtp; 550 5.1.1 <{failed}>: Recipient address rejected: User unknown in virtual mailbox table"
        human = (f"This is the mail system at host {mta}.\n\n"
                 "I'm sorry to have to inform you that your message could not\n"
                 "be delivered to one or more recipients. It's attached below.\n\n"
                 f"<{failed}>: host {remote} said: 550 5.1.1 <{failed}>:\n"
                 "    Recipient address rejected: User unknown in virtual mailbox table\n")
        charset = "us-ascii"
        returned = (b"Content-Description: Undelivered Message\nContent-Type: message/rfc822\n"
                    b"Content-Transfer-Encoding: 8bit\n\n" + original)
    else:
        mta, sender = "PR1P264MB2404.FRAP264.PROD.OUTLOOK.COM", f"Microsoft Outlook <{EXCHANGE_POSTMASTER}>"
        subject = encode_header("Non remis : " + _subject_of(original_headers))
        diagnostic = "smtp; 550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"
        human = (f"Votre message n'a pas pu être remis à {failed}, car l'adresse est introuvable "
                 "ou ne peut pas recevoir de courrier.\n\nInformations de diagnostic pour les "
                 f"administrateurs :\n\nServeur de génération : {mta}\n{failed}\n"
                 "Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'\n")
        charset = "utf-8"
        returned = (b"Content-Description: Undelivered Message Headers\n"
                    b"Content-Type: text/rfc822-headers\n\n" + original_headers)
    status = (f"Reporting-MTA: dns; {mta}\nX-Queue-ID: {rng.getrandbits(40):010X}\n"
              f"Arrival-Date: {_header_date(when - timedelta(seconds=30))}\n\n"
              f"Final-Recipient: rfc822; {failed}\nOriginal-Recipient: rfc822;{failed}\n"
              f"Action: failed\nStatus: 5.1.1\nRemote-MTA: dns; {remote}\nDiagnostic-Code: {diagnostic}\n")
    headers = [
        "Return-Path: <>",
        f"Date: {_header_date(when, utc=True)}",
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Message-ID: <{mid}>",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
    ]
    body = multipart("report", f"{rng.getrandbits(40):010X}.{int(when.timestamp())}/{mta}", [
        f"Content-Description: Notification\nContent-Type: text/plain; charset={charset}\n"
        f"Content-Transfer-Encoding: 8bit\n\n".encode() + human.encode(charset),
        b"Content-Description: Delivery report\nContent-Type: message/delivery-status\n\n" + status.encode(),
        returned,
    ], extra="; report-type=delivery-status")
    return ("\n".join(headers) + "\n").encode() + body


def _subject_of(headers: bytes) -> str:
    """The decoded Subject of raw headers (to quote it in a report)."""
    from email.header import decode_header, make_header
    from email.parser import BytesHeaderParser

    value = BytesHeaderParser().parsebytes(headers).get("Subject", "")
    return str(make_header(decode_header(value)))


# ---------------------------------------------------------------------------- the model

@dataclass
class Msg:
    """One message the generator decided to exist."""

    mid: str
    folder: str  # INBOX | Sent
    when: datetime  # aware, local
    kind: str
    direction: str
    sender: str
    correspondent: str | None = None
    cases: list[str] = field(default_factory=list)
    also_inbox: bool = False  # the coalition Bcc'd itself: the same message in two folders
    subject: str = ""
    inbox_copies: int = 1  # delivered twice (To one coalition address, Cc another)
    file_stamp: int | None = None  # a file name out of date order (restored from a backup)
    raw: bytes = b""
    threads: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Letter:
    msg: Msg
    subject: str
    topic: str
    ref: str
    to: list[Body]
    to_addresses: list[str]
    cc: list[Body]
    cc_partner: tuple[str, str] | None
    signer: tuple[str, str, str]
    ambiguous: bool = False
    pdf: bool = False
    text: str = ""


@dataclass
class Thread:
    letter: Letter
    body: Body
    address: str
    reminders: list[Msg] = field(default_factory=list)
    replies: list[Msg] = field(default_factory=list)
    others: list[Msg] = field(default_factory=list)
    reply_at: datetime | None = None
    second_reply_at: datetime | None = None
    bounced: bool = False
    acknowledged: bool = False
    cases: list[str] = field(default_factory=list)


class Ids:
    """Deterministic Message-IDs in the styles real mailers use."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.seen: set[str] = set()

    def new(self, when: datetime, style: str, domain: str) -> str:
        rng = self.rng
        while True:
            stamp = int(when.timestamp())
            if style == "coalition":
                mid = f"{when.strftime('%Y%m%d%H%M%S')}.{rng.getrandbits(40):010x}@{domain}"
            elif style == "zimbra":
                mid = f"{rng.randrange(10**8, 10**9)}.{rng.randrange(10**4, 10**5)}.{stamp}{rng.randrange(1000):03d}.JavaMail.zimbra@{domain}"
            elif style == "outlook":
                box = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(4))
                mid = (f"PR1P264MB{rng.randrange(1000, 9999)}{box}"
                       f"{rng.getrandbits(48):012X}@PR1P264MB{rng.randrange(1000, 9999)}.FRAP264.PROD.OUTLOOK.COM")
            elif style == "lotus":
                mid = f"OF{rng.getrandbits(32):08X}.{rng.getrandbits(32):08X}-ON{rng.getrandbits(32):08X}@{domain}"
            else:
                mid = f"{stamp}.{rng.getrandbits(32):08x}@{domain}"
            if mid not in self.seen:
                self.seen.add(mid)
                return mid


def _work_time(rng: random.Random, day: date, start: int = 8, end: int = 19) -> datetime:
    """A realistic office time on ``day`` (moved to the next weekday), Paris time."""
    while day.weekday() >= 5:
        day += timedelta(days=1)
    minutes = rng.randrange(start * 60 + 30, end * 60)
    return datetime.combine(day, time(minutes // 60, minutes % 60, rng.randrange(60)), PARIS)


def _later(when: datetime, seconds: float) -> datetime:
    return (when.astimezone(timezone.utc) + timedelta(seconds=seconds)).astimezone(PARIS)


def _header_date(when: datetime, utc: bool = False) -> str:
    return format_datetime(when.astimezone(timezone.utc) if utc else when)


def _mailer_charset(body: Body, rng: random.Random) -> tuple[str, str]:
    """(charset, transfer encoding) the body's mail system would use."""
    return {
        "zimbra": rng.choice([("utf-8", "quoted-printable"), ("utf-8", "8bit")]),
        "outlook": rng.choice([("iso-8859-1", "quoted-printable"), ("utf-8", "base64")]),
        "lotus": rng.choice([("iso-8859-1", "8bit"), ("iso-8859-1", "quoted-printable")]),
        "legacy": rng.choice([("windows-1252", "8bit"), ("windows-1252", "quoted-printable")]),
    }[body.mailer]


def _mailer_header(body: Body) -> str:
    return {
        "zimbra": "X-Mailer: Zimbra 9.0.0_GA_4546 (ZimbraWebClient - FF128 (Linux)/9.0.0_GA_4546)",
        "outlook": "X-Mailer: Microsoft Outlook 16.0",
        "lotus": "X-Mailer: Lotus Notes Release 9.0.1FP10 SHF82 June 14, 2019",
        "legacy": "X-Mailer: Microsoft Office Outlook 12.0",
    }[body.mailer]


# ---------------------------------------------------------------------------- generation

class Generator:
    """Decides the correspondence, then renders every message."""

    def __init__(self, seed: int, letters: int, start: date, months: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.n_letters = letters
        self.start = start
        self.end = add_months(start, months)
        self.end_at = datetime.combine(self.end, time(0, 0), PARIS)
        self.ids = Ids(self.rng)
        self.letters: list[Letter] = []
        self.threads: list[Thread] = []
        self.messages: list[Msg] = []
        self.unmatched: dict[str, list[str]] = {}
        self.used_subjects: set[str] = set()
        self.boundary_count = 0
        self.prefix_turn = 0
        self.variant_turn = 0
        self.reminder_turn = 0
        self.auto_turn = 0
        self.ack_turn = 0
        self.bounce_turn = 0
        self.objet_turn = 0

    def boundary(self) -> str:
        self.boundary_count += 1
        return f"----=_Part_{self.boundary_count}_{self.rng.getrandbits(40):010x}"

    # -- letters ----------------------------------------------------------------

    def _subject(self) -> tuple[str, str]:
        rng = self.rng
        for _ in range(200):
            topic, short = rng.choice(TOPICS)
            subject = short + rng.choice(CONTEXTS)
            if subject not in self.used_subjects:
                self.used_subjects.add(subject)
                return subject, topic
        subject = f"{short} ({len(self.used_subjects)})"
        self.used_subjects.add(subject)
        return subject, topic

    def _letter_day(self) -> date:
        span = (self.end - self.start).days - 3
        return self.start + timedelta(days=self.rng.randrange(span))

    def plan_letters(self) -> None:
        rng = self.rng
        weights = [b.weight for b in BODIES]
        answering = [b for b in BODIES if b.answer > 0.5 and b.name != BODIES[1].name]
        pairs = max(1, min(4, self.n_letters // 45))
        planned = 0
        for index in range(pairs):
            # two letters to the same body on the same day: a vague reply cannot be placed
            body = answering[(index * 3 + self.seed) % len(answering)]
            day = self._letter_day()
            for _ in range(2):
                self._add_letter(day, [body], [], ambiguous=True)
                planned += 1
        while planned < self.n_letters:
            count = rng.choices([1, 2, 3], [65, 25, 10])[0]
            to: list[Body] = []
            while len(to) < count:
                body = rng.choices(BODIES, weights)[0]
                if body not in to:
                    to.append(body)
            cc: list[Body] = []
            if rng.random() < 0.3:
                for _ in range(rng.choice([1, 1, 2])):
                    body = rng.choices(BODIES, weights)[0]
                    if body not in to and body not in cc:
                        cc.append(body)
            self._add_letter(self._letter_day(), to, cc)
            planned += 1
        self.letters.sort(key=lambda l: l.msg.when)
        per_year: dict[int, int] = {}
        for letter in self.letters:
            year = letter.msg.when.year
            per_year[year] = per_year.get(year, 0) + 1
            letter.ref = f"CET-{year}-{per_year[year]:03d}"
            if rng.random() < 0.15:
                letter.subject = f"{letter.subject} - N/Réf : {letter.ref}"
                letter.msg.cases.append("reference_in_subject")

    def _add_letter(self, day: date, to: list[Body], cc: list[Body], ambiguous: bool = False) -> None:
        rng = self.rng
        when = _work_time(rng, day, 9, 19)
        signer = rng.choices(COALITION_SENDERS, [6, 3, 1])[0]
        subject, topic = self._subject()
        msg = Msg(
            self.ids.new(when, "coalition", COALITION_DOMAIN), "Sent", when, "letter", "outgoing",
            signer[1],
        )
        to_addresses = []
        for body in to:
            if not ambiguous and body.staff and rng.random() < 0.15:
                # written to a named adviser: resolved by the domain, not the address
                to_addresses.append(f"{rng.choice(['m.durand', 'a.lefebvre', 'c.petit', 'f.moreau'])}@{body.domains[0]}"
                                    if body.domains else body.to)
            else:
                to_addresses.append(body.to)
        partner = rng.choice(PARTNERS) if not ambiguous and rng.random() < 0.15 else None
        letter = Letter(msg, subject, topic, "", to, to_addresses, cc, partner, signer,
                        ambiguous=ambiguous, pdf=rng.random() < 0.3)
        if len(to) > 1:
            msg.cases.append("to_several")
        if cc:
            msg.cases.append("cc_bodies")
        if partner:
            msg.cases.append("cc_unconfigured_address")
        if ambiguous:
            msg.cases.append("ambiguous_pair")
        if letter.pdf:
            msg.cases.append("pdf_attached")
        if rng.random() < 0.06:
            msg.also_inbox = True
            msg.cases.append("bcc_copy_in_inbox")
        self.letters.append(letter)

    # -- what came back -----------------------------------------------------------

    def plan_threads(self) -> None:
        rng = self.rng
        bounces = 0
        for letter in self.letters:
            for body, addr in zip(letter.to, letter.to_addresses):
                thread = Thread(letter, body, addr)
                self.threads.append(thread)
                sent = letter.msg.when
                if (len(letter.to) > 1 and body.stale and bounces < 6
                        and (rng.random() < 0.25 or bounces < 2)):
                    bounces += 1
                    thread.address = body.stale
                    letter.to_addresses[letter.to.index(body)] = body.stale
                    thread.bounced = True
                    thread.cases.append("bounce_one_of_several")
                    continue
                if rng.random() < body.ack:
                    thread.acknowledged = True
                if letter.ambiguous:
                    continue
                if rng.random() < body.answer:
                    days = rng.lognormvariate(0, 0.6) * body.median_days
                    reply_day = (sent + timedelta(days=max(1.0, days))).date()
                    at = _work_time(rng, reply_day, 8, 18)
                    if at < self.end_at:
                        thread.reply_at = at
                        if rng.random() < 0.07:
                            second = _work_time(rng, reply_day + timedelta(days=rng.randrange(7, 40)), 8, 18)
                            if second < self.end_at:
                                thread.second_reply_at = second
                # reminders: only while nothing has come back
                limit = thread.reply_at or self.end_at
                if rng.random() < 0.55:
                    first = _work_time(rng, (sent + timedelta(days=rng.randrange(35, 62))).date(), 9, 19)
                    if first < limit - timedelta(days=2):
                        thread.reminders.append(self._reminder(thread, first, 1))
                        if rng.random() < 0.35:
                            again = _work_time(rng, (first + timedelta(days=rng.randrange(25, 45))).date(), 9, 19)
                            if again < limit - timedelta(days=2):
                                thread.reminders.append(self._reminder(thread, again, 2))
        # ambiguous pairs: one vague reply a few weeks later, placed by nobody
        by_day: dict[tuple[str, date], list[Thread]] = {}
        for thread in self.threads:
            if thread.letter.ambiguous:
                by_day.setdefault((thread.body.name, thread.letter.msg.when.date()), []).append(thread)
        self.ambiguous_groups = [group for group in by_day.values() if len(group) == 2]

    def _reminder(self, thread: Thread, when: datetime, number: int) -> Msg:
        signer = thread.letter.signer
        msg = Msg(self.ids.new(when, "coalition", COALITION_DOMAIN), "Sent", when, "letter",
                  "outgoing", signer[1], cases=["reminder"])
        msg.cases.append("reminder_with_headers" if self.rng.random() < 0.7 else "reminder_headerless")
        msg.cases.append("prefix:" + ("Relance : " if number == 1 else self.rng.choice(["Rappel : ", "2e relance : "])))
        return msg

    # -- rendering ----------------------------------------------------------------

    def render_letter(self, letter: Letter) -> None:
        rng = self.rng
        msg = letter.msg
        name, addr, title = letter.signer
        to_headers = [address(self._display(body, a), a) for body, a in zip(letter.to, letter.to_addresses)]
        cc_headers = [address(self._display(body, body.to), body.to) for body in letter.cc]
        if letter.cc_partner:
            cc_headers.append(address(*letter.cc_partner))
        salutation = letter.to[0].salutation if len(letter.to) == 1 else "Mesdames, Messieurs les Ministres"
        text = (
            f"{salutation},\n\n"
            f"Au nom du {COALITION_NAME}, qui réunit vingt associations engagées auprès des "
            f"victimes, nous souhaitons appeler votre attention sur {letter.topic}.\n\n"
            f"{rng.choice(PROBLEMS)}\n\n{rng.choice(ASKS)}\n\n"
            f"N/Réf : {letter.ref}\n\n"
            f"Nous vous prions d'agréer, {salutation}, l'expression de notre haute considération.\n\n"
            f"{name}\n{title}\n{COALITION_NAME}\n{addr}\n"
        )
        letter.text = text
        headers = [
            f"Message-ID: <{msg.mid}>",
            f"Date: {_header_date(msg.when)}",
            f"From: {address(name, addr)}",
            "To: " + ",\n ".join(to_headers),
        ]
        if cc_headers:
            headers.append("Cc: " + ",\n ".join(cc_headers))
        headers += [
            f"Subject: {encode_header(letter.subject)}",
            "MIME-Version: 1.0",
            "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.3.0",
            "Content-Language: fr",
        ]
        charset, cte = rng.choice([("utf-8", "8bit"), ("utf-8", "quoted-printable"), ("utf-8", "base64")])
        if letter.pdf:
            pdf = make_pdf(f"{COALITION_NAME}\n\nObjet : {letter.subject}\n\n{text}", letter.ref)
            cover = (f"{salutation},\n\nVeuillez trouver ci-joint un courrier du Collectif relatif "
                     f"à {letter.topic} (N/Réf : {letter.ref}).\n\nBien respectueusement,\n\n{name}\n{title}\n")
            body = multipart("mixed", self.boundary(), [
                text_part(cover, charset, cte),
                attachment_part(pdf, f"Courrier_{letter.ref}.pdf"),
            ])
        elif rng.random() < 0.25:
            body = multipart("alternative", self.boundary(), [
                text_part(text, charset, cte), text_part(html_of(text), charset, cte, "html")])
            msg.cases.append("multipart_alternative")
        else:
            body = text_part(text, charset, cte)
        msg.cases.append(f"charset:{charset}/{cte}")
        msg.raw = ("\n".join(headers) + "\n").encode() + body

    def render_reminder(self, thread: Thread, msg: Msg, previous: list[Msg]) -> None:
        letter = thread.letter
        name, addr, title = letter.signer
        prefix = next(c for c in msg.cases if c.startswith("prefix:"))[7:]
        subject = msg.subject = prefix + letter.subject
        text = (
            f"{thread.body.salutation},\n\n"
            f"Nous nous permettons de revenir vers vous au sujet de notre courrier du "
            f"{french_date(letter.msg.when.date())} relatif à {letter.topic} (N/Réf : {letter.ref}), "
            f"resté à ce jour sans réponse.\n\n"
            f"Nous vous serions reconnaissants de bien vouloir nous indiquer la suite que vous "
            f"entendez y donner.\n\n"
            f"Nous vous prions d'agréer, {thread.body.salutation}, l'expression de notre haute "
            f"considération.\n\n{name}\n{title}\n{COALITION_NAME}\n"
        )
        headers = [
            f"Message-ID: <{msg.mid}>",
            f"Date: {_header_date(msg.when)}",
            f"From: {address(name, addr)}",
            f"To: {address(self._display(thread.body, thread.address), thread.address)}",
            f"Subject: {encode_header(subject)}",
        ]
        if "reminder_with_headers" in msg.cases:
            chain = [letter.msg.mid] + [m.mid for m in previous]
            headers.append(f"In-Reply-To: <{chain[-1]}>")
            headers.append("References: " + "\n ".join(f"<{m}>" for m in chain))
        headers += ["MIME-Version: 1.0",
                    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.3.0"]
        msg.raw = ("\n".join(headers) + "\n").encode() + text_part(text, "utf-8", "quoted-printable")

    @staticmethod
    def _display(body: Body, addr: str) -> str:
        if addr == body.to:
            return f"Cabinet - {body.short}" if "cabinet" in addr else body.short
        return ""

    def _reply_headers(self, msg: Msg, from_name: str, from_addr: str, to_addr: str,
                       subject: str, charset: str, body: Body, *, linked: list[str] | None,
                       link_style: str = "both", cc: str | None = None, utc: bool = False) -> list[str]:
        headers = [
            f"Date: {_header_date(msg.when, utc)}",
            f"From: {address(from_name, from_addr, charset)}",
            f"To: {to_addr}",
        ]
        if cc:
            headers.append(f"Cc: {cc}")
        headers += [f"Subject: {encode_header(subject, charset)}", f"Message-ID: <{msg.mid}>"]
        if linked and link_style == "missing_parent":
            # answered from an internal forward the coalition never saw: the parent is missing,
            # the References chain still reaches the letter
            internal = f"{self.rng.getrandbits(64):016x}.transfert@{from_addr.rpartition('@')[2]}"
            headers.append(f"In-Reply-To: <{internal}>")
            headers.append("References: " + "\n ".join(f"<{m}>" for m in [*linked, internal]))
        elif linked:
            if link_style in ("both", "in_reply_to"):
                headers.append(f"In-Reply-To: <{linked[-1]}>")
            if link_style in ("both", "references"):
                headers.append("References: " + "\n ".join(f"<{m}>" for m in linked))
        headers += ["MIME-Version: 1.0", _mailer_header(body)]
        return headers

    def render_reply(self, thread: Thread, msg: Msg, variant: str, linkage: str, chain: list[str],
                     second: bool = False) -> None:
        rng = self.rng
        body, letter = thread.body, thread.letter
        reminders = [m.subject for m in thread.reminders if m.when < msg.when]
        charset, cte = _mailer_charset(body, rng)
        sent_day = letter.msg.when.date()
        ministry_ref = f"{body.ref_prefix}/{msg.when.year}/{rng.randrange(100, 9999):04d}"
        headerless = linkage == "none"
        if headerless or rng.random() < 0.5:
            from_name, from_addr = rng.choice(body.staff) if body.staff else (body.short, body.to)
        else:
            from_name, from_addr = self._display(body, thread.address) or body.short, thread.address
        msg.sender = from_addr
        to_addr = address(letter.signer[0], letter.signer[1], charset)
        prefix = rng.choice(["RE : ", "RE: ", "Re: ", "TR : ", "TR: ", "Réf. : ", "Rép. : ", "Réf : ", "Fwd: "])
        subject = prefix + letter.subject
        opening = (f"Par courrier du {french_date(sent_day)}, vous avez appelé l'attention "
                   f"{_of(body.salutation)} sur {letter.topic}.")
        quote_objet = False
        if variant == "subject_prefix":
            # round-robin, so that every French client's prefix shows up
            prefix = HEADERLESS_PREFIXES[self.prefix_turn % len(HEADERLESS_PREFIXES)]
            self.prefix_turn += 1
            subject = prefix + letter.subject
            msg.cases.append("subject_prefix:" + prefix.strip())
            self.reminder_turn += bool(reminders)
            if reminders and self.reminder_turn % 2:
                # answered the reminder's e-mail: "RE : Relance : ..."
                subject = prefix + reminders[-1]
                msg.cases.append("subject_of_reminder")
        elif variant == "date_subject":
            subject = f"Votre courrier du {french_date(sent_day)} - N/Réf : {ministry_ref}"
            msg.cases.append("new_subject_cites_date")
        elif variant == "date_numeric":
            subject = f"Réponse à votre lettre du {sent_day.strftime('%d/%m/%Y')}"
            opening = (f"Vous avez bien voulu, par votre lettre du {sent_day.strftime('%d/%m/%Y')}, "
                       f"appeler mon attention sur {letter.topic}.")
            msg.cases.append("new_subject_cites_numeric_date")
        elif variant == "objet_body":
            subject = rng.choice(["Courrier du cabinet", "Réponse du ministère", "Votre correspondance",
                                  "Suite à votre courrier"])
            quote_objet = True
            opening = "J'ai bien reçu votre courrier cité en objet, et je vous en remercie."
            msg.cases.append("objet_quoted_in_body")
            self.objet_turn += 1
            if self.objet_turn % 3 and len(f"Objet : {letter.subject}") > 76:
                # sent as 8bit: the client hard-wraps the Objet line, as Outlook and Notes do
                charset, cte = ("windows-1252" if body.mailer in ("legacy", "outlook") else "iso-8859-1"), "8bit"
                msg.cases.append("objet_wrapped")
        elif variant == "reference":
            subject = f"Votre demande - V/Réf. : {letter.ref}"
            opening = f"Vous avez saisi mes services d'une demande relative à {letter.topic}."
            msg.cases.append("cites_letter_reference")
        elif variant == "accuse_human":
            opening = (f"J'accuse réception de votre courrier du {french_date(sent_day)} relatif à "
                       f"{letter.topic}, et je tiens à vous apporter les éléments de réponse suivants.")
            msg.cases.append("human_accuse_reception")
            quote_objet = False
        if second:
            opening = "Pour compléter ma précédente réponse, je souhaite porter à votre connaissance les éléments suivants."
            msg.cases.append("second_reply")
        lines = []
        if quote_objet or rng.random() < 0.3:
            lines.append(f"Objet : {letter.subject}")
        if variant in ("reference", "pdf") or rng.random() < 0.3:
            lines.append(f"V/Réf : {letter.ref}")
        lines.append(f"N/Réf : {ministry_ref}")
        signer_name, signer_title = body.signer
        head = "" if variant == "accuse_human" else "\n".join(lines) + "\n\nMadame,\n\n"
        text = (
            head + opening + "\n\n" + rng.choice(ANSWERS) + "\n\n"
            "Je vous prie d'agréer, Madame, l'expression de mes salutations distinguées.\n\n"
            f"{signer_name}\n{signer_title}\n{body.name}\n"
        )
        if charset == "windows-1252":
            text = text.replace("'", "\u2019")  # Word's typographic apostrophe: 0x92 in cp1252
        if not headerless and rng.random() < 0.5:
            text += (f"\n\n-----Message d'origine-----\nDe : {letter.signer[0]} <{letter.signer[1]}>\n"
                     f"Envoyé : {DAYS_FR[letter.msg.when.weekday()]} {french_date(sent_day)} "
                     f"{letter.msg.when.strftime('%H:%M')}\nObjet : {letter.subject}\n\n"
                     + "\n".join("> " + l for l in letter.text.splitlines()[:6]) + "\n")
        headers = self._reply_headers(
            msg, from_name, from_addr, to_addr, subject, charset, body,
            linked=None if headerless else chain, link_style=linkage,
            cc=address("Cabinet", body.to) if rng.random() < 0.1 and body.to != from_addr else None,
        )
        if variant == "html_only":
            part = text_part(html_of(text), "utf-8", "quoted-printable", "html")
            msg.cases.append("html_only")
            charset, cte = "utf-8", "quoted-printable"
        elif variant == "pdf":
            pdf_text = (f"{body.name}\n\n" + "\n".join(lines) + f"\n\nObjet : {letter.subject}\n\n"
                        + f"Madame,\n\n{opening}\n\n{rng.choice(ANSWERS)}\n\n{signer_name}\n{signer_title}")
            cover = ("Madame,\n\nVeuillez trouver ci-joint la réponse apportée à votre courrier.\n\n"
                     "Bien cordialement,\n\nLe secrétariat\n")
            part = multipart("mixed", self.boundary(), [
                text_part(cover, charset, cte),
                attachment_part(make_pdf(pdf_text, ministry_ref), f"Reponse_{ministry_ref.replace('/', '-')}.pdf"),
            ])
            msg.cases.append("pdf_reply")
        elif body.mailer == "outlook":
            part = multipart("alternative", self.boundary(), [
                text_part(text, charset, cte), text_part(html_of(text), charset, cte, "html")])
            msg.cases.append("multipart_alternative")
        else:
            part = text_part(text, charset, cte)
        msg.cases.append(f"charset:{charset}/{cte}")
        msg.cases.append("reply_headerless" if headerless else f"reply_linked:{linkage}")
        msg.raw = ("\n".join(headers) + "\n").encode() + part

    def render_vague_reply(self, group: list[Thread], msg: Msg) -> None:
        body = group[0].body
        letter = group[0].letter
        charset, cte = _mailer_charset(body, self.rng)
        from_name, from_addr = body.staff[0] if body.staff else (body.short, body.to)
        msg.sender = from_addr
        subject = self.rng.choice(["Votre courrier", f"Votre courrier du {french_date(letter.msg.when.date())}"])
        text = (f"Madame,\n\n{GENERIC_ANSWER}\n\nJe vous prie d'agréer, Madame, l'expression de mes "
                f"salutations distinguées.\n\n{body.signer[0]}\n{body.signer[1]}\n{body.name}\n")
        headers = self._reply_headers(msg, from_name, from_addr, address(letter.signer[0], letter.signer[1]),
                                      subject, charset, body, linked=None)
        msg.raw = ("\n".join(headers) + "\n").encode() + text_part(text, charset, cte)
        msg.cases += ["reply_headerless", "ambiguous", f"charset:{charset}/{cte}"]

    def render_ack(self, thread: Thread, msg: Msg, chain: list[str]) -> None:
        rng = self.rng
        body, letter = thread.body, thread.letter
        variant = ["accuse", "ar", "accuse_subject"][self.ack_turn % 3]
        self.ack_turn += 1
        subject = {"accuse": "Accusé de réception de votre courrier",
                   "ar": f"[AR] {letter.subject}",
                   "accuse_subject": f"Accusé de réception : {letter.subject}"}[variant]
        text = (f"Objet : {letter.subject}\n\nMadame, Monsieur,\n\nVotre envoi du "
                f"{french_date(letter.msg.when.date())} a bien été reçu par les services du "
                f"{body.name}.\n\nConformément aux articles L. 112-11 et R. 112-11-1 du code des "
                f"relations entre le public et l'administration, le présent accusé de réception "
                f"ne préjuge pas de la suite qui sera donnée à votre demande.\n\n"
                f"Ceci est un message automatique, merci de ne pas y répondre.\n")
        linked = chain if rng.random() < 0.6 else None
        headers = self._reply_headers(msg, f"{body.short} - Ne pas répondre", body.noreply or body.to,
                                      letter.signer[1], subject, "utf-8", body, linked=linked, utc=True)
        if rng.random() < 0.3:
            headers.append("Auto-Submitted: auto-generated")
            msg.cases.append("auto_submitted_acknowledgement")
        msg.sender = body.noreply or body.to
        msg.raw = ("\n".join(headers) + "\n").encode() + text_part(text, "utf-8", rng.choice(["quoted-printable", "base64"]))
        msg.cases += [f"acknowledgement:{variant}", "linked" if linked else "headerless"]

    def render_auto(self, body: Body, letter: Letter, addr: str, msg: Msg, chain: list[str]) -> None:
        rng = self.rng
        variant = ["rfc3834", "x_autoreply", "exchange_subject", "precedence"][self.auto_turn % 4]
        self.auto_turn += 1
        back = french_date((msg.when + timedelta(days=rng.randrange(3, 20))).date())
        text = (f"Bonjour,\n\nJe suis absent(e) du bureau jusqu'au {back} inclus, avec un accès "
                f"limité à ma messagerie. Pour toute demande urgente, merci de contacter le "
                f"secrétariat : {body.to}\n\nCordialement,\n")
        extra: list[str] = []
        linked: list[str] | None = chain
        if variant == "rfc3834":
            subject = f"Absence du bureau : {letter.subject}"
            extra = ["Auto-Submitted: auto-replied (vacation)"]
        elif variant == "x_autoreply":
            subject = "Absence du bureau"
            extra = ["X-Autoreply: yes", "Auto-Submitted: auto-replied"]
        elif variant == "exchange_subject":
            subject = f"Réponse automatique : {letter.subject}"
            extra = ["X-MS-Exchange-Inbox-Rules-Loop: " + addr, "X-Auto-Response-Suppress: All"]
            linked = chain if rng.random() < 0.5 else None
        else:
            subject = f"Automatic reply: {letter.subject}"
            extra = ["Precedence: auto_reply", "X-Autorespond: yes"]
        charset, cte = _mailer_charset(body, rng)
        headers = self._reply_headers(msg, "", addr, letter.signer[1], subject, charset, body,
                                      linked=linked, link_style="in_reply_to")
        msg.sender = addr
        msg.raw = ("\n".join(headers + extra) + "\n").encode() + text_part(text, charset, cte)
        msg.cases += [f"auto_reply:{variant}", "linked" if linked else "headerless"]

    def render_bounce(self, thread: Thread, msg: Msg) -> None:
        style = ["postfix", "exchange"][self.bounce_turn % 2]  # both, whatever the count
        self.bounce_turn += 1
        msg.raw = delivery_report(self.rng, msg.mid, msg.when, thread.letter.signer[1],
                                  thread.address, thread.letter.msg.raw, style)
        msg.sender = MAILER_DAEMON if style == "postfix" else EXCHANGE_POSTMASTER
        msg.cases += [f"dsn:{style}", "bounce_5.1.1"]

    def render_newsletter(self, msg: Msg, number: int, sender: tuple[str, str, str]) -> None:
        rng = self.rng
        name, addr, title = sender
        subject = f"{title} n°{number} - {MONTHS_FR[msg.when.month - 1]} {msg.when.year}"
        text = (f"{title}\n\nAu sommaire de ce numéro :\n- Actualités de la lutte contre la traite\n"
                f"- Publications et rapports\n- Agenda des formations\n\n"
                f"Pour vous désinscrire : https://{addr.split('@')[1]}/desinscription\n")
        headers = [
            f"Date: {_header_date(msg.when)}",
            f"From: {address(name, addr)}",
            f"To: {COALITION_ADDRESSES[0]}",
            f"Subject: {encode_header(subject, 'utf-8')}",
            f"Message-ID: <{msg.mid}>",
            f"List-Id: {title} <lettre.{addr.split('@')[1]}>",
            f"List-Unsubscribe: <https://{addr.split('@')[1]}/desinscription?u={rng.getrandbits(32):08x}>, <mailto:{addr}?subject=unsubscribe>",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            "Precedence: bulk",
            "MIME-Version: 1.0",
        ]
        body = multipart("alternative", self.boundary(), [
            text_part(text, "utf-8", "quoted-printable"),
            text_part(html_of(text), "utf-8", "base64", "html"),
        ])
        msg.raw = ("\n".join(headers) + "\n").encode() + body
        msg.cases.append("newsletter")

    # -- assembling ---------------------------------------------------------------

    def build(self) -> None:
        rng = self.rng
        self.plan_letters()
        self.plan_threads()
        for letter in self.letters:
            self.render_letter(letter)
            self.messages.append(letter.msg)
        # which dates each body received mail on (a reply citing a date must point at one thread)
        sent_days: dict[str, list[date]] = {}
        for thread in self.threads:
            days = sent_days.setdefault(thread.body.name, [])
            days.append(thread.letter.msg.when.date())
            days.extend(m.when.date() for m in thread.reminders)
        for thread in self.threads:
            letter, body = thread.letter, thread.body
            key = (letter.msg.mid, body.name)
            letter.msg.threads.append(key)
            chain = [letter.msg.mid]
            for number, reminder in enumerate(thread.reminders):
                self.render_reminder(thread, reminder, thread.reminders[:number])
                reminder.threads.append(key)
                self.messages.append(reminder)
                chain.append(reminder.mid)
            style = body.mailer if body.mailer != "legacy" else "other"
            domain = body.domains[0] if body.domains else body.to.split("@")[1]
            if thread.bounced:
                at = _later(letter.msg.when, rng.randrange(4, 900))
                bounce = Msg(self.ids.new(at, "other", "mx1.hebergeur-associatif.example.net"),
                             "INBOX", at, "bounce", "incoming", MAILER_DAEMON, None)
                self.render_bounce(thread, bounce)
                bounce.threads.append(key)
                thread.others.append(bounce)
                self.messages.append(bounce)
                continue
            if thread.acknowledged:
                at = _later(letter.msg.when, rng.randrange(60, 7200))
                ack = Msg(self.ids.new(at, "other", domain), "INBOX", at, "acknowledgement",
                          "incoming", "", body.name)
                self.render_ack(thread, ack, [letter.msg.mid])
                ack.threads.append(key)
                thread.others.append(ack)
                self.messages.append(ack)
            if rng.random() < body.auto:
                at = _later(letter.msg.when, rng.randrange(20, 600))
                auto = Msg(self.ids.new(at, style, domain), "INBOX", at, "auto_reply", "incoming", "", body.name)
                self.render_auto(body, letter, thread.address, auto, [letter.msg.mid])
                auto.threads.append(key)
                thread.others.append(auto)
                self.messages.append(auto)
            for at, second in ((thread.reply_at, False), (thread.second_reply_at, True)):
                if at is None:
                    continue
                reply = Msg(self.ids.new(at, style, domain), "INBOX", at, "reply", "incoming", "", body.name)
                prior = [m for m in [letter.msg, *thread.reminders] if m.when < at]
                link_chain = [m.mid for m in prior] + ([thread.replies[0].mid] if second and thread.replies else [])
                linkage = rng.choices(["both", "in_reply_to", "references", "missing_parent", "none"],
                                      [42, 7, 6, 5, 40])[0]
                variant = "plain"
                if linkage == "none":
                    # in turn, so that each way of citing the letter shows up several times
                    variant = HEADERLESS_VARIANTS[self.variant_turn % len(HEADERLESS_VARIANTS)]
                    self.variant_turn += 1
                    if variant.startswith("date") and sent_days[body.name].count(letter.msg.when.date()) > 1:
                        variant = "subject_prefix"  # the date would point at two letters
                else:
                    variant = rng.choice(["plain", "plain", "plain", "pdf", "html_only", "accuse_human"])
                if second:
                    linkage, variant = "both", "plain"
                self.render_reply(thread, reply, variant, linkage, link_chain, second)
                if thread.reply_at and thread.reply_at > self._due(thread):
                    reply.cases.append("after_deadline")
                if rng.random() < 0.04:
                    reply.file_stamp = int(letter.msg.when.timestamp()) - rng.randrange(86400, 86400 * 30)
                    reply.cases.append("file_before_letter")
                if len(self.messages) % 31 == 0:
                    reply.inbox_copies = 2
                    reply.cases.append("delivered_twice")
                reply.threads.append(key)
                thread.replies.append(reply)
                self.messages.append(reply)
        # bodies that were only copied: sometimes they answer too (and answer nobody's thread)
        for letter in self.letters:
            for body in letter.cc:
                if body.answer == 0:
                    continue
                domain = body.domains[0] if body.domains else body.to.split("@")[1]
                style = body.mailer if body.mailer != "legacy" else "other"
                if rng.random() < 0.25:
                    at = _work_time(rng, (letter.msg.when + timedelta(days=rng.randrange(3, 30))).date(), 8, 18)
                    if at >= self.end_at:
                        continue
                    reply = Msg(self.ids.new(at, style, domain), "INBOX", at, "reply", "incoming", "", body.name)
                    fake = Thread(letter, body, body.to)
                    self.render_reply(fake, reply, "plain", "both", [letter.msg.mid])
                    reply.cases.append("cc_body_reply")
                    self.messages.append(reply)
                elif rng.random() < 0.1:
                    at = _later(letter.msg.when, rng.randrange(20, 600))
                    auto = Msg(self.ids.new(at, style, domain), "INBOX", at, "auto_reply", "incoming", "", body.name)
                    self.render_auto(body, letter, body.to, auto, [letter.msg.mid])
                    auto.cases.append("cc_body_auto_reply")
                    self.messages.append(auto)
        for group in self.ambiguous_groups:
            first = group[0].letter.msg.when
            at = _work_time(rng, (first + timedelta(days=rng.randrange(20, 40))).date(), 8, 18)
            if at >= self.end_at:
                continue
            body = group[0].body
            domain = body.domains[0] if body.domains else body.to.split("@")[1]
            reply = Msg(self.ids.new(at, body.mailer if body.mailer != "legacy" else "other", domain),
                        "INBOX", at, "reply", "incoming", "", body.name)
            self.render_vague_reply(group, reply)
            self.unmatched[reply.mid] = [t.letter.msg.mid for t in group]
            self.messages.append(reply)
        # newsletters, some from a correspondent's own domain: they answer nothing
        senders = [("MIPROF - La lettre de l'Observatoire", "lettre-observatoire@social.gouv.fr",
                    "La Lettre de l'Observatoire national des violences faites aux femmes"),
                   ("Vie publique", "newsletter@vie-publique.example.fr", "La lettre de vie-publique")]
        day = self.start + timedelta(days=10)
        number = 1
        while day < self.end - timedelta(days=3):
            sender = senders[number % 2]
            at = _work_time(rng, day, 7, 11)
            news = Msg(self.ids.new(at, "other", sender[1].split("@")[1]), "INBOX", at, "other",
                       "incoming", sender[1], "Ministère des Solidarités et des Familles" if "social.gouv.fr" in sender[1] else None)
            self.render_newsletter(news, number, sender)
            self.messages.append(news)
            day += timedelta(days=rng.randrange(35, 50))
            number += 1
        self.messages.sort(key=lambda m: (m.when.astimezone(timezone.utc), m.mid))

    def _due(self, thread: Thread) -> datetime:
        deadline = thread.body.deadline or "2 months"
        day = due_date(thread.letter.msg.when.date(), deadline)
        return datetime.combine(day + timedelta(days=1), time(0, 0), PARIS)

    # -- output -------------------------------------------------------------------

    def write(self, out: Path) -> dict:
        mailbox = out / "mailbox"
        if mailbox.exists():
            shutil.rmtree(mailbox)
        for folder in (mailbox, mailbox / ".Sent"):
            for sub in ("cur", "new", "tmp"):
                (folder / sub).mkdir(parents=True, exist_ok=True)
        files: dict[str, list[str]] = {}
        for number, msg in enumerate(self.messages):
            places = [msg.folder] * msg.inbox_copies + (["INBOX"] if msg.also_inbox else [])
            for copy, folder in enumerate(places):
                stamp = msg.file_stamp or int(msg.when.timestamp()) + copy
                name = f"{stamp}.M{(number * 7919) % 1000000:06d}P{number}{'c%d' % copy if copy else ''}.{HOST}"
                rel = f"{'' if folder == 'INBOX' else '.Sent/'}cur/{name}"
                path = mailbox / rel
                path.write_bytes(msg.raw)
                os.utime(path, (msg.when.timestamp(), msg.when.timestamp()))
                files.setdefault(msg.mid, []).append(rel)
        (out / "tracker.toml").write_text(config_toml(), encoding="utf-8")
        truth = self.truth(files)
        (out / "truth.json").write_text(
            json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        return truth

    def truth(self, files: dict[str, list[str]]) -> dict:
        as_of = self.end
        threads = []
        for thread in self.threads:
            letter, body = thread.letter, thread.body
            replies = [m.mid for m in thread.replies]
            if thread.bounced:
                status = "bounced"
            elif replies:
                status = "answered"
            elif thread.acknowledged:
                status = "acknowledged"
            else:
                status = "awaiting_reply"
            due = due_date(letter.msg.when.date(), body.deadline or "2 months")
            members = [letter.msg, *thread.reminders, *thread.others, *thread.replies]
            members.sort(key=lambda m: m.when.astimezone(timezone.utc))
            cases = list(thread.cases)
            if letter.ambiguous:
                cases.append("ambiguous_pair")
            if body.answer == 0:
                cases.append("never_answers")
            if status in ("awaiting_reply", "acknowledged") and as_of <= due:
                cases.append("within_deadline")
            threads.append({
                "letter": letter.msg.mid,
                "correspondent": body.name,
                "address": thread.address,
                "subject": letter.subject,
                "reference": letter.ref,
                "status": status,
                "replies": replies,
                "messages": [m.mid for m in members],
                "reminders": [m.mid for m in thread.reminders],
                "opened_at": letter.msg.when.isoformat(),
                "due_at": due.isoformat(),
                "overdue": status in ("awaiting_reply", "acknowledged") and as_of > due,
                "answered_late": bool(thread.replies) and thread.replies[0].when.date() > due,
                "cases": cases,
            })
        messages = []
        for msg in self.messages:
            messages.append({
                "message_id": msg.mid,
                "files": files[msg.mid],
                "folders": ["Sent", "INBOX"] if msg.also_inbox else [msg.folder],
                "date": msg.when.isoformat(),
                "direction": msg.direction,
                "kind": msg.kind,
                "from": msg.sender,
                "correspondent": msg.correspondent,
                "threads": [list(key) for key in msg.threads],
                "cases": msg.cases,
            })
        statuses: dict[str, int] = {}
        for thread in threads:
            statuses[thread["status"]] = statuses.get(thread["status"], 0) + 1
        kinds: dict[str, int] = {}
        for msg in messages:
            kinds[msg["kind"]] = kinds.get(msg["kind"], 0) + 1
        return {
            "format": TRUTH_FORMAT,
            "seed": self.seed,
            "letters": self.n_letters,
            "as_of": as_of.isoformat(),
            "timezone": "Europe/Paris",
            "coalition": {"name": COALITION_NAME, "addresses": COALITION_ADDRESSES,
                          "domains": [COALITION_DOMAIN]},
            "correspondents": [
                {"name": b.name, "short_name": b.short, "addresses": b.addresses,
                 "domains": b.domains, "deadline": b.deadline or "2 months"} for b in BODIES
            ],
            "counts": {
                "messages": len(messages),
                "files": sum(len(f) for f in files.values()),
                "letters": len(self.letters),
                "threads": len(threads),
                "correspondents_written_to": len({t["correspondent"] for t in threads}),
                "statuses": dict(sorted(statuses.items())),
                "kinds": dict(sorted(kinds.items())),
                "unmatched": len(self.unmatched),
            },
            "messages": messages,
            "threads": threads,
            "unmatched": sorted(self.unmatched),
            "unmatched_candidates": dict(sorted(self.unmatched.items())),
        }


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"


def config_toml() -> str:
    """The demo's tracker.toml: the coalition and every body of the demo."""
    lines = [
        "# The demo's configuration, written by tracker/demo/generate.py.",
        'database = "tracker.db"',
        'language = "fr"',
        'timezone = "Europe/Paris"',
        "",
        "[coalition]",
        f"name = {json.dumps(COALITION_NAME, ensure_ascii=False)}",
        f"addresses = {_toml_list(COALITION_ADDRESSES)}",
        f"domains = {_toml_list([COALITION_DOMAIN])}",
        "",
        "[deadlines]",
        'default = "2 months"',
        'holidays = "FR"',
    ]
    for body in BODIES:
        lines += ["", "[[correspondents]]",
                  f"name = {json.dumps(body.name, ensure_ascii=False)}",
                  f"short_name = {json.dumps(body.short, ensure_ascii=False)}"]
        if body.addresses:
            lines.append(f"addresses = {_toml_list(body.addresses)}")
        if body.domains:
            lines.append(f"domains = {_toml_list(body.domains)}")
        if body.deadline:
            lines.append(f'deadline = "{body.deadline}"')
    lines += ["", "[digest]", f'to = ["bureau@{COALITION_DOMAIN}"]',
              f'from = "tracker@{COALITION_DOMAIN}"', 'base_url = "http://127.0.0.1:8001"']
    return "\n".join(lines) + "\n"


def generate(out: Path, *, seed: int = 1, letters: int = 180, start: date = date(2024, 9, 1),
             months: int = 24) -> dict:
    """Write ``out/mailbox`` (Maildir), ``out/truth.json`` and ``out/tracker.toml``; return the truth.

    The same arguments always give byte-identical files."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    generator = Generator(seed, letters, start, months)
    generator.build()
    return generator.write(out)


# ---------------------------------------------------------------------------- benchmarks

_BULK_STYLES = [("utf-8", "8bit"), ("utf-8", "quoted-printable"), ("utf-8", "base64"),
                ("iso-8859-1", "quoted-printable"), ("iso-8859-1", "8bit"),
                ("windows-1252", "quoted-printable"), ("windows-1252", "8bit")]


_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_Q_TABLE = [chr(b) if b in _Q_SAFE else "_" if b == 32 else f"={b:02X}" for b in range(256)]


def _fast_header(text: str, charset: str = "utf-8") -> str:
    """RFC 2047 Q-encoding in 40-byte words: email.header is quadratic and dominates bulk runs."""
    if text.isascii():
        return text
    data = text.encode(charset, "replace")
    out, position = [], 0
    while position < len(data):
        size = 40
        while True:
            end = min(len(data), position + size)
            while charset == "utf-8" and end < len(data) and (data[end] & 0xC0) == 0x80:
                end -= 1  # never split a UTF-8 sequence between two words
            word = "".join(_Q_TABLE[b] for b in data[position:end])
            if len(word) <= 60 or size <= 8:
                break
            size -= 8
        out.append(f"=?{charset}?q?{word}?=")
        position = end
    return "\n ".join(out)


class _PdfPool:
    """Base64-encoded PDFs, log-spaced from 50 KB to 2 MB, and a few of 3-6 MB; each made on
    first use from its own seed, so a small run does not pay for the large ones."""

    STEPS = 40

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.cache: dict[int, bytes] = {}

    def get(self, index: int) -> bytes:
        if index not in self.cache:
            size = (int(50_000 * 40 ** (index / (self.STEPS - 1))) if index < self.STEPS
                    else 3_000_000 + (index - self.STEPS) * 1_000_000)
            rng = random.Random(self.seed * 1000 + index)
            text = f"{COALITION_NAME}\n\nCourrier n° {index}\n\n" + "\n\n".join(ANSWERS)
            pdf = make_pdf(text, f"Courrier {index}", padding=rng.randbytes(max(0, size - 2500)))
            self.cache[index] = base64.encodebytes(pdf)
        return self.cache[index]


def generate_bulk(out: Path, messages: int, *, seed: int = 1) -> None:
    """Write ``messages`` realistic messages as a Maildir directly at ``out`` (INBOX ``cur/``,
    Sent ``.Sent/cur/``), for benchmarks; deterministic for a seed.

    Size mix: most messages 2-20 KB; about 4% carry a PDF of 50 KB-2 MB (median ~80 KB); one in
    4,000 a PDF of 3-6 MB. Letters, reminders, replies with and without In-Reply-To, automatic
    acknowledgements, out-of-office replies and newsletters, in UTF-8, ISO-8859-1 and
    windows-1252 (8bit, quoted-printable, base64). Addresses match ``tracker/demo/tracker.toml``.
    """
    rng = random.Random(seed)
    out = Path(out)
    for folder in (out, out / ".Sent"):
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
    pdfs = _PdfPool(seed)
    filler = PROBLEMS + ANSWERS + ASKS + [GENERIC_ANSWER]
    # about 2.3 messages per letter; a letter every few hours over as many years as needed
    letters_needed = max(1, messages // 2)
    years = max(2, messages // 8000)
    start = datetime(2026 - years, 1, 5, 9, 0, tzinfo=PARIS)
    step = years * 365 * 86400 / letters_needed
    written = 0
    sequence = 0
    counter = 0

    def size_target() -> int:
        return int(min(20_000, max(1_600, rng.lognormvariate(8.7, 0.6))))

    def text_of(opening: str, target: int) -> str:
        parts = [opening]
        length = len(opening)
        while length < target:
            paragraph = filler[rng.randrange(len(filler))]
            parts.append(paragraph)
            length += len(paragraph) + 2
        return "\n\n".join(parts) + "\n"

    def pdf_part() -> bytes | None:
        roll = rng.random()
        if roll < 1 / 4000:
            data = pdfs.get(pdfs.STEPS + rng.randrange(4))
        elif roll < 0.04:
            data = pdfs.get(min(pdfs.STEPS - 1, int(rng.random() ** 3 * pdfs.STEPS)))
        else:
            return None
        return (b"Content-Type: application/pdf; name=\"Courrier.pdf\"\n"
                b"Content-Disposition: attachment; filename=\"Courrier.pdf\"\n"
                b"Content-Transfer-Encoding: base64\n\n" + data)

    def put(folder: str, when: datetime, raw: bytes) -> None:
        nonlocal written, sequence
        if written >= messages:
            return
        stamp = int(when.timestamp())
        path = (out if folder == "INBOX" else out / ".Sent") / "cur" / f"{stamp}.M{sequence:06d}P{seed}.{HOST}-bulk"
        path.write_bytes(raw)
        os.utime(path, (stamp, stamp))
        written += 1
        sequence += 1

    def write(folder: str, when: datetime, head: list[str], text: str, html: bool = False) -> bytes:
        charset, cte = _BULK_STYLES[rng.randrange(len(_BULK_STYLES))]
        part = text_part(text, charset, cte)
        attachment = pdf_part()
        if html:
            part = multipart("alternative", f"alt{sequence:08d}", [part, text_part(html_of(text), "utf-8", "quoted-printable", "html")])
        if attachment is not None:
            part = multipart("mixed", f"mix{sequence:08d}", [part, attachment])
        raw = ("\n".join(head) + "\nMIME-Version: 1.0\n").encode() + part
        put(folder, when, raw)
        return raw

    while written < messages:
        counter += 1
        sent = _later(start, counter * step + rng.randrange(-3600, 3600))
        if sent.hour < 8 or sent.hour > 19:
            sent = sent.replace(hour=rng.randrange(9, 19))
        topic, short = TOPICS[rng.randrange(len(TOPICS))]
        subject = f"{short}{CONTEXTS[rng.randrange(len(CONTEXTS))]} (dossier {counter})"
        name, sender, title = COALITION_SENDERS[rng.randrange(2)]
        to = rng.sample(BODIES, rng.choice([1, 1, 1, 2]))
        letter_id = f"{sent.strftime('%Y%m%d%H%M%S')}.{counter:08x}@{COALITION_DOMAIN}"
        ref = f"CET-{sent.year}-{counter:05d}"
        stale = to[0].stale if to[0].stale and rng.random() < 0.02 else None
        letter = write("Sent", sent, [
            f"Message-ID: <{letter_id}>", f"Date: {_header_date(sent)}", f"From: {address(name, sender)}",
            "To: " + ", ".join(b.to for b in to) + (f", {stale}" if stale else ""),
            f"Subject: {_fast_header(subject)}",
        ], text_of(f"{to[0].salutation},\n\nNous souhaitons appeler votre attention sur {topic}. "
                   f"N/Réf : {ref}", size_target()))
        if stale:
            at = _later(sent, rng.randrange(5, 600))
            put("INBOX", at, delivery_report(rng, f"dsn.{counter}.{rng.getrandbits(32):08x}@{REPORTING_MTA}",
                                             at, sender, stale, letter, rng.choice(["postfix", "exchange"])))
        for body in to:
            domain = body.domains[0] if body.domains else body.to.split("@")[1]
            if rng.random() < 0.12:
                at = _later(sent, rng.randrange(60, 3600))
                write("INBOX", at, [
                    f"Message-ID: <ar.{counter}.{body.short[:3].encode('ascii', 'ignore').decode() or 'x'}{rng.getrandbits(24):06x}@{domain}>",
                    f"Date: {_header_date(at, utc=True)}", f"From: {body.noreply or body.to}",
                    f"To: {sender}", f"Subject: {_fast_header('Accusé de réception : ' + subject)}",
                    f"In-Reply-To: <{letter_id}>",
                ], f"Votre envoi (objet : {subject}) a bien été reçu. Ceci est un message automatique.\n")
            if rng.random() < 0.05:
                at = _later(sent, rng.randrange(20, 600))
                write("INBOX", at, [
                    f"Message-ID: <oof.{counter}.{rng.getrandbits(32):08x}@{domain}>",
                    f"Date: {_header_date(at)}", f"From: {body.to}", f"To: {sender}",
                    f"Subject: {_fast_header('Réponse automatique : ' + subject)}",
                    f"In-Reply-To: <{letter_id}>", "Auto-Submitted: auto-replied",
                ], "Je suis absent(e) du bureau et n'ai qu'un accès limité à ma messagerie.\n")
            chain = [letter_id]
            if rng.random() < 0.15:
                at = _later(sent, rng.randrange(35, 60) * 86400)
                reminder_id = f"{at.strftime('%Y%m%d%H%M%S')}.r{counter:07x}@{COALITION_DOMAIN}"
                write("Sent", at, [
                    f"Message-ID: <{reminder_id}>", f"Date: {_header_date(at)}",
                    f"From: {address(name, sender)}", f"To: {body.to}",
                    f"Subject: {_fast_header('Relance : ' + subject)}",
                    f"In-Reply-To: <{letter_id}>", f"References: <{letter_id}>",
                ], text_of(f"{body.salutation},\n\nNous revenons vers vous au sujet de notre courrier "
                           f"(N/Réf : {ref}).", size_target()))
                chain.append(reminder_id)
            if rng.random() < max(0.3, body.answer):
                at = _later(sent, rng.lognormvariate(0, 0.6) * body.median_days * 86400 + 86400)
                staff_name, staff_address = body.staff[rng.randrange(len(body.staff))] if body.staff else (body.short, body.to)
                head = [
                    f"Message-ID: <rep.{counter}.{rng.getrandbits(40):010x}@{domain}>",
                    f"Date: {_header_date(at)}", f"From: {address(staff_name, staff_address)}",
                    f"To: {address(name, sender)}",
                    f"Subject: {_fast_header(rng.choice(['RE : ', 'TR : ', 'Réf. : ', 'RE: ']) + subject)}",
                ]
                if rng.random() < 0.65:
                    head += [f"In-Reply-To: <{chain[-1]}>", "References: " + " ".join(f"<{m}>" for m in chain)]
                write("INBOX", at, head, text_of(f"Objet : {subject}\nV/Réf : {ref}\n\nMadame,",
                                                 size_target()), html=body.mailer == "outlook")
        if rng.random() < 0.04:
            at = _later(sent, 3600)
            write("INBOX", at, [
                f"Message-ID: <news.{counter}@lettre.vie-publique.example.fr>", f"Date: {_header_date(at)}",
                "From: La lettre de vie-publique <newsletter@vie-publique.example.fr>",
                f"To: {COALITION_ADDRESSES[0]}", f"Subject: {_fast_header('La lettre de vie-publique n°' + str(counter))}",
                "List-Unsubscribe: <https://vie-publique.example.fr/desinscription>", "Precedence: bulk",
            ], text_of("Au sommaire de ce numéro :", size_target()), html=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m tracker.demo.generate OUT [--letters N] [--seed S] [--bulk N]``."""
    parser = argparse.ArgumentParser(
        prog="python -m tracker.demo.generate",
        description="Write the demo correspondence (OUT/mailbox, OUT/truth.json, OUT/tracker.toml), "
        "or with --bulk a large benchmark Maildir directly at OUT.",
        epilog="Example: python -m tracker.demo.generate tracker/demo",
    )
    parser.add_argument("out", type=Path, help="folder to write into")
    parser.add_argument("--letters", type=int, default=180, help="letters to write (default 180)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--bulk", type=int, metavar="N", help="write N benchmark messages instead")
    args = parser.parse_args(argv)
    if args.bulk:
        generate_bulk(args.out, args.bulk, seed=args.seed)
        print(f"{args.bulk} messages written to {args.out}")
        return 0
    truth = generate(args.out, seed=args.seed, letters=args.letters)
    counts = truth["counts"]
    print(f"{counts['messages']} messages, {counts['letters']} letters, {counts['threads']} threads "
          f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
