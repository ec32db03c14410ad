"""``tracker commitment``, ``tracker meeting`` and ``tracker cosigners``: thin commands
(options, one library call, known errors as one line), registered by ``tracker.cli``.
``obj`` is ``cli.Context`` (its ``config`` and ``db``)."""

from __future__ import annotations

import getpass

import click


def _person() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _run(call):
    """Call the library; its refusals become one line (exit 1)."""
    from .thread.commitments import CommitmentError
    from .thread.threader import ThreadingError

    try:
        return call()
    except (CommitmentError, ThreadingError) as exc:
        raise click.ClickException(str(exc)) from None


@click.group(name="commitment")
def commitment_group() -> None:
    """What bodies promised (in a reply, at a meeting, on the phone), and whether they kept it.

    \b
    Examples:
      tracker commitment add --correspondent interieur --due 31/12/2014 --said-in meeting \\
          --words "transmission d'une circulaire aux préfets avant la fin de l'année"
      tracker commitment kept 3 --note "circulaire du 5 janvier"
      tracker commitment list --format json
    """


@commitment_group.command(name="add")
@click.option("--words", required=True, help="What the body promised, in its words.")
@click.option("--correspondent", help="The body that promised (id, short name or name).")
@click.option("--thread", help="The thread it belongs to (its body is then the thread's).")
@click.option("--message", "message_id", metavar="MESSAGE_ID", help="The message where it was said.")
@click.option("--meeting", "meeting_id", type=int, help="The meeting (tracker meeting) where it was said.")
@click.option("--due", "due_on", metavar="DATE", help="The day it was promised for (31/12/2014, 2014-12-31).")
@click.option("--said-in", type=click.Choice(["reply", "meeting", "phone", "letter", "other"]), default="meeting",
              show_default=True, help="Where it was said.")
@click.option("--said-on", metavar="DATE", help="The day it was said.")
@click.option("--note", help="A note kept with it.")
@click.option("--by", "made_by", metavar="NAME", help="Who records it (default: your login name).")
@click.pass_obj
def commitment_add(obj, words, correspondent, thread, message_id, meeting_id, due_on, said_in, said_on, note,
                   made_by) -> None:
    """Record a commitment, pending. Example: tracker commitment add --thread t-0123456789 --words "..." """
    from .thread import commitments

    db = obj.db(create=False)
    found = _run(lambda: commitments.add(
        db, obj.config, words=words, correspondent=correspondent, thread=thread, message_id=message_id,
        meeting_id=meeting_id, due_on=due_on, said_in=said_in, said_on=said_on, note=note,
        made_by=made_by or _person()))
    click.echo(f"commitment {found} recorded (pending)")


def _status_command(name: str, status: str, doc: str):
    @commitment_group.command(name=name, help=doc)
    @click.argument("commitment_id", type=int)
    @click.option("--note", help="Why, or how (kept with it).")
    @click.option("--by", "made_by", metavar="NAME", help="Who says so (default: your login name).")
    @click.pass_obj
    def command(obj, commitment_id: int, note: str | None, made_by: str | None) -> None:
        from .thread import commitments

        _run(lambda: commitments.set_status(obj.db(create=False), obj.config, commitment_id, status, note=note,
                                            made_by=made_by or _person()))
        click.echo(f"commitment {commitment_id}: {status}")

    return command


_status_command("kept", "kept", "The body kept it. Example: tracker commitment kept 3 --note \"circulaire du 5/1\"")
_status_command("broken", "not_kept", "The body did not keep it. Example: tracker commitment broken 3")
_status_command("dropped", "dropped", "No longer followed. Example: tracker commitment dropped 3 --note \"caduc\"")
_status_command("pending", "pending", "Pending again (a status set by mistake). Example: tracker commitment pending 3")


@commitment_group.command(name="list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Output format.")
@click.option("--correspondent", help="Only this body's (its former names included).")
@click.pass_obj
def commitment_list(obj, fmt: str, correspondent: str | None) -> None:
    """Every commitment by due date; "!" marks one past due.

    \b
    Example:
      tracker commitment list --format json
    """
    from .thread import commitments

    db = obj.db(create=False)
    found = _run(lambda: commitments.list_commitments(db, obj.config, correspondent=correspondent))
    click.echo(commitments.render(found, fmt), nl=False)


@click.command(name="meeting")
@click.argument("thread")
@click.option("--on", "on", required=True, metavar="DATE", help="The day of the meeting or call.")
@click.option("--phone", is_flag=True, help="A phone call, not a meeting.")
@click.option("--note", help="Who was there, what was said (no names of victims).")
@click.option("--by", "made_by", metavar="NAME", help="Who records it (default: your login name).")
@click.pass_obj
def meeting(obj, thread: str, on: str, phone: bool, note: str | None, made_by: str | None) -> None:
    """A meeting or phone call with the body of THREAD, a dated event of that thread.

    \b
    Example:
      tracker meeting t-0123456789 --on 12/03/2015 --note "reçus par le directeur de cabinet"
    """
    from .thread import commitments

    found = _run(lambda: commitments.add_meeting(obj.db(create=False), obj.config, thread, on,
                                                 kind="phone" if phone else "meeting", note=note,
                                                 made_by=made_by or _person()))
    click.echo(f"meeting {found} recorded")


@click.command(name="cosigners")
@click.argument("message_id")
@click.option("--set", "names", multiple=True, metavar="MEMBER", help="A co-signer (repeat); replaces the list.")
@click.option("--clear", is_flag=True, help="The letter has no co-signer.")
@click.option("--by", "made_by", metavar="NAME", help="Who says so (default: your login name).")
@click.pass_obj
def cosigners(obj, message_id: str, names: tuple[str, ...], clear: bool, made_by: str | None) -> None:
    """Show or set the member associations that co-signed the letter MESSAGE_ID; without
    --set, also the members its text names (suggestions).

    \b
    Examples:
      tracker cosigners '<lettre-2015-04-21@ensemble-traite.example.org>'
      tracker cosigners '<lettre-2015-04-21@...>' --set aect --set "Amicale du Nid"
    """
    from .thread import commitments

    db = obj.db(create=False)
    if names or clear:
        found = _run(lambda: commitments.set_cosigners(db, obj.config, message_id, list(names),
                                                       made_by=made_by or _person()))
        click.echo(f"co-signers: {', '.join(found) or 'none'}")
        return
    suggested = _run(lambda: commitments.suggest_cosigners(db, obj.config, message_id))
    click.echo(f"co-signers: {', '.join(commitments.cosigners_of(db).get(message_id.strip().strip('<>'), [])) or 'none'}")
    click.echo(f"named in the letter: {', '.join(suggested) or 'none'}")


@click.command(name="acknowledgements")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Output format.")
@click.option("--as-of", "as_of", metavar="DATE", help="As that day ended (YYYY-MM-DD); default now.")
@click.pass_obj
def report_acknowledgements(obj, fmt: str, as_of: str | None) -> None:
    """Letters with no acknowledgement of receipt within their correspondent's
    acknowledgement_within (a date computed, not legal advice).

    \b
    Example:
      tracker report acknowledgements --format json
    """
    from .report import acknowledgements, reports

    try:
        when = reports.parse_as_of(as_of, obj.config)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--as-of") from None
    found = acknowledgements.unacknowledged(obj.db(create=False), obj.config, when)
    click.echo(acknowledgements.render(found, obj.config, fmt), nl=False)


@click.command(name="attachment-bytes", hidden=True)
@click.option("--scan", is_flag=True, help="ATTACHMENT_ID is a postal scan's id (table scans).")
@click.argument("attachment_id")
@click.pass_obj
def attachment_bytes(obj, attachment_id: str, scan: bool) -> None:
    """Write attachment ATTACHMENT_ID's bytes to stdout (the web's child: it reads the private
    store, which the web process never opens).

    \b
    Example:
      tracker attachment-bytes 'MESSAGE-ID/0' > letter.pdf
      tracker attachment-bytes --scan 3 > scan.pdf
    """
    import sqlite3
    import sys

    from .web.attachments import part_bytes

    config = obj.config
    if scan:
        published = sqlite3.connect(f"file:{config.database}?mode=ro", uri=True)
        try:
            row = published.execute("select sha256 from scans where id = ?", [attachment_id]).fetchone()
        finally:
            published.close()
        private = sqlite3.connect(f"file:{config.private_database}?mode=ro", uri=True)
        try:
            raw = private.execute("select raw from scan_files where sha256 = ?", [row[0]]).fetchone() if row else None
        finally:
            private.close()
        if raw is None:
            raise click.ClickException(f"no scan {attachment_id!r} in the private store")
        sys.stdout.buffer.write(raw[0])
        sys.stdout.buffer.flush()
        return
    published = sqlite3.connect(f"file:{config.database}?mode=ro", uri=True)
    try:
        row = published.execute("select a.sha256, m.sha256 from attachments a join messages m "
                                "on m.message_id = a.message_id where a.id = ?", [attachment_id]).fetchone()
    finally:
        published.close()
    if row is None:
        raise click.ClickException(f"no attachment {attachment_id!r}")
    private = sqlite3.connect(f"file:{config.private_database}?mode=ro", uri=True)
    try:
        raw = private.execute("select raw from raw_messages where sha256 = ?", [row[1]]).fetchone()
    finally:
        private.close()
    data = part_bytes(raw[0], row[0]) if raw else None
    if data is None:
        raise click.ClickException(f"attachment {attachment_id!r}: its message's bytes are not in the private store")
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


COMMANDS = [commitment_group, meeting, cosigners, attachment_bytes]
REPORT_ACKNOWLEDGEMENTS = report_acknowledgements
