"""Publishing with Datasette 0.65: metadata, canned queries, templates, the plugin, ``serve``.

Everything here is Datasette used as documented: a metadata dict (labels,
descriptions, hidden tables, permissions, canned queries, default sorts and
facets), template overrides by name in ``templates/datasette/`` and one plugin
module, :mod:`tracker.datasette_plugin` (CSP header, SQLite authorizer, template
helpers, the home page chart).

Decisions:

- The database is opened *mutable* (Datasette's read connections use
  ``?mode=ro``), not immutable: ``tracker sync`` writes to it while Datasette
  serves it, and ``immutable=1`` promises SQLite the file never changes, which
  would give stale pages or "database disk image is malformed" errors under a
  concurrent writer in WAL mode. ``mode=ro`` reads consistent WAL snapshots.
- ``raw_messages`` is never served: its table is denied to every actor
  (``"allow": false``) and a SQLite authorizer on every Datasette connection
  refuses to read it, so neither the table pages nor any SQL (arbitrary, canned,
  through a view) can reach the original bytes. Downloading the database file
  is off.
- When ``[auth] password_hashes`` is configured, an instance-level ``"allow"``
  block lets only those accounts see anything; anonymous visitors are sent to
  the login page.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Any

from . import i18n, paths
from .config import Config

DATABASE_NAME = "tracker"
TEMPLATES = paths.templates() / "datasette"
STATIC_MOUNT = "tracker-static"
# the original bytes; and the bookkeeping of sources, digests and the store, which says where
# mail was found and to whom digests went, and which no page needs
NEVER_SERVED = ("raw_messages", "sync_state", "message_locations", "digests", "store_state")
HIDDEN = (
    "raw_messages",
    "sync_state",
    "message_locations",
    "message_links",
    "message_keys",
    "threading_state",
    "store_state",
    "digests",
    "_sqlite_migrations",
    "messages_fts",
    "attachments_fts",
)
AUTH_HASH_ENV = "TRACKER_DATASETTE_HASH_{}"


class PublishError(Exception):
    """A problem starting the web interface; the message says what to do."""


# --- labels ---------------------------------------------------------------------------------
# Datasette-only words live here (the reports' words are in their own module): each table has a
# (title, description) per language, each column a label per language.

TABLES: dict[str, dict[str, tuple[str, str]]] = {
    "threads": {
        "fr": ("Fils de correspondance", "Une lettre à un destinataire, ses relances et tout ce qu'il a répondu. "
               "Un fil par destinataire attendu (champ À)."),
        "en": ("Threads", "A letter to one correspondent, its reminders and everything that "
               "correspondent sent back. One thread per expected recipient (To)."),
    },
    "messages": {
        "fr": ("Messages", "Chaque message envoyé ou reçu, une seule fois même s'il est dans plusieurs dossiers."),
        "en": ("Messages", "Every message sent or received, once even when it sits in several folders."),
    },
    "recipients": {
        "fr": ("Destinataires", "Qui a reçu chaque message (À, Cc, Cci)."),
        "en": ("Recipients", "Who received each message (To, Cc, Bcc)."),
    },
    "attachments": {
        "fr": ("Pièces jointes", "Les pièces jointes, avec le texte des lettres PDF pour la recherche."),
        "en": ("Attachments", "Attachments, with the text of PDF letters for search."),
    },
    "correspondents": {
        "fr": ("Destinataires institutionnels", "Ministères, cabinets et autres organismes publics suivis, "
               "avec leur délai de réponse."),
        "en": ("Correspondents", "The ministries, cabinets and public bodies we write to, with their "
               "response deadline."),
    },
    "thread_messages": {
        "fr": ("Messages des fils", "Quel message appartient à quel fil, et comment il y a été rattaché."),
        "en": ("Thread messages", "Which message belongs to which thread, and how it was matched."),
    },
    "unmatched": {
        "fr": ("Messages à rattacher", "Réponses reçues qu'aucun fil n'a pu accueillir avec certitude : "
               "une personne doit les rattacher (tracker mark)."),
        "en": ("Unmatched messages", "Incoming messages no thread could take with certainty: a person "
               "should attach them (tracker mark)."),
    },
    "marks": {
        "fr": ("Annotations manuelles", "Faits saisis à la main : réponse par courrier, fil clos ou rouvert."),
        "en": ("Manual marks", "Facts entered by hand: answered by post, closed, reopened."),
    },
    "quarantine": {
        "fr": ("Quarantaine", "Messages illisibles, gardés tels quels avec la raison."),
        "en": ("Quarantine", "Messages that could not be read, kept as they were with the reason."),
    },
    "unanswered": {
        "fr": ("Sans réponse", "Fils dont la lettre attend toujours une réponse après l'échéance."),
        "en": ("Unanswered", "Threads whose letter still awaits a reply after its due date."),
    },
    "responsiveness": {
        "fr": ("Réactivité", "Par destinataire : lettres, réponses, délais médians et retards."),
        "en": ("Responsiveness", "Per correspondent: letters, replies, median delays and overdue threads."),
    },
}

# column -> (French, English); shared by every table that has the column
COLUMNS: dict[str, tuple[str, str]] = {
    "id": ("Identifiant", "Id"),
    "message_id": ("Message-ID", "Message-ID"),
    "thread_id": ("Fil", "Thread"),
    "sha256": ("Empreinte SHA-256", "SHA-256"),
    "conversation_id": ("Conversation", "Conversation"),
    "date": ("Date (UTC)", "Date (UTC)"),
    "date_original": ("Date (heure de l'expéditeur)", "Date (sender's time)"),
    "date_source": ("Origine de la date", "Date source"),
    "from_address": ("Adresse de l'expéditeur", "From address"),
    "from_name": ("Expéditeur", "From"),
    "subject": ("Objet", "Subject"),
    "subject_normalized": ("Objet normalisé", "Normalized subject"),
    "direction": ("Sens (envoyé / reçu)", "Direction (outgoing / incoming)"),
    "kind": ("Nature (lettre, réponse, accusé, absence, rejet)", "Kind (letter, reply, acknowledgement, auto-reply, bounce)"),
    "in_reply_to": ("En réponse à", "In reply to"),
    "refs": ("Références", "References"),
    "body_text": ("Texte", "Text"),
    "body_html": ("HTML d'origine", "Original HTML"),
    "attachment_count": ("Pièces jointes", "Attachments"),
    "size": ("Taille (octets)", "Size (bytes)"),
    "folders": ("Dossiers", "Folders"),
    "headers": ("En-têtes utiles", "Useful headers"),
    "delivery_reports": ("Rapports de non-remise", "Delivery reports"),
    "original_message_id": ("Message d'origine (rejet)", "Original message (bounce)"),
    "is_delivery_report": ("Est un rapport de remise", "Is a delivery report"),
    "message_id_synthetic": ("Message-ID calculé", "Synthetic Message-ID"),
    "defects": ("Défauts relevés", "Defects found"),
    "imported_at": ("Importé le", "Imported at"),
    "role": ("Rôle (À, Cc, Cci)", "Role (to, cc, bcc)"),
    "address": ("Adresse", "Address"),
    "name": ("Nom", "Name"),
    "position": ("Rang", "Position"),
    "filename": ("Nom du fichier", "File name"),
    "content_type": ("Type", "Type"),
    "text": ("Texte extrait", "Extracted text"),
    "source": ("Source", "Source"),
    "folder": ("Dossier", "Folder"),
    "key": ("Clé", "Key"),
    "reason": ("Raison", "Reason"),
    "quarantined_at": ("Mis en quarantaine le", "Quarantined at"),
    "short_name": ("Nom court", "Short name"),
    "addresses": ("Adresses", "Addresses"),
    "domains": ("Domaines", "Domains"),
    "deadline": ("Délai de réponse", "Response deadline"),
    "correspondent_id": ("Destinataire (id)", "Correspondent (id)"),
    "correspondent": ("Destinataire", "Correspondent"),
    "letter_message_id": ("Lettre", "Letter"),
    "status": ("Statut", "Status"),
    "opened_at": ("Première lettre", "First letter"),
    "last_letter_at": ("Dernière lettre", "Last letter"),
    "last_reply_at": ("Dernière réponse", "Last reply"),
    "due_at": ("Échéance", "Due date"),
    "overdue": ("En retard", "Overdue"),
    "matched_by": ("Rattaché par", "Matched by"),
    "candidates": ("Fils possibles", "Candidate threads"),
    "action": ("Action", "Action"),
    "on_date": ("À la date du", "On date"),
    "note": ("Note", "Note"),
    "created_at": ("Saisi le", "Entered at"),
    "days_waiting": ("Jours d'attente", "Days waiting"),
    "letters": ("Lettres", "Letters"),
    "answered": ("Avec réponse", "Answered"),
    "replied": ("Avec réponse", "Replied"),
    "reply_rate": ("Taux de réponse", "Reply rate"),
    "reply_rate_low": ("Taux de réponse, borne basse (95 %)", "Reply rate, low bound (95%)"),
    "reply_rate_high": ("Taux de réponse, borne haute (95 %)", "Reply rate, high bound (95%)"),
    "too_few": ("Trop peu de lettres pour conclure", "Too few letters to tell"),
    "waiting_since": ("En attente depuis", "Waiting since"),
    "median_days": ("Délai médian (jours)", "Median days"),
    "p90_days": ("Délai 90e centile (jours)", "90th percentile days"),
    "overdue_now": ("En retard aujourd'hui", "Overdue now"),
    "as_of": ("À la date du (AAAA-MM-JJ)", "As of (YYYY-MM-DD)"),
    "q": ("Mots cherchés", "Words to find"),
    "found_in": ("Trouvé dans", "Found in"),
    "excerpt": ("Extrait", "Excerpt"),
}

# values users see in badges and facets
VALUES: dict[str, tuple[str, str]] = {
    "letter": ("lettre", "letter"),
    "reply": ("réponse", "reply"),
    "auto_reply": ("réponse automatique", "auto-reply"),
    "acknowledgement": ("accusé de réception", "acknowledgement"),
    "bounce": ("non remis", "bounce"),
    "other": ("autre", "other"),
    "outgoing": ("envoyé", "outgoing"),
    "incoming": ("reçu", "incoming"),
    "awaiting_reply": ("en attente de réponse", "awaiting reply"),
    "acknowledged": ("accusé reçu, sans réponse", "acknowledged, unanswered"),
    "answered": ("répondu", "answered"),
    "bounced": ("non remis", "bounced"),
    "closed": ("clos", "closed"),
    "to": ("À", "To"),
    "cc": ("Cc", "Cc"),
    "bcc": ("Cci", "Bcc"),
}

# words of the tracker pages (templates call label(key))
WORDS: dict[str, tuple[str, str]] = {
    "home_title": ("Suivi des correspondances", "Correspondence tracker"),
    "overdue_by_correspondent": ("Lettres en retard de réponse, par destinataire",
                                 "Letters overdue for a reply, per correspondent"),
    "days_to_reply_chart": ("Délai de réponse par destinataire (jours)", "Days to reply per correspondent"),
    "chart_legend": ("Barre : délai médian ; trait : 90e centile ; ligne pointillée : délai de réponse "
                     "par défaut", "Bar: median days; whisker: 90th percentile; dashed line: the default "
                     "response deadline"),
    "no_reply_yet": ("aucune réponse encore", "no reply yet"),
    "all_threads": ("Tous les fils", "All threads"),
    "queries": ("Questions prêtes à l'emploi", "Ready-made questions"),
    "tables": ("Toutes les tables", "All tables"),
    "search": ("Rechercher", "Search"),
    "search_placeholder": ("mots dans les objets, les messages et les PDF", "words in subjects, messages and PDFs"),
    "from": ("De", "From"),
    "to": ("À", "To"),
    "cc": ("Cc", "Cc"),
    "date": ("Date", "Date"),
    "status": ("Statut", "Status"),
    "due_at": ("Échéance", "Due date"),
    "overdue": ("en retard", "overdue"),
    "opened_at": ("Première lettre", "First letter"),
    "attachments": ("Pièces jointes", "Attachments"),
    "conversation": ("Conversation", "Conversation"),
    "messages_count": ("messages", "messages"),
    "no_text": ("(message sans texte)", "(no text)"),
    "show_html": ("Voir la mise en forme d'origine (nettoyée)", "Show the original formatting (sanitized)"),
    "threads_of": ("Fils avec ce destinataire", "Threads with this correspondent"),
    "responsiveness": ("Réactivité", "Responsiveness"),
    "letters": ("Lettres", "Letters"),
    "answered": ("Avec réponse", "Answered"),
    "replied": ("Avec réponse", "Replied"),
    "reply_rate": ("Taux de réponse", "Reply rate"),
    "reply_rate_low": ("Taux de réponse, borne basse (95 %)", "Reply rate, low bound (95%)"),
    "reply_rate_high": ("Taux de réponse, borne haute (95 %)", "Reply rate, high bound (95%)"),
    "too_few": ("Trop peu de lettres pour conclure", "Too few letters to tell"),
    "waiting_since": ("En attente depuis", "Waiting since"),
    "median_days": ("Délai médian", "Median delay"),
    "p90_days": ("90e centile", "90th percentile"),
    "overdue_now": ("En retard", "Overdue"),
    "days": ("jours", "days"),
    "correspondent": ("Destinataire", "Correspondent"),
    "subject": ("Objet", "Subject"),
    "found_in": ("Trouvé dans", "Found in"),
    "results": ("résultats", "results"),
    "no_results": ("Aucun résultat.", "No results."),
    "thread": ("Fil", "Thread"),
    "feed": ("Flux Atom des nouvelles réponses", "Atom feed of new replies"),
    "unmatched_waiting": ("messages attendent d'être rattachés à un fil", "messages wait to be attached to a thread"),
    "total": ("Total", "Total"),
    "quoted": ("Texte cité", "Quoted text"),
    "unanswered": ("Sans réponse", "Unanswered"),
    "oldest_overdue": ("Les plus anciennes lettres en retard", "The oldest overdue letters"),
    "marks": ("Annotations manuelles", "Manual marks"),
    "in_message": ("message", "message"),
    "in_attachment": ("pièce jointe", "attachment"),
}


def _pick(pair: tuple[str, str], language: str) -> str:
    return pair[0] if language == "fr" else pair[1]


def column_label(column: str, language: str) -> str:
    """A column's label: the reports' and digest's word (tracker.i18n) when there is one, so a
    column reads the same everywhere; else the Datasette-only label above; else its name."""
    key = f"column.{column}"
    # "id" is a thread in the reports, but every table has its own id
    if column != "id" and key in i18n.LABELS:
        text = i18n.t(key, language)
        return text[:1].upper() + text[1:]
    return _pick(COLUMNS[column], language) if column in COLUMNS else column


def value_label(value: object, language: str) -> str:
    """A status, kind, direction or role as users read it (tracker.i18n first)."""
    for prefix in ("status", "kind", "direction"):
        if f"{prefix}.{value}" in i18n.LABELS:
            return i18n.t(f"{prefix}.{value}", language)
    pair = VALUES.get(str(value))
    return _pick(pair, language) if pair else ("" if value is None else str(value))


# --- canned queries -------------------------------------------------------------------------

_AS_OF = "coalesce(nullif(:as_of, ''), date('now'))"

# Overdue now, from the due date rather than the stored flag: rethreading after a sync only
# revisits the threads that received mail, so the flag of a quiet thread can be stale.
OVERDUE_NOW = (
    "(t.status in ('awaiting_reply', 'acknowledged') and julianday(t.due_at) < julianday('now'))"
)


# Newest first: FTS5 walks its index in rowid order and stops at the LIMIT, so snippets are made
# for the rows shown only; ranking every match by relevance costs ~0.5 s for a common word in
# 100,000 messages (bench/datasette.py).
SEARCH_SQL = """
select * from (
  select 'message' as found_in, m.message_id, m.date, m.subject, m.from_name, m.from_address,
    f.excerpt,
    (select tm.thread_id from thread_messages tm where tm.message_id = m.message_id limit 1) as thread_id
  from (
    select rowid, snippet(messages_fts, -1, char(2), char(3), '…', 16) as excerpt
    from messages_fts where messages_fts match tracker_fts(:q) order by rowid desc limit 50
  ) f join messages m on m.rowid = f.rowid
  union all
  select 'attachment', a.message_id, m.date, coalesce(a.filename, m.subject), m.from_name,
    m.from_address, f.excerpt,
    (select tm.thread_id from thread_messages tm where tm.message_id = a.message_id limit 1)
  from (
    select rowid, snippet(attachments_fts, -1, char(2), char(3), '…', 16) as excerpt
    from attachments_fts where attachments_fts match tracker_fts(:q) order by rowid desc limit 25
  ) f join attachments a on a.rowid = f.rowid join messages m on m.message_id = a.message_id
)
order by date desc
"""

def canned_queries(language: str) -> dict[str, dict[str, Any]]:
    """The ready-made questions, titled and described for a coordinator (their SQL folded away:
    "show" on the page reveals it)."""
    queries = _canned_queries(language)
    for query in queries.values():
        query["hide_sql"] = True
    return queries


def _canned_queries(language: str) -> dict[str, dict[str, Any]]:
    fr = language == "fr"
    return {
        "unanswered": {
            "title": "Lettres sans réponse à une date" if fr else "Letters unanswered on a date",
            "description": (
                "Les fils dont l'échéance était passée à la date choisie sans qu'une réponse soit "
                "arrivée (les accusés de réception et réponses automatiques ne comptent pas), "
                "les 200 plus anciennes échéances d'abord. Laissez la date vide pour aujourd'hui ; "
                "format AAAA-MM-JJ. La liste complète : tracker report unanswered."
                if fr else
                "Threads whose due date had passed on the chosen day with no reply received "
                "(acknowledgements and auto-replies do not count), the 200 oldest due dates first. "
                "Leave the date empty for today; format YYYY-MM-DD. The full list: tracker report "
                "unanswered."
            ),
            "sql": f"""
select t.id as thread_id, t.correspondent, t.subject, t.status, t.opened_at, t.due_at,
  cast(julianday({_AS_OF}) - julianday(date(t.opened_at)) as integer) as days_waiting
from threads t
-- two branches joined by OR, not CASE: SQLite plans the OR form about 7 times faster
where ((coalesce(:as_of, '') = '' and {OVERDUE_NOW})
  or (coalesce(:as_of, '') != ''
    and t.status in ('awaiting_reply', 'acknowledged', 'answered')
    and t.due_at is not null
    and date(t.opened_at) <= :as_of
    and date(t.due_at) < :as_of
    -- no reply by then: none at all, or (the last one came later and) none before
    and (t.last_reply_at is null or (
      julianday(t.last_reply_at) >= julianday(:as_of, '+1 day')
      and not exists (
        select 1 from thread_messages tm join messages m on m.message_id = tm.message_id
        where tm.thread_id = t.id and +m.kind = 'reply' and m.direction = 'incoming'
          and m.date < date(:as_of, '+1 day')
      )
    ))))
order by t.due_at, t.correspondent
limit 200
""",
            "params": ["as_of"],
        },
        "responsiveness": {
            "title": "Réactivité des destinataires" if fr else "Responsiveness of correspondents",
            "description": (
                "Pour chaque ministère ou organisme : lettres envoyées, lettres ayant reçu une "
                "réponse (et le taux), délai médian et 90e centile (en jours) entre la lettre et "
                "la première réponse, et fils en retard aujourd'hui. « Trop peu » : moins de "
                "cinq lettres, les chiffres ne disent pas grand-chose."
                if fr else
                "For each ministry or body: letters sent, letters answered (and the rate), median "
                "and 90th percentile days from the letter to the first reply, and threads overdue "
                "today. \"Too few\": under five letters, the figures say little."
            ),
            # the view of tracker/store.py: the same figures as `tracker report responsiveness`
            "sql": """
select correspondent, letters, replied, reply_rate, median_days, p90_days, overdue_now, too_few,
  correspondent_id
from responsiveness
order by overdue_now desc, correspondent
""",
        },
        "letters_to": {
            "title": "Lettres à un destinataire" if fr else "Letters to one correspondent",
            "description": (
                "Toutes les lettres envoyées à un ministère ou organisme, la plus récente d'abord. "
                "Tapez une partie de son nom (par exemple « Intérieur »)."
                if fr else
                "Every letter sent to one ministry or body, newest first. Type part of its name "
                "(for example \"Interior\")."
            ),
            "sql": """
select t.id as thread_id, t.correspondent, t.subject, t.opened_at, t.status, t.due_at,
  t.last_reply_at, t.overdue
from threads t join correspondents c on c.id = t.correspondent_id
where :correspondent != '' and (c.name like '%' || :correspondent || '%'
  or c.short_name like '%' || :correspondent || '%' or c.id = :correspondent)
order by t.opened_at desc
""",
            "params": ["correspondent"],
        },
        "replies_this_week": {
            "title": "Réponses reçues cette semaine" if fr else "Replies received this week",
            "description": (
                "Les vraies réponses (ni accusés de réception ni absences) reçues depuis lundi."
                if fr else
                "Real replies (no acknowledgements, no auto-replies) received since Monday."
            ),
            "sql": """
select m.date, coalesce(t.correspondent, '') as correspondent, m.from_name, m.from_address,
  m.subject, tm.thread_id, m.message_id
from messages m
  left join thread_messages tm on tm.message_id = m.message_id
  left join threads t on t.id = tm.thread_id
where m.direction = 'incoming' and m.kind = 'reply'
  and m.date >= date('now', '-6 days', 'weekday 1')
order by m.date desc
""",
        },
        "unmatched": {
            "title": "Messages à rattacher à un fil" if fr else "Messages waiting for a person",
            "description": (
                "Messages reçus qu'aucun fil n'a pu accueillir avec certitude (pas d'en-tête de "
                "réponse, plusieurs lettres possibles). Une personne doit décider : "
                "tracker mark FIL --message MESSAGE-ID."
                if fr else
                "Incoming messages no thread could take with certainty (no reply headers, several "
                "possible letters). A person should decide: tracker mark THREAD --message MESSAGE-ID."
            ),
            "sql": """
select m.date, c.name as correspondent, m.from_name, m.from_address, m.subject, m.kind,
  u.reason, u.candidates, u.message_id
from unmatched u join messages m on m.message_id = u.message_id
  left join correspondents c on c.id = u.correspondent_id
order by m.date desc
""",
        },
        "search": {
            "title": "Rechercher dans la correspondance" if fr else "Search the correspondence",
            "description": (
                "Cherche dans les objets, les textes des messages et les PDF joints : les 50 "
                "messages et les 25 pièces jointes les plus récents qui contiennent tous les mots. Les accents ne comptent pas : « reponse » trouve « réponse ». "
                "Mettez une expression entre guillemets pour la chercher telle quelle ; "
                "« minist* » trouve les mots qui commencent ainsi."
                if fr else
                "Searches subjects, message texts and attached PDFs: the newest 50 messages and 25 "
                "attachments that hold every word. Accents do not "
                "matter: \"reponse\" finds \"réponse\". Put a phrase in double quotes to find it "
                "as is; \"minist*\" finds words that start so."
            ),
            "sql": SEARCH_SQL,
            "params": ["q"],
        },
        "new_replies": {
            "title": "Nouvelles réponses" if fr else "New replies",
            "description": (
                "Les 50 dernières réponses reçues ; ajoutez .atom à l'adresse pour un flux."
                if fr else
                "The latest 50 replies received; add .atom to the address for a feed."
            ),
            "sql": """
select m.message_id as atom_id, m.date as atom_updated,
  coalesce(t.correspondent, m.from_address) || ' : ' || coalesce(m.subject, '') as atom_title,
  substr(coalesce(m.body_text, ''), 1, 2000) as atom_content,
  coalesce(tracker_row_url('threads', tm.thread_id), tracker_row_url('messages', m.message_id))
    as atom_link,
  coalesce(m.from_name, m.from_address) as atom_author_name,
  tm.thread_id
from messages m
  left join thread_messages tm on tm.message_id = m.message_id
  left join threads t on t.id = tm.thread_id
where m.direction = 'incoming' and m.kind = 'reply'
order by m.date desc
limit 50
""",
        },
    }


# --- metadata -------------------------------------------------------------------------------


def _table_metadata(name: str, columns: list[str], language: str) -> dict[str, Any]:
    title, description = TABLES[name][language]
    entry: dict[str, Any] = {
        "title": title,
        "description": description,
        "columns": {c: column_label(c, language) for c in columns},
    }
    return entry


_TABLE_COLUMNS = {
    "threads": ["id", "correspondent_id", "correspondent", "subject", "conversation_id",
                "letter_message_id", "status", "opened_at", "last_letter_at", "last_reply_at",
                "due_at", "overdue"],
    "messages": ["message_id", "date", "from_name", "from_address", "subject", "direction", "kind",
                 "body_text", "attachment_count", "conversation_id", "in_reply_to", "size",
                 "folders", "date_original", "date_source", "subject_normalized", "refs",
                 "body_html", "headers", "delivery_reports", "original_message_id",
                 "is_delivery_report", "message_id_synthetic", "defects", "imported_at", "sha256"],
    "recipients": ["message_id", "role", "address", "name", "position"],
    "attachments": ["id", "message_id", "position", "filename", "content_type", "size", "sha256", "text"],
    "correspondents": ["id", "name", "short_name", "addresses", "domains", "deadline"],
    "thread_messages": ["thread_id", "message_id", "matched_by"],
    "unmatched": ["message_id", "correspondent_id", "candidates", "reason"],
    "marks": ["id", "thread_id", "action", "on_date", "message_id", "note", "created_at"],
    "quarantine": ["id", "source", "folder", "key", "sha256", "size", "reason", "quarantined_at"],
    "unanswered": ["id", "correspondent_id", "correspondent", "subject", "status", "opened_at",
                   "last_letter_at", "last_reply_at", "due_at", "waiting_since", "days_waiting"],
    "responsiveness": ["correspondent_id", "correspondent", "letters", "replied", "reply_rate",
                       "reply_rate_low", "reply_rate_high", "median_days", "p90_days",
                       "overdue_now", "too_few"],
}

_DEFAULTS: dict[str, dict[str, Any]] = {
    "threads": {"sort_desc": "opened_at",
                "facets": ["correspondent", "status", "overdue", {"month": "opened_at"}],
                "label_column": "subject"},
    "messages": {"sort_desc": "date", "facets": ["direction", "kind", {"month": "date"}],
                 "fts_table": "messages_fts", "fts_pk": "rowid", "label_column": "subject"},
    "recipients": {"facets": ["role"]},
    "attachments": {"facets": ["content_type"], "fts_table": "attachments_fts", "fts_pk": "rowid",
                    "label_column": "filename"},
    "correspondents": {"sort": "name", "label_column": "name"},
    "quarantine": {"sort_desc": "quarantined_at", "facets": ["reason", "source"]},
    "marks": {"sort_desc": "created_at", "facets": ["action"]},
    "unmatched": {"facets": ["correspondent_id", "reason"]},
}


def _approximate_days(deadline) -> float:
    per_unit = {"months": 30.44, "days": 1.0, "working_days": 7 / 5}
    return round(deadline.count * per_unit.get(deadline.unit, 1.0), 1)


def password_hash_env(username: str) -> str:
    """The environment variable through which a password hash reaches the auth plugin.

    Datasette shows its metadata at ``/-/metadata``; an ``{"$env": ...}`` reference keeps the
    hashes out of that page."""
    return AUTH_HASH_ENV.format("".join(c if c.isalnum() else "_" for c in username).upper())


def metadata(config: Config) -> dict[str, Any]:
    """Datasette metadata for ``config``: labels in ``config.language``, hidden and denied
    tables, default sorts and facets, canned queries, permissions and plugin settings."""
    language = config.language
    tables: dict[str, Any] = {}
    for name, columns in _TABLE_COLUMNS.items():
        entry = _table_metadata(name, columns, language)
        entry.update(_DEFAULTS.get(name, {}))
        tables[name] = entry
    for name in HIDDEN:
        tables.setdefault(name, {})["hidden"] = True
    for name in NEVER_SERVED:
        tables[name]["allow"] = False
    if language == "fr":
        title = "Suivi des correspondances"
        description = "Ce que {} a écrit, à qui, qui a répondu, qui ne l'a pas fait, et depuis quand."
    else:
        title = "Correspondence tracker"
        description = "What {} wrote to whom, who answered, who has not, and for how long."
    coalition = config.coalition_name or ("la coalition" if language == "fr" else "the coalition")
    meta: dict[str, Any] = {
        "title": f"{title} — {config.coalition_name}" if config.coalition_name else title,
        "description": description.format(coalition),
        "databases": {
            DATABASE_NAME: {
                "title": title,
                "tables": tables,
                "queries": canned_queries(language),
            }
        },
        "plugins": {
            "tracker": {
                "language": language,
                "timezone": config.timezone,
                # where the chart draws the default delay ("2 months" is about 61 days)
                "deadline_days": _approximate_days(config.default_deadline),
                "deadline": str(config.default_deadline),
                "feed_root": config.digest.base_url,
                "auth": bool(config.auth.password_hashes),
                "allowed_hosts": allowed_hosts(config),
                "never_served": list(NEVER_SERVED),
            }
        },
    }
    if config.auth.password_hashes:
        meta["allow"] = {"id": sorted(config.auth.password_hashes)}
        meta["plugins"]["datasette-auth-passwords"] = {
            f"{user}_password_hash": {"$env": password_hash_env(user)}
            for user in config.auth.password_hashes
        }
    return meta


# --- the Datasette instance -----------------------------------------------------------------


def make_datasette(config: Config, *, base_url: str | None = None):
    """A Datasette instance serving ``config.database`` as ``tracker`` (mutable, read-only
    connections), with tracker's metadata, templates and plugin. ``base_url`` overrides the
    config's path prefix (for a reverse proxy, e.g. ``/tracker/``)."""
    from datasette.app import Datasette
    from datasette.database import Database
    from datasette.plugins import pm

    from . import datasette_plugin

    if not config.database.exists():
        raise PublishError(
            f"{config.database}: no database yet; run `tracker import PATH` or `tracker sync` first "
            f"(or `tracker demo` to try tracker with the demo mailbox)"
        )
    if not TEMPLATES.is_dir():
        raise PublishError(
            f"{TEMPLATES}: the page templates are missing; reinstall tracker "
            f"(python3 -m pip install . from its source folder)"
        )
    if not pm.is_registered(datasette_plugin):
        pm.register(datasette_plugin, name="tracker")
    for user, hashed in config.auth.password_hashes.items():
        os.environ[password_hash_env(user)] = hashed
    prefix = base_url if base_url is not None else config.base_url
    prefix = "/" + prefix.strip("/") + "/" if prefix.strip("/") else "/"
    ds = Datasette(
        metadata=metadata(config),
        template_dir=str(TEMPLATES),
        static_mounts=[(STATIC_MOUNT, str(TEMPLATES / "static"))],
        settings={
            "base_url": prefix,
            "allow_download": False,
            "default_page_size": 50,
            "sql_time_limit_ms": 5000,
            "facet_time_limit_ms": 400,
        },
        secret=os.environ.get("TRACKER_DATASETTE_SECRET") or None,
    )
    ds.add_database(Database(ds, path=str(config.database), is_mutable=True), name=DATABASE_NAME)
    return ds


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) only listens on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def allowed_hosts(config: Config) -> list[str] | None:
    """The Host headers answered without logins: loopback names and the public name of
    ``digest.base_url`` (a reverse proxy that authenticates). Any other Host is refused, so a
    web page on another site cannot read the database through DNS rebinding. ``None`` (any
    host) when logins are configured: then every page needs a login anyway."""
    if config.auth.password_hashes:
        return None
    from urllib.parse import urlsplit

    hosts = ["127.0.0.1", "localhost", "::1"]
    public = urlsplit(config.digest.base_url).hostname
    if public and public not in hosts:
        hosts.append(public.lower())
    return hosts


def check_host(config: Config, host: str) -> None:
    """Refuse to listen beyond this machine unless logins are configured."""
    if is_loopback(host) or config.auth.password_hashes:
        return
    raise PublishError(
        f"refusing to serve on {host}: anyone on the network could read the correspondence. "
        f"Add accounts under [auth] password_hashes in {config.path} (make a hash with "
        f"`datasette hash-password`), or serve on 127.0.0.1 behind a reverse proxy that "
        f"authenticates"
    )


class QuietQueryErrors:
    """stderr for ``tracker serve``: Datasette writes a failing query's SQL, its parameters
    and SQLite's message there ("ERROR: conn=..., sql = ..., params = {'search': ...}"), and
    search words may name the people the letters are about. Only the fact is kept."""

    PREFIX = "ERROR: conn="

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        if text.startswith(self.PREFIX):
            self.stream.write("tracker serve: a database query failed (its text is not logged)\n")
            return len(text)
        return self.stream.write(text)

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


def serve(config: Config, host: str = "127.0.0.1", port: int = 8001) -> None:
    """Serve the tracker with Datasette on ``host:port`` until interrupted."""
    import asyncio
    import sys

    import uvicorn

    check_host(config, host)
    sys.stderr = QuietQueryErrors(sys.stderr)
    ds = make_datasette(config)
    asyncio.run(ds.invoke_startup())
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning", lifespan="on")
