"""The canned queries (SQL) every page and export of tracker reads."""

from __future__ import annotations


from typing import Any

from ..store.db import responsiveness_sql

# the responsiveness figures as the pages show them: "overdue now" as of tracker_now() (the
# config's as_of, else the clock), where the stored view reads the clock
RESPONSIVENESS = responsiveness_sql(now="tracker_now()")



# --- canned queries -------------------------------------------------------------------------

_AS_OF = "coalesce(nullif(:as_of, ''), date(tracker_now()))"

# Overdue now, from the due date rather than the stored flag: rethreading after a sync only
# revisits the threads that received mail, so the flag of a quiet thread can be stale.
# (a scalar subquery is evaluated once per statement: the Python function is not called per row)
OVERDUE_NOW = (
    "(t.status in ('awaiting_reply', 'acknowledged') and julianday(t.due_at) < (select julianday(tracker_now())))"
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
            # the view's figures (store/db.py): the same as `tracker report responsiveness`
            "sql": f"""
select correspondent, letters, replied, reply_rate, median_days, p90_days, overdue_now, too_few,
  correspondent_id
from ({RESPONSIVENESS})
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
  and m.date >= date(tracker_now(), '-6 days', 'weekday 1')
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
