"""Rendering what bodies send back: replies, acknowledgements, auto-replies, bounces, newsletters."""

from __future__ import annotations

from datetime import timedelta
from .mime import address, attachment_part, delivery_report, encode_header, french_date, html_of, make_pdf, multipart, _of, text_part
from .model import _header_date, Letter, _mailer_charset, _mailer_header, Msg, Thread
from .world import ANSWERS, Body, COALITION_ADDRESSES, DAYS_FR, EXCHANGE_POSTMASTER, GENERIC_ANSWER, HEADERLESS_PREFIXES, MAILER_DAEMON, MONTHS_FR


class Incoming:
    """The generator's incoming mail (a mixin over ``Generator``)."""

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
