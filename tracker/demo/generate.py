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
``within_deadline``, ``ambiguous_pair``, ``scan_only_answer`` (its answer's evidence is only in a
scanned PDF: placed after OCR), ``recent_answer`` (a letter answered in the demo's last
week, so "replies this week" has one as of the demo's day).

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
import json
import os
import random
import shutil
import sys
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from .bulk import generate_bulk
from .incoming import Incoming
from .mime import add_months, due_date
from .model import Ids, _later, Letter, Msg, Thread, _work_time
from .outgoing import Outgoing
from .planning import Planning
from .situations import Situations
from .world import BODIES, COALITION_ADDRESSES, COALITION_DOMAIN, COALITION_NAME, HEADERLESS_VARIANTS, HOST, MAILER_DAEMON, PARIS, TRUTH_FORMAT


# ---------------------------------------------------------------------------- generation

class Generator(Planning, Outgoing, Incoming, Situations):
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
        self.add_situations()
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
        (out / "tracker.toml").write_text(config_toml(self.end), encoding="utf-8")
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


def config_toml(as_of: date | None = None) -> str:
    """The demo's tracker.toml: the coalition and every body of the demo, judged as of
    ``as_of`` (the truth's day) when given, so its statuses and pages stay those of the
    truth whatever the date."""
    lines = [
        "# The demo's configuration, written by tracker/demo/generate.py.",
        'database = "tracker.db"',
        'language = "fr"',
        'timezone = "Europe/Paris"',
        *([f'as_of = "{as_of.isoformat()}"  # statuses are judged as of this day, not today'] if as_of else []),
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
             months: int = 24, scans: int | None = None) -> dict:
    """Write ``out/mailbox`` (Maildir), ``out/truth.json`` and ``out/tracker.toml``; return the truth.

    ``scans``: answers whose only evidence is a scanned PDF (placed once OCR reads it; the
    truth says where); by default one from 150 letters (the bundled demo, whose build reads
    it), none below (the tests' small correspondences, imported without OCR).
    The same arguments always give byte-identical files (with the same Pillow and fonts)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    generator = Generator(seed, letters, start, months)
    generator.scans = (1 if letters >= 150 else 0) if scans is None else scans
    generator.build()
    return generator.write(out)


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
