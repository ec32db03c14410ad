"""A large benchmark Maildir, fast to write (``generate_bulk``)."""

from __future__ import annotations

import base64
import os
import random
from datetime import datetime
from pathlib import Path
from .mime import address, delivery_report, html_of, make_pdf, multipart, text_part
from .model import _header_date, _later
from .world import ANSWERS, ASKS, BODIES, COALITION_ADDRESSES, COALITION_DOMAIN, COALITION_NAME, COALITION_SENDERS, CONTEXTS, GENERIC_ANSWER, HOST, PARIS, PROBLEMS, REPORTING_MTA, TOPICS


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
