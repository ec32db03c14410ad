"""Situations a coalition's mailbox is full of, that subjects alone cannot sort out: letters
that share a subject (written again months later, or by two members within days), a reminder
of an older unanswered letter after a newer one was answered, and two letters to one body on
the same day answered by a do-not-reply address with the signed answer as a PDF.

They draw from their own random stream and come after the rest of the correspondence, so
that what ``Generator.build`` made before them stays as it was.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from .mime import address, attachment_part, encode_header, french_date, make_pdf, multipart, text_part
from .model import Ids, Letter, Msg, Thread, _header_date, _mailer_charset, _mailer_header, _work_time
from .world import ANSWERS, BODIES, COALITION_DOMAIN, COALITION_NAME, COALITION_SENDERS

SITUATION_SEED = 7919  # added to the seed: the situations' own random stream
# (days apart, cases) of the second letter of a same-subject pair
AGAIN = [((3, 7), "same_subject_days"), ((60, 150), "same_subject_months")]
# how an older letter's reminder, sent after a newer one under its subject was answered, says so
REMINDER_STYLES = ["cites_date", "no_date", "in_words", "with_headers"]
# where a do-not-reply answer says which of two same-day letters it answers
NAMED_STYLES = ["relatif", "concernant", "au_sujet", "objet_pdf", "partial", "subject_line"]
SAME_SUBJECTS = 8  # same-subject pairs (for 180 letters: fewer in a smaller correspondence)
SAME_DAY_PAIRS = 7  # same-day pairs answered by a do-not-reply address


class Situations:
    """The generator's hard situations (a mixin over ``Generator``)."""

    def add_situations(self) -> None:
        """Plan and render the situations, with their own random stream and ids."""
        main_rng, main_ids = self.rng, self.ids
        self.rng = random.Random(self.seed + SITUATION_SEED)
        self.ids = Ids(self.rng)
        self.ids.seen = main_ids.seen
        self.busy = {(t.body.name, m.when.date()) for t in self.threads for m in [t.letter.msg, *t.reminders]}
        self.situation_number = 500
        self.named_turn = 0
        try:
            bodies = [b for b in BODIES if b.answer > 0.5 and b.domains]
            for index in range(min(SAME_SUBJECTS, max(2, self.n_letters // 22))):
                self._same_subject(bodies[index % len(bodies)], index)
            noreply = [b for b in bodies if b.noreply]
            for index in range(min(SAME_DAY_PAIRS, max(2, self.n_letters // 25))):
                self._same_day(noreply[index % len(noreply)], index)
            self._recent_answer(bodies[-1])
            for index in range(getattr(self, "scans", 0)):
                self._scan_answer(bodies[index % len(bodies)], index)
        finally:
            self.rng, self.ids = main_rng, main_ids

    # -- planning --------------------------------------------------------------------------

    def _free_day(self, body, earliest: date, latest: date) -> date | None:
        rng = self.rng
        for _ in range(50):
            day = earliest + timedelta(days=rng.randrange(max(1, (latest - earliest).days)))
            while day.weekday() >= 5:
                day += timedelta(days=1)
            if (body.name, day) not in self.busy and day < latest:
                self.busy.add((body.name, day))
                return day
        return None

    def _letter(self, body, day: date, subject: str, topic: str, signer, cases: list[str]) -> Thread:
        rng = self.rng
        when = _work_time(rng, day, 9, 18)
        msg = Msg(self.ids.new(when, "coalition", COALITION_DOMAIN), "Sent", when, "letter", "outgoing", signer[1])
        letter = Letter(msg, subject, topic, "", [body], [body.to], [], None, signer, pdf=rng.random() < 0.3)
        self.situation_number += 1
        letter.ref = f"CET-{day.year}-{self.situation_number:03d}"
        msg.cases += cases + (["pdf_attached"] if letter.pdf else [])
        self.render_letter(letter)
        self.letters.append(letter)
        self.messages.append(msg)
        thread = Thread(letter, body, body.to, cases=list(cases))
        msg.threads.append((msg.mid, body.name))
        self.threads.append(thread)
        return thread

    def _same_subject(self, body, index: int) -> None:
        """Two letters under one subject to one body; the answers and reminders say which."""
        rng = self.rng
        subject, topic = self._subject()
        (low, high), again = AGAIN[index % 2]
        two_members = index % 4 in (0, 3)
        first_day = self._free_day(body, self.start + timedelta(days=30), self.end - timedelta(days=300))
        if first_day is None:
            return
        second_day = self._free_day(body, first_day + timedelta(days=low), first_day + timedelta(days=high + 1))
        if second_day is None:
            return
        signers = rng.sample(COALITION_SENDERS, 2) if two_members else [COALITION_SENDERS[0]] * 2
        cases = ["same_subject", again] + (["two_members"] if two_members else [])
        older = self._letter(body, first_day, subject, topic, signers[0], cases)
        newer = self._letter(body, second_day, subject, topic, signers[1], cases)
        # the newer letter is answered; the older one is not, and is chased after that answer
        style = REMINDER_STYLES[index % len(REMINDER_STYLES)]
        answer_day = second_day + timedelta(days=rng.randrange(5, 20))
        answer = self._dated_reply(newer, answer_day, linked=index % 2 == 0, new_subject=False)
        if answer is None:
            return
        answered = answer.when.date()
        reminder_day = self._free_day(body, answered + timedelta(days=1), answered + timedelta(days=20))
        if reminder_day is not None:
            self._reminder_of(older, reminder_day, style)
        if index % 3 == 0:  # and later answered, citing its date
            later = (reminder_day or answered) + timedelta(days=rng.randrange(10, 30))
            self._dated_reply(older, later, linked=False, new_subject=True)

    def _recent_answer(self, body) -> None:
        """A letter of six weeks ago answered in the demo's last week, so that the digest's and
        the pages' "replies this week" show one, judged as of the demo's day."""
        day = self._free_day(body, self.end - timedelta(days=48), self.end - timedelta(days=40))
        if day is None:
            return
        thread = self._letter(body, day, *self._subject(), COALITION_SENDERS[0], ["recent_answer"])
        answer_day = self.end - timedelta(days=3)
        while answer_day.weekday() >= 5:
            answer_day -= timedelta(days=1)
        answer = self._dated_reply(thread, answer_day, linked=True, new_subject=False)
        if answer is not None:
            answer.cases = [c for c in answer.cases if c != "same_subject_answer"] + ["recent_answer"]

    def _scan_answer(self, body, index: int) -> None:
        """A letter answered by post and scan, as ministries do: a two-line email from the body's
        mail office (an address never seen, a generic subject, no In-Reply-To), the answer itself
        a scanned page with no text layer. Its only evidence (the letter's date, its reference,
        its subject) is in the scan: it waits in the triage until OCR reads it."""
        from .scans import answer_letter, scan_page, scan_pdf

        rng = self.rng
        day = self._free_day(body, self.end - timedelta(days=80), self.end - timedelta(days=60))
        if day is None:
            return
        thread = self._letter(body, day, *self._subject(), COALITION_SENDERS[0], ["scan_only_answer"])
        letter = thread.letter
        at = _work_time(rng, self.end - timedelta(days=12 + 3 * index), 8, 18)
        domain = body.domains[0]
        sender = f"bureau.courrier@{domain}"
        msg = Msg(self.ids.new(at, "other", domain), "INBOX", at, "reply", "incoming", sender, body.name)
        cover = ("Madame,\n\nVeuillez trouver ci-joint la réponse apportée à votre courrier.\n\n"
                 f"Le bureau du courrier\n{body.name}\n")
        lines = answer_letter(body=body.name, place="Paris", day=french_date(at.date()),
                              cited=french_date(letter.msg.when.date()), subject=letter.subject,
                              reference=letter.ref, our_reference=f"{body.ref_prefix}/{at.year}/{rng.randrange(1000, 9999)}",
                              signer=body.signer[0])
        page = scan_page(lines, seed=self.seed * 1000 + index, stamp=["COURRIER ARRIVÉ", french_date(at.date()).upper()])
        part = multipart("mixed", self.boundary(), [
            text_part(cover, "utf-8", "quoted-printable"),
            attachment_part(scan_pdf([page]), "scan_courrier.pdf"),
        ])
        headers = self._headers(msg, "Bureau du courrier", sender,
                                address(letter.signer[0], letter.signer[1], "utf-8"), "Réponse à votre courrier",
                                "utf-8", body)
        msg.raw = ("\n".join(headers) + "\n").encode() + part
        msg.cases += ["charset:utf-8/quoted-printable", "reply_headerless", "scan_only_answer"]
        self._add_reply(thread, msg)

    def _same_day(self, body, index: int) -> None:
        """Two letters to one body on one day, each answered by its do-not-reply address with a
        PDF; the answer cites the date (both letters) and names the subject (one)."""
        rng = self.rng
        day = self._free_day(body, self.start + timedelta(days=20), self.end - timedelta(days=90))
        if day is None:
            return
        first_subject, first_topic = self._subject()
        for _ in range(20):
            second_subject, second_topic = self._subject()
            if second_topic != first_topic:
                break
        cases = ["same_day_pair"]
        pair = [self._letter(body, day, first_subject, first_topic, rng.choice(COALITION_SENDERS), cases),
                self._letter(body, day, second_subject, second_topic, rng.choice(COALITION_SENDERS), cases)]
        for number, thread in enumerate(pair):
            if number == 1 and index % 3 == 2:
                continue  # one of the two stays unanswered
            style = NAMED_STYLES[self.named_turn % len(NAMED_STYLES)]  # in turn: each style twice
            self.named_turn += 1
            at = _work_time(rng, day + timedelta(days=rng.randrange(10, 45)), 8, 18)
            if at < self.end_at:
                self._noreply_reply(thread, at, style)

    # -- rendering -------------------------------------------------------------------------

    def _headers(self, msg: Msg, from_name: str, from_addr: str, to_addr: str, subject: str,
                 charset: str, body, linked: list[str] | None = None) -> list[str]:
        headers = [f"Date: {_header_date(msg.when)}", f"From: {address(from_name, from_addr, charset)}",
                   f"To: {to_addr}", f"Subject: {encode_header(subject, charset)}", f"Message-ID: <{msg.mid}>"]
        if linked:
            headers += [f"In-Reply-To: <{linked[-1]}>", "References: " + "\n ".join(f"<{m}>" for m in linked)]
        return headers + ["MIME-Version: 1.0", _mailer_header(body)]

    def _add_reply(self, thread: Thread, msg: Msg) -> None:
        msg.threads.append((thread.letter.msg.mid, thread.body.name))
        thread.replies.append(msg)
        self.messages.append(msg)

    def _dated_reply(self, thread: Thread, day: date, linked: bool, new_subject: bool) -> Msg | None:
        """An answer by headers, or without them citing the letter's date (the subject is
        shared), under the letter's subject or (``new_subject``) a subject of its own."""
        rng, body, letter = self.rng, thread.body, thread.letter
        at = _work_time(rng, day, 8, 18)
        if at >= self.end_at:
            return None
        domain = body.domains[0]
        msg = Msg(self.ids.new(at, "other", domain), "INBOX", at, "reply", "incoming", "", body.name)
        charset, cte = _mailer_charset(body, rng)
        from_name, from_addr = body.staff[0] if body.staff else (body.short, body.to)
        msg.sender = from_addr
        sent = french_date(letter.msg.when.date())
        if linked:
            subject = f"RE : {letter.subject}"
            opening = f"Vous avez bien voulu appeler mon attention sur {letter.topic}."
        else:
            subject = f"Votre courrier du {sent}" if new_subject else f"RE : {letter.subject}"
            opening = f"Par courrier du {sent}, vous avez appelé mon attention sur {letter.topic}."
        text = (f"Madame,\n\n{opening}\n\n{rng.choice(ANSWERS)}\n\nJe vous prie d'agréer, Madame, "
                f"l'expression de mes salutations distinguées.\n\n{body.signer[0]}\n{body.signer[1]}\n{body.name}\n")
        chain = [letter.msg.mid] + [m.mid for m in thread.reminders if m.when < at] if linked else None
        headers = self._headers(msg, from_name, from_addr, address(letter.signer[0], letter.signer[1], charset),
                                subject, charset, body, chain)
        msg.raw = ("\n".join(headers) + "\n").encode() + text_part(text, charset, cte)
        msg.cases += [f"charset:{charset}/{cte}", "reply_linked:both" if linked else "reply_headerless",
                      "same_subject_answer"] + ([] if linked else
                                                ["new_subject_cites_date" if new_subject else "cites_date_in_body"])
        self._add_reply(thread, msg)
        return msg

    def _reminder_of(self, thread: Thread, day: date, style: str) -> None:
        """A reminder of ``thread``'s letter, sent after the other letter under its subject was answered."""
        rng, letter, body = self.rng, thread.letter, thread.body
        when = _work_time(rng, day, 9, 18)
        if when >= self.end_at:
            return
        name, addr, title = letter.signer
        msg = Msg(self.ids.new(when, "coalition", COALITION_DOMAIN), "Sent", when, "letter", "outgoing", addr,
                  cases=["reminder", "reminder_of_older", f"reminder_style:{style}"])
        sent = french_date(letter.msg.when.date())
        subject = letter.subject if style == "in_words" else f"Relance : {letter.subject}"
        if style == "no_date":
            opening = ("Nous nous permettons de vous relancer au sujet de notre précédent courrier sur ce "
                       "sujet, resté à ce jour sans réponse.")
        else:
            opening = (f"Nous nous permettons de revenir vers vous au sujet de notre courrier du {sent} "
                       f"relatif à {letter.topic} (N/Réf : {letter.ref}), resté à ce jour sans réponse.")
        text = (f"{body.salutation},\n\n{opening}\n\nNous vous serions reconnaissants de bien vouloir nous "
                f"indiquer la suite que vous entendez y donner.\n\nNous vous prions d'agréer, {body.salutation}, "
                f"l'expression de notre haute considération.\n\n{name}\n{title}\n{COALITION_NAME}\n")
        headers = [f"Message-ID: <{msg.mid}>", f"Date: {_header_date(when)}", f"From: {address(name, addr)}",
                   f"To: {address(self._display(body, thread.address), thread.address)}",
                   f"Subject: {encode_header(subject)}"]
        if style == "with_headers":
            headers += [f"In-Reply-To: <{letter.msg.mid}>", f"References: <{letter.msg.mid}>"]
        msg.cases.append("reminder_with_headers" if style == "with_headers" else "reminder_headerless")
        headers += ["MIME-Version: 1.0",
                    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.3.0"]
        msg.subject = subject
        msg.raw = ("\n".join(headers) + "\n").encode() + text_part(text, "utf-8", "quoted-printable")
        msg.threads.append((letter.msg.mid, body.name))
        thread.reminders.append(msg)
        self.messages.append(msg)

    def _noreply_reply(self, thread: Thread, at: datetime, style: str) -> None:
        """The signed answer as a PDF, from the do-not-reply address, citing the letter's date
        (shared with another letter) and naming its subject in ``style``."""
        rng, body, letter = self.rng, thread.body, thread.letter
        msg = Msg(self.ids.new(at, "other", body.domains[0]), "INBOX", at, "reply", "incoming", body.noreply, body.name)
        charset, cte = _mailer_charset(body, rng)
        sent = french_date(letter.msg.when.date())
        subject_words = letter.subject.split()
        partial = " ".join(subject_words[: max(2, (len(subject_words) + 1) // 2 + 1)]) + "..."
        named = {
            "relatif": f"relatif à : {letter.subject}",
            "concernant": f"concernant « {letter.subject} »",
            "au_sujet": f"au sujet de {letter.subject.upper()}",
            "partial": f"relatif à : {partial}",
            "subject_line": "",
            "objet_pdf": "",
        }[style]
        subject = f"Réponse à votre courrier du {sent}"
        if style == "subject_line":
            subject = f"Réponse à votre courrier du {sent} relatif à : {letter.subject}"
        cover = (f"Madame,\n\nVeuillez trouver ci-joint la réponse de {body.signer[0]} à votre courrier du "
                 f"{sent}{' ' + named if named else ''}.\n\nBien cordialement,\n\nLe bureau du courrier\n{body.name}\n")
        reference = f"{body.ref_prefix}/{at.year}/{rng.randrange(100, 9999):04d}"
        objet = f"Objet : {partial if style == 'partial' else letter.subject}\n"  # cut short as the body cut it
        pdf_text = (f"{body.name}\n\nN/Réf : {reference}\n{objet}\nMadame,\n\nPar courrier du "
                    f"{sent}, vous avez appelé mon attention sur {letter.topic}.\n\n{rng.choice(ANSWERS)}\n\n"
                    f"{body.signer[0]}\n{body.signer[1]}")
        part = multipart("mixed", self.boundary(), [
            text_part(cover, charset, cte),
            attachment_part(make_pdf(pdf_text, reference), f"Reponse_{reference.replace('/', '-')}.pdf"),
        ])
        headers = self._headers(msg, f"{body.short} - Courrier", body.noreply,
                                address(letter.signer[0], letter.signer[1], charset), subject, charset, body)
        msg.raw = ("\n".join(headers) + "\n").encode() + part
        msg.cases += [f"charset:{charset}/{cte}", "reply_headerless", "pdf_reply", "noreply_pdf",
                      f"names_subject:{style}"]
        self._add_reply(thread, msg)
