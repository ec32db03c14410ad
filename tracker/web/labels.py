"""Column names and values in the page's language (French by default)."""

from __future__ import annotations



from .. import i18n


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
    "marks_undone": {
        "fr": ("Annotations annulées", "Annotations retirées, avec qui les a annulées et quand."),
        "en": ("Undone marks", "Marks withdrawn, with who undid them and when."),
    },
    "scans": {
        "fr": ("Scans des réponses postales", "Réponses reçues par la poste : le texte lu dans le scan "
               "(le fichier lui-même n'est pas publié)."),
        "en": ("Scans of postal answers", "Answers received by post: the text read in the scan (the file "
               "itself is not published)."),
    },
    "commitments": {
        "fr": ("Engagements", "Ce que les administrations ont promis : les mots, la date promise, où cela a été "
               "dit, et s'ils ont été tenus."),
        "en": ("Commitments", "What public bodies promised: their words, the date promised, where it was said, "
               "and whether it was kept."),
    },
    "meetings": {
        "fr": ("Rendez-vous et appels", "Réunions et appels datés, rattachés à un fil."),
        "en": ("Meetings and calls", "Dated meetings and calls, each in a thread."),
    },
    "cosigners": {
        "fr": ("Cosignataires", "Les associations membres qui signent chaque lettre avec le collectif."),
        "en": ("Co-signers", "The member associations that sign each letter with the coalition."),
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
    "atom_id": ("Identifiant Atom", "Atom id"),
    "atom_updated": ("Mis à jour (Atom)", "Updated (Atom)"),
    "atom_title": ("Titre (Atom)", "Title (Atom)"),
    "atom_content": ("Contenu (Atom)", "Content (Atom)"),
    "atom_link": ("Lien (Atom)", "Link (Atom)"),
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
    "made_by": ("Par", "By"),
    "undone_at": ("Annulée le", "Undone at"),
    "undone_by": ("Annulée par", "Undone by"),
    "mark_id": ("Annotation", "Mark"),
    "words": ("Engagement", "Commitment"),
    "due_on": ("Promis pour le", "Promised for"),
    "said_on": ("Dit le", "Said on"),
    "said_in": ("Dit lors de", "Said in"),
    "meeting_id": ("Rendez-vous", "Meeting"),
    "updated_at": ("Modifié le", "Updated at"),
    "updated_by": ("Modifié par", "Updated by"),
    "member": ("Association membre", "Member association"),
    "set_at": ("Indiqué le", "Set at"),
    "set_by": ("Indiqué par", "Set by"),
    "stored_at": ("Enregistré le", "Stored at"),
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
