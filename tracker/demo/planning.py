"""Which letters the coalition sends, to whom and when, and how each thread goes on."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from .model import Letter, Msg, Thread, _work_time
from .world import BODIES, Body, COALITION_DOMAIN, COALITION_SENDERS, CONTEXTS, PARTNERS, TOPICS


class Planning:
    """The generator's decisions (a mixin over ``Generator``)."""

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
