"""Rendering the coalition's letters and reminders."""

from __future__ import annotations
from .mime import address, attachment_part, encode_header, french_date, html_of, make_pdf, multipart, text_part
from .model import _header_date, Letter, Msg, Thread
from .world import ASKS, COALITION_NAME, PROBLEMS



class Outgoing:
    """The generator's letters and reminders (a mixin over ``Generator``)."""

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
