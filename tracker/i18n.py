"""French and English labels for reports, the digest and Datasette pages.

One flat dictionary: a stable dotted key (``status.awaiting_reply``,
``column.due_at``) maps to its French and English text. Keys are a public
contract (the Datasette pages import them): add keys freely, never rename one.
French is the default; an unknown language falls back to French.

    >>> t("status.answered", "en")
    'answered'
    >>> plural("digest.subject.overdue", 3, "fr")
    '3 courriers en retard'
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"

LABELS: dict[str, dict[str, str]] = {
    # thread status (DESIGN.md, "Thread status")
    "status.awaiting_reply": {"fr": "en attente de réponse", "en": "awaiting reply"},
    "status.acknowledged": {"fr": "accusé de réception", "en": "acknowledged"},
    "status.answered": {"fr": "répondu", "en": "answered"},
    "status.bounced": {"fr": "non distribué", "en": "bounced"},
    "status.closed": {"fr": "clos", "en": "closed"},
    # message kind and direction
    "kind.letter": {"fr": "courrier", "en": "letter"},
    "kind.reply": {"fr": "réponse", "en": "reply"},
    "kind.auto_reply": {"fr": "réponse automatique", "en": "auto-reply"},
    "kind.acknowledgement": {"fr": "accusé de réception", "en": "acknowledgement"},
    "kind.bounce": {"fr": "avis de non-distribution", "en": "bounce"},
    "kind.other": {"fr": "autre", "en": "other"},
    "direction.outgoing": {"fr": "envoyé", "en": "outgoing"},
    "direction.incoming": {"fr": "reçu", "en": "incoming"},
    # columns of threads, the unanswered and responsiveness views and the reports
    "column.id": {"fr": "fil", "en": "thread"},
    "column.correspondent": {"fr": "destinataire", "en": "correspondent"},
    "column.correspondent_id": {"fr": "destinataire (id)", "en": "correspondent id"},
    "column.recipients": {"fr": "adresses", "en": "addresses"},
    "column.subject": {"fr": "objet", "en": "subject"},
    "column.status": {"fr": "statut", "en": "status"},
    "column.opened_at": {"fr": "premier envoi", "en": "first sent"},
    "column.last_letter_at": {"fr": "dernier envoi", "en": "last sent"},
    "column.last_reply_at": {"fr": "dernière réponse", "en": "last reply"},
    "column.due_at": {"fr": "échéance", "en": "due"},
    "column.overdue": {"fr": "en retard", "en": "overdue"},
    "column.days_waiting": {"fr": "jours d'attente", "en": "days waiting"},
    "column.days_overdue": {"fr": "jours de retard", "en": "days overdue"},
    "column.sent_at": {"fr": "envoyé le", "en": "sent"},
    "column.received_at": {"fr": "reçu le", "en": "received"},
    "column.letters": {"fr": "courriers", "en": "letters"},
    "column.replied": {"fr": "avec réponse", "en": "replied"},
    "column.reply_rate": {"fr": "taux de réponse", "en": "reply rate"},
    "column.reply_rate_low": {"fr": "taux (borne basse 95 %)", "en": "rate (95% low)"},
    "column.reply_rate_high": {"fr": "taux (borne haute 95 %)", "en": "rate (95% high)"},
    "column.reply_rate_interval": {"fr": "intervalle 95 %", "en": "95% interval"},
    "column.median_days": {"fr": "délai médian (jours)", "en": "median days"},
    "column.p90_days": {"fr": "délai 90e centile (jours)", "en": "90th percentile days"},
    "column.median_days_short": {"fr": "médiane (j)", "en": "median (d)"},
    "column.p90_days_short": {"fr": "90e centile (j)", "en": "90th pct (d)"},
    "column.overdue_now": {"fr": "en retard", "en": "overdue now"},
    "column.note": {"fr": "remarque", "en": "note"},
    # tables and views (Datasette titles)
    "table.threads": {"fr": "Fils de correspondance", "en": "Threads"},
    "table.messages": {"fr": "Messages", "en": "Messages"},
    "table.correspondents": {"fr": "Destinataires", "en": "Correspondents"},
    "table.digests": {"fr": "Récapitulatifs envoyés", "en": "Digests sent"},
    "table.quarantine": {"fr": "Quarantaine", "en": "Quarantine"},
    "view.unanswered": {"fr": "Courriers sans réponse", "en": "Unanswered letters"},
    "view.responsiveness": {"fr": "Réactivité des destinataires", "en": "Responsiveness"},
    # report texts
    "report.unanswered.title": {
        "fr": "Courriers en retard au {date}",
        "en": "Overdue letters as of {date}",
    },
    "report.unanswered.none": {
        "fr": "Aucun courrier en retard.",
        "en": "No overdue letters.",
    },
    "report.bounced.title": {"fr": "Courriers non distribués", "en": "Bounced letters"},
    "report.bounced.none": {"fr": "Aucun courrier non distribué.", "en": "No bounced letters."},
    "report.responsiveness.title": {
        "fr": "Réactivité des destinataires au {date}",
        "en": "Responsiveness as of {date}",
    },
    "report.responsiveness.none": {"fr": "Aucun courrier envoyé.", "en": "No letters sent."},
    "report.too_few": {"fr": "trop peu pour conclure", "en": "too few to say"},
    "report.generated": {"fr": "Établi le {date}", "en": "Generated on {date}"},
    "report.section": {"fr": "section", "en": "section"},
    # the weekly digest
    "digest.title": {"fr": "Récapitulatif de la semaine", "en": "Weekly digest"},
    "digest.intro": {
        "fr": "Suivi des courriers de {coalition}, semaine {week}.",
        "en": "Correspondence of {coalition}, week {week}.",
    },
    "digest.heading": {
        "fr": "{coalition} · suivi des courriers au {date} (semaine {week})",
        "en": "{coalition} · correspondence as of {date} (week {week})",
    },
    "digest.sent_on": {"fr": "envoyé le {date}", "en": "sent {date}"},
    "digest.due_on": {"fr": "échéance le {date}", "en": "due {date}"},
    "column.dates": {"fr": "dates", "en": "dates"},
    "digest.overdue.title": {"fr": "Courriers en retard", "en": "Overdue letters"},
    "digest.overdue.none": {"fr": "Aucun courrier en retard.", "en": "No overdue letters."},
    "digest.due_soon.title": {
        "fr": "Échéances des {days} prochains jours",
        "en": "Falling due in the next {days} days",
    },
    "digest.due_soon.none": {"fr": "Aucune échéance proche.", "en": "Nothing falls due soon."},
    "digest.replies.title": {"fr": "Réponses reçues cette semaine", "en": "Replies this week"},
    "digest.replies.none": {"fr": "Aucune réponse cette semaine.", "en": "No replies this week."},
    "digest.sent.title": {"fr": "Courriers envoyés cette semaine", "en": "Letters sent this week"},
    "digest.sent.none": {"fr": "Aucun courrier envoyé cette semaine.", "en": "No letters sent this week."},
    "digest.bounces.title": {"fr": "Courriers non distribués", "en": "Bounced letters"},
    "digest.bounces.none": {"fr": "Aucun courrier non distribué.", "en": "No bounced letters."},
    "digest.stale_sync": {
        "fr": "Attention : la dernière synchronisation réussie de {folders} date du {date}. "
        "Les informations ci-dessous peuvent être incomplètes ; vérifiez `tracker sync`.",
        "en": "Warning: the last successful sync of {folders} was on {date}. "
        "What follows may be incomplete; check `tracker sync`.",
    },
    "digest.never_synced": {
        "fr": "Attention : aucune synchronisation réussie enregistrée pour {folders} ; "
        "vérifiez `tracker sync`.",
        "en": "Warning: no successful sync recorded for {folders}; check `tracker sync`.",
    },
    "digest.open": {"fr": "voir", "en": "open"},
    "digest.footer": {
        "fr": "Message envoyé par tracker. Le contenu des courriers n'est jamais inclus.",
        "en": "Sent by tracker. Letter contents are never included.",
    },
    "digest.days_waiting": {"fr": "{days} j", "en": "{days} d"},
    "digest.subject.overdue.zero": {"fr": "aucun courrier en retard", "en": "no overdue letters"},
    "digest.subject.replies.zero": {
        "fr": "aucune réponse cette semaine",
        "en": "no replies this week",
    },
    "digest.subject.overdue.one": {"fr": "{count} courrier en retard", "en": "{count} overdue letter"},
    "digest.subject.overdue.other": {
        "fr": "{count} courriers en retard",
        "en": "{count} overdue letters",
    },
    "digest.subject.replies.one": {
        "fr": "{count} réponse cette semaine",
        "en": "{count} reply this week",
    },
    "digest.subject.replies.other": {
        "fr": "{count} réponses cette semaine",
        "en": "{count} replies this week",
    },
    "unit.days.one": {"fr": "{count} jour", "en": "{count} day"},
    "unit.days.other": {"fr": "{count} jours", "en": "{count} days"},
    "digest.waiting.zero": {"fr": "Aucun message n'attend qu'une personne le rattache à un fil.",
                            "en": "No message waits for a person to place it in a thread."},
    "digest.waiting.one": {"fr": "{count} message attend qu'une personne le rattache à un fil :",
                           "en": "{count} message waits for a person to place it in a thread:"},
    "digest.waiting.other": {"fr": "{count} messages attendent qu'une personne les rattache à un fil :",
                             "en": "{count} messages wait for a person to place them in a thread:"},
    "digest.waiting.link": {"fr": "les rattacher", "en": "place them"},
    "date.unreadable": {
        "fr": "« {text} » n'est pas une date : écrivez par exemple 20/11/2026, 20 novembre 2026 ou 2026-11-20",
        "en": '"{text}" is not a date: write for example 20 November 2026, 20/11/2026 or 2026-11-20',
    },
    # tracker's own pages (tracker/web/pages.py)
    # Datasette's chrome (templates/datasette/base.html, _crumbs.html, _footer.html, error.html)
    "chrome.home": {"fr": "accueil", "en": "home"},
    "chrome.database": {"fr": "tables", "en": "tables"},
    "chrome.menu": {"fr": "Menu", "en": "Menu"},
    "chrome.login": {"fr": "Se connecter", "en": "Log in"},
    "chrome.logout": {"fr": "Se déconnecter", "en": "Log out"},
    "chrome.debug_permissions": {"fr": "Permissions (débogage)", "en": "Debug permissions"},
    "chrome.username": {"fr": "Identifiant", "en": "Username"},
    "chrome.password": {"fr": "Mot de passe", "en": "Password"},
    "chrome.powered_by": {"fr": "Publié avec", "en": "Powered by"},
    "chrome.query_ms": {"fr": "requêtes : {ms} ms", "en": "queries took {ms} ms"},
    "chrome.back_home": {"fr": "Retour à l'accueil", "en": "Back to the home page"},
    "chrome.error.400": {"fr": "Demande incomplète", "en": "Incomplete request"},
    "chrome.error.403": {"fr": "Accès réservé", "en": "Access restricted"},
    "chrome.error.404": {"fr": "Page introuvable", "en": "Page not found"},
    "chrome.error.500": {"fr": "Une erreur s'est produite", "en": "Something went wrong"},
    "chrome.error.other": {"fr": "Cette page ne peut pas être affichée", "en": "This page cannot be shown"},
    "chrome.message.record_not_found": {"fr": "Cet élément n'existe pas (ou plus) : le lien est peut-être ancien.", "en": "This item does not exist (any more): the link may be old."},
    "chrome.message.table_not_found": {"fr": "Cette table n'existe pas.", "en": "This table does not exist."},
    "chrome.message.database_not_found": {"fr": "Cette base de données n'existe pas.", "en": "This database does not exist."},
    "chrome.message.not_found": {"fr": "Rien à cette adresse : vérifiez le lien.", "en": "Nothing at this address: check the link."},
    "chrome.message.forbidden": {"fr": "Votre compte ne permet pas de voir cette page.", "en": "Your account may not see this page."},
    "chrome.message.bad_password": {"fr": "Identifiant ou mot de passe incorrect.", "en": "Invalid username or password."},
    "chrome.message.no_accounts": {"fr": "Aucun compte n'est configuré ([auth] dans la configuration).", "en": "No account is configured ([auth] in the configuration)."},
    "chrome.message.too_slow": {"fr": "La requête a pris trop de temps ; précisez-la.", "en": "The query took too long; narrow it down."},
    "chrome.message.other": {"fr": "La demande n'a pas pu aboutir.", "en": "The request could not be completed."},
    "page.home.bounced.one": {"fr": "lettre non distribuée", "en": "letter bounced"},
    "page.home.bounced.other": {"fr": "lettres non distribuées", "en": "letters bounced"},
    "page.correspondent.overdue": {"fr": "En retard", "en": "Overdue"},
    "page.correspondent.waiting": {"fr": "En attente, pas encore en retard", "en": "Waiting, not yet overdue"},
    "page.bounce.title": {"fr": "Cette lettre n'est pas arrivée", "en": "This letter did not arrive"},
    "page.bounce.address": {"fr": "Adresse refusée : {address} (avis du {date})", "en": "Address refused: {address} (notice of {date})"},
    "page.bounce.server_said": {"fr": "le serveur a répondu", "en": "the server said"},
    "page.bounce.unknown": {"fr": "L'avis de non-distribution ne dit pas quelle adresse a échoué.", "en": "The bounce does not say which address failed."},
    "page.bounce.next": {"fr": "Que faire : vérifiez l'adresse sur le site du ministère ou auprès de son secrétariat, corrigez-la dans la configuration (correspondents) si besoin, puis renvoyez la lettre ; le nouvel envoi ouvrira un nouveau fil.",
                         "en": "What to do: check the address on the ministry's site or with its office, correct it in the configuration (correspondents) if needed, then send the letter again; the new letter opens a new thread."},
    "page.threads.title": {"fr": "Tous les fils", "en": "All threads"},
    "page.threads.lead": {"fr": "Un fil par lettre et par destinataire, les échéances les plus proches d'abord.",
                          "en": "One thread per letter and correspondent, the nearest due dates first."},
    "page.threads.count.one": {"fr": "{count} fil", "en": "{count} thread"},
    "page.threads.count.other": {"fr": "{count} fils", "en": "{count} threads"},
    "page.threads.range": {"fr": "{first} à {last} sur {total}", "en": "{first} to {last} of {total}"},
    "page.threads.none": {"fr": "Aucun fil ne correspond à ces critères.", "en": "No thread matches these filters."},
    "page.filter.title": {"fr": "Filtrer", "en": "Filter"},
    "page.filter.q": {"fr": "Objet ou destinataire contient", "en": "Subject or correspondent contains"},
    "page.filter.status": {"fr": "Statut", "en": "Status"},
    "page.filter.any_status": {"fr": "tous les statuts", "en": "every status"},
    "page.filter.correspondent": {"fr": "Destinataire", "en": "Correspondent"},
    "page.filter.any_correspondent": {"fr": "tous les destinataires", "en": "every correspondent"},
    "page.filter.overdue": {"fr": "En retard seulement", "en": "Overdue only"},
    "page.filter.since": {"fr": "Première lettre depuis le", "en": "First letter since"},
    "page.filter.until": {"fr": "jusqu'au", "en": "until"},
    "page.filter.day_hint": {"fr": "jj/mm/aaaa", "en": "dd/mm/yyyy"},
    "page.filter.apply": {"fr": "Filtrer", "en": "Filter"},
    "page.filter.clear": {"fr": "Tout afficher", "en": "Show all"},
    "page.paging": {"fr": "Pages", "en": "Pages"},
    "page.previous": {"fr": "Page précédente", "en": "Previous page"},
    "page.next": {"fr": "Page suivante", "en": "Next page"},
    "page.page_of": {"fr": "page {number} sur {pages}", "en": "page {number} of {pages}"},
    "page.no_subject": {"fr": "(sans objet)", "en": "(no subject)"},
    "page.no_due": {"fr": "aucune", "en": "none"},
    "page.unanswered.title": {"fr": "Lettres sans réponse après l'échéance", "en": "Letters unanswered past their due date"},
    "page.unanswered.lead": {"fr": "Les accusés de réception et réponses automatiques ne comptent pas comme réponses. Les plus anciennes échéances d'abord.",
                             "en": "Acknowledgements and auto-replies do not count as replies. The oldest due dates first."},
    "page.unanswered.none": {"fr": "Aucune lettre n'attend de réponse après son échéance.", "en": "No letter is waiting past its due date."},
    "page.unanswered.group": {"fr": "Regrouper par destinataire", "en": "Group by correspondent"},
    "page.unanswered.ungroup": {"fr": "Une seule liste", "en": "One list"},
    "page.unanswered.bounced": {"fr": "Lettres non distribuées", "en": "Letters that bounced"},
    "page.unanswered.bounced_lead": {"fr": "Ces lettres ne sont pas arrivées : vérifiez l'adresse et renvoyez-les.",
                                     "en": "These letters never arrived: check the address and send them again."},
    "page.days.one": {"fr": "{count} jour", "en": "{count} day"},
    "page.days.other": {"fr": "{count} jours", "en": "{count} days"},
    "page.late_by": {"fr": "en retard de {days}", "en": "{days} late"},
    "page.responsiveness.title": {"fr": "Réactivité des destinataires", "en": "Responsiveness of correspondents"},
    "page.responsiveness.lead": {"fr": "Pour chaque ministère ou organisme : la part des lettres qui ont reçu une réponse et le temps qu'il a fallu (jusqu'à la première réponse).",
                                 "en": "For each ministry or body: the share of letters that got a reply and how long it took (to the first reply)."},
    "page.responsiveness.rate": {"fr": "{rate} des lettres ont reçu une réponse ({replied} sur {letters})",
                                 "en": "{rate} of letters got a reply ({replied} of {letters})"},
    "page.responsiveness.interval": {"fr": "vraisemblablement entre {low} et {high}", "en": "probably between {low} and {high}"},
    "page.responsiveness.median": {"fr": "réponse en {days} (médiane)", "en": "answered in {days} (median)"},
    "page.responsiveness.p90": {"fr": "9 sur 10 en moins de {days}", "en": "9 in 10 within {days}"},
    "page.responsiveness.no_reply": {"fr": "aucune réponse encore", "en": "no reply yet"},
    "page.responsiveness.too_few": {"fr": "trop peu de lettres pour conclure", "en": "too few letters to say"},
    "page.responsiveness.overdue.zero": {"fr": "aucune lettre en retard", "en": "no letter overdue"},
    "page.responsiveness.overdue.one": {"fr": "{count} lettre en retard", "en": "{count} letter overdue"},
    "page.responsiveness.overdue.other": {"fr": "{count} lettres en retard", "en": "{count} letters overdue"},
    "page.responsiveness.none": {"fr": "Aucune lettre envoyée pour l'instant.", "en": "No letter sent yet."},
    "page.search.title": {"fr": "Rechercher dans la correspondance", "en": "Search the correspondence"},
    "page.search.lead": {"fr": "Dans les objets, les textes des messages et des pièces jointes. Les accents ne comptent pas ; une expression entre guillemets est cherchée telle quelle.",
                         "en": "In subjects, message texts and attachments. Accents do not matter; a phrase in double quotes is found as it is."},
    "page.search.words": {"fr": "Mots cherchés", "en": "Words to find"},
    "page.search.submit": {"fr": "Rechercher", "en": "Search"},
    "page.search.none": {"fr": "Aucun fil ne contient tous ces mots.", "en": "No thread holds all these words."},
    "page.search.count.one": {"fr": "{count} fil trouvé", "en": "{count} thread found"},
    "page.search.count.other": {"fr": "{count} fils trouvés", "en": "{count} threads found"},
    "page.search.hits.one": {"fr": "{count} passage", "en": "{count} passage"},
    "page.search.hits.other": {"fr": "{count} passages", "en": "{count} passages"},
    "page.search.in_file": {"fr": "dans {file}", "en": "in {file}"},
    "page.search.in_message": {"fr": "dans un message", "en": "in a message"},
    "yes": {"fr": "oui", "en": "yes"},
    "no": {"fr": "non", "en": "no"},
}

MONTHS = {
    "fr": [
        "janvier", "février", "mars", "avril", "mai", "juin",
        "juillet", "août", "septembre", "octobre", "novembre", "décembre",
    ],
    "en": [
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ],
}


def language_of(language: str | None) -> str:
    """``language`` if tracker speaks it, else French (the default)."""
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def t(key: str, language: str | None = DEFAULT_LANGUAGE, **params: object) -> str:
    """The label ``key`` in ``language`` ("fr" or "en"), with ``{params}`` filled in.

    An unknown key raises ``KeyError`` naming it (a typo should fail a test, not show
    a blank)."""
    try:
        entry = LABELS[key]
    except KeyError:
        raise KeyError(f"no label {key!r} in tracker.i18n.LABELS") from None
    text = entry[language_of(language)]
    return text.format(**params) if params else text


def plural(key: str, count: int, language: str | None = DEFAULT_LANGUAGE) -> str:
    """``key.one`` or ``key.other`` with ``{count}`` filled in (``key.zero`` for 0 when it
    exists). French takes the singular for 0 and 1 ("0 courrier"), English only for 1."""
    language = language_of(language)
    if count == 0 and f"{key}.zero" in LABELS:
        return t(f"{key}.zero", language, count=count)
    one = count == 1 or (language == "fr" and count == 0)
    return t(f"{key}.{'one' if one else 'other'}", language, count=count)


def labels(prefix: str, language: str | None = DEFAULT_LANGUAGE) -> dict[str, str]:
    """Every label under ``prefix`` ("status", "column"...), keyed by what follows it:
    ``labels("status", "en")["answered"] == "answered"``."""
    start = prefix.rstrip(".") + "."
    return {key[len(start):]: t(key, language) for key in LABELS if key.startswith(start)}


def format_date(moment: date | datetime | None, language: str | None = DEFAULT_LANGUAGE,
                tz: ZoneInfo | None = None) -> str:
    """A day as people write it: "3 décembre 2026" / "3 December 2026". Aware datetimes
    are converted to ``tz`` first (the user's time zone); ``None`` gives ""."""
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        if tz is not None and moment.tzinfo is not None:
            moment = moment.astimezone(tz)
        moment = moment.date()
    language = language_of(language)
    day = "1er" if language == "fr" and moment.day == 1 else str(moment.day)
    return f"{day} {MONTHS[language][moment.month - 1]} {moment.year}"


_FOLD = str.maketrans("éèêëàâäûüùôöîïç", "eeeeaaauuuooiic")
_MONTH_NUMBERS = {
    name.lower().translate(_FOLD)[:length]: number
    for names in MONTHS.values()
    for number, name in enumerate(names, 1)
    for length in (3, 4, len(name))
}
_MONTH_NUMBERS.update({"fevr": 2, "juil": 7, "sept": 9, "févr": 2, "1er": 1})


def parse_day(text: str, language: str | None = DEFAULT_LANGUAGE) -> date:
    """A day as a person writes it: "2026-11-20", "20/11/2026" (day first; "11/20/2026" in
    English when the first number cannot be a month), "20 novembre 2026", "1er mars 2026",
    "20 November 2026", "November 20, 2026". Raises ``ValueError`` with what to write,
    in ``language``."""
    cleaned = " ".join((text or "").strip().lower().replace(",", " ").split())
    try:
        return _parse_day(cleaned, language_of(language))
    except (ValueError, KeyError):
        raise ValueError(t("date.unreadable", language, text=(text or "").strip())) from None


def _parse_day(cleaned: str, language: str) -> date:
    if len(cleaned) == 10 and cleaned[4] == "-":
        return date.fromisoformat(cleaned)
    for separator in "/.-":
        parts = cleaned.split(separator)
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            first, second, year = (int(p) for p in parts)
            if len(parts[2]) != 4:
                raise ValueError(cleaned)
            if language == "en" and second > 12:  # 11/20/2026, written the American way
                first, second = second, first
            return date(year, second, first)
    words = cleaned.split()
    if len(words) == 3:
        if words[0].isdigit() or words[0] == "1er":
            day, month, year = words
        else:  # November 20 2026
            month, day, year = words
        day = "1" if day == "1er" else day.removesuffix("st").removesuffix("nd").removesuffix("rd").removesuffix("th")
        if len(year) != 4:
            raise ValueError(cleaned)
        return date(int(year), _MONTH_NUMBERS[month.rstrip(".").translate(_FOLD)], int(day))
    raise ValueError(cleaned)
