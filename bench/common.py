"""Shared helpers for the benchmark harness: mailboxes, timing, memory, machine, tables.

Every measured command runs as its own process group, so its peak memory is the
sum over the whole process tree (the writer and its parser workers) and not
just the parent's. Memory is read as PSS (pages shared by forked workers are
counted once, split between them) every 50 ms from /proc, and the largest
single-process RSS is read from the kernel when the command ends (wait4).
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import platform
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass, field
from email.header import Header
from email.utils import format_datetime
from pathlib import Path
from typing import Callable, Iterator, Sequence

ROOT = Path(__file__).resolve().parent.parent

COALITION = "collectif.example.org"
COORDINATION = f"coordination@{COALITION}"

# (name, short name, domain, secretariat address)
CORRESPONDENTS = [
    ("Ministère de l'Intérieur", "Intérieur", "interieur.gouv.fr", "secretariat.cabinet"),
    ("Ministère de la Justice", "Justice", "justice.gouv.fr", "cabinet"),
    ("Ministère de la Santé", "Santé", "sante.gouv.fr", "courrier.cabinet"),
    ("Préfecture de police", "Préfecture de police", "prefecture-police-paris.interieur.gouv.fr", "secretariat"),
    ("Défenseur des droits", "Défenseur", "defenseurdesdroits.fr", "saisine"),
    ("Ministère du Travail", "Travail", "travail.gouv.fr", "cabinet.ministre"),
]


# ---------------------------------------------------------------- measuring


@dataclass
class Measurement:
    """One command's wall time and memory."""

    seconds: float
    peak_tree_mb: float  # the largest sum of PSS over the process tree, sampled every 50 ms
    max_rss_mb: float  # the largest RSS of any one process of the tree (from wait4)
    returncode: int
    stdout: str = ""
    stderr: str = ""
    # user + system CPU of the process and the children it waited for (parser workers):
    # unlike wall time, hardly changed by other work on the machine
    cpu_seconds: float = 0.0

    def rate(self, count: int) -> float:
        return count / self.seconds if self.seconds > 0 else float("inf")


def _group_pss_kb(pgid: int) -> int:
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
            # fields after the ")" that closes the command name: state ppid pgrp ...
            fields = stat[stat.rindex(b")") + 2 :].split()
            if int(fields[2]) != pgid:
                continue
            with open(f"/proc/{entry}/smaps_rollup", "rb") as handle:
                for line in handle:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1])
                        break
        except (OSError, ValueError, IndexError):
            continue  # the process ended while we looked
    return total


def run_measured(
    cmd: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float | None = None,
    check: bool = True,
) -> Measurement:
    """Run ``cmd`` in its own process group; return its wall time and peak memory."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd),
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], _group_pss_kb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out_chunks: list[bytes] = []
    err_chunks: list[bytes] = []
    readers = [
        threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()), daemon=True),
        threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True),
    ]
    for reader in readers:
        reader.start()
    deadline = None if timeout is None else started + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if deadline is not None and time.perf_counter() > deadline:
            os.killpg(proc.pid, 9)
        time.sleep(0.005)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    sampler.join()
    for reader in readers:
        reader.join()
    result = Measurement(
        seconds=seconds,
        peak_tree_mb=peak[0] / 1024,
        # the hiwater mark includes the moments between fork and exec, when the child still
        # shares this process's pages: meaningful only when this process is small
        max_rss_mb=usage.ru_maxrss / 1024,
        returncode=proc.returncode,
        stdout=b"".join(out_chunks).decode("utf-8", "replace"),
        stderr=b"".join(err_chunks).decode("utf-8", "replace"),
        cpu_seconds=usage.ru_utime + usage.ru_stime,
    )
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, cmd))} exited {result.returncode}: {result.stderr.strip()[-2000:]}"
        )
    return result


def python_cmd(code: str) -> list[str]:
    """A command that runs ``code`` in a fresh interpreter with the repository importable."""
    return [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); {code}"]


# ---------------------------------------------------------------- the machine


def machine() -> dict[str, str]:
    """nproc, memory, CPU model, kernel and Python of this machine."""
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "memory": memory,
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }


def machine_line() -> str:
    m = machine()
    return (
        f"{m['nproc']} cores ({m['cpu']}), {m['memory']} RAM, Linux {m['kernel']}, "
        f"Python {m['python']}, load average {m['load']}"
    )


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else "?"


def versions() -> dict[str, str]:
    """Versions of tracker, its parser and store, and of every peer measured."""
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str] = {}
    for package in ("tracker", "flanker", "sqlite-utils", "datasette"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    found["SQLite"] = sqlite3.sqlite_version
    found["notmuch"] = _version(["notmuch", "--version"])
    found["mbsync"] = _version(["mbsync", "--version"])
    found["dovecot"] = _version(["dovecot", "--version"])
    return found


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (also readable as plain text)."""
    cells = [[str(c) for c in headers]] + [[_cell(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# ---------------------------------------------------------------- mailboxes


# the config that matches the last mailbox build_mailbox made (None: synth_maildir's)
CONFIG_TEMPLATE: Path | None = None


def write_tracker_config(folder: Path, database: Path) -> Path:
    """A tracker.toml for the coalition and correspondents of the mailbox being measured.

    For the demo generator's mailboxes, its own tracker.toml (addresses must match for
    letters and replies to be recognised); for synth_maildir's, the bench coalition.
    """
    path = folder / "tracker.toml"
    if CONFIG_TEMPLATE is not None:
        import re

        text = CONFIG_TEMPLATE.read_text(encoding="utf-8")
        text = re.sub(r"(?m)^database\s*=.*$", f'database = "{database}"', text, count=1)
        path.write_text(text, encoding="utf-8")
        return path
    lines = [
        f'database = "{database}"',
        'timezone = "Europe/Paris"',
        "",
        "[coalition]",
        'name = "Collectif bench"',
        f'addresses = ["{COORDINATION}"]',
        f'domains = ["{COALITION}"]',
        "",
        "[deadlines]",
        'default = "2 months"',
    ]
    for name, short, domain, local in CORRESPONDENTS:
        lines += [
            "",
            "[[correspondents]]",
            f'name = "{name}"',
            f'short_name = "{short}"',
            f'addresses = ["{local}@{domain}"]',
            f'domains = ["{domain}"]',
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def settle(maildir: Path) -> None:
    """Write a freshly generated mailbox out to disk and read it once: the tool measured first
    would otherwise share the disk with the kernel's write-back and the next one would not."""
    os.sync()
    for root, _dirs, files in os.walk(maildir):
        for name in files:
            with open(os.path.join(root, name), "rb") as handle:
                while handle.read(1 << 20):
                    pass


def count_messages(maildir: Path) -> int:
    """Messages in a Maildir and its Maildir++ sub-folders."""
    total = 0
    for folder in [maildir] + [c for c in maildir.iterdir() if c.name.startswith(".")]:
        for sub in ("cur", "new"):
            if (folder / sub).is_dir():
                total += sum(1 for e in os.scandir(folder / sub) if e.is_file())
    return total


def build_mailbox(out: Path, messages: int, *, seed: int = 1) -> tuple[Path, str]:
    """A Maildir of ``messages`` realistic messages; returns it and which generator made it.

    The demo generator's ``generate_bulk`` is used when it exists (it is the
    project's reference for realistic mail); otherwise the small one here.
    """
    try:
        from tracker.demo.bulk import generate_bulk
    except ImportError:
        generate_bulk = None
    global CONFIG_TEMPLATE
    if out.exists():
        shutil.rmtree(out)
    demo_config = ROOT / "tracker" / "demo" / "tracker.toml"
    CONFIG_TEMPLATE = demo_config if generate_bulk is not None and demo_config.exists() else None
    if generate_bulk is not None:
        result = generate_bulk(out, messages, seed=seed)
        maildir = Path(result) if isinstance(result, (str, Path)) and Path(result).is_dir() else out
        if not any((maildir / s).is_dir() for s in ("cur", "new")):
            # generate_bulk may write the Maildir one level down
            candidates = [p for p in maildir.rglob("cur") if p.is_dir()]
            if candidates:
                maildir = min(candidates, key=lambda p: len(p.parts)).parent
        return maildir, "tracker.demo.generate.generate_bulk"
    synth_maildir(out, messages, seed=seed)
    return out, "bench.common.synth_maildir"


# A small generator, used until (or where) tracker.demo's generate_bulk is missing.

_WORDS = (
    "le la les des une un et à au aux pour par sur dans avec sans sous entre vers chez "
    "situation personnes demande réponse ministère cabinet préfecture rétention accès droits "
    "santé hébergement dossier saisine courrier délai mesures protection mineurs étrangers "
    "administration collectif association bénévoles procédure décision recours tribunal "
    "signalement conditions accueil régularisation titre séjour famille enfants été déjà "
    "nécessaire urgence sécurité sociale préoccupation inquiétude observation rapport visite "
    "centre lieu privation liberté garanties respect dignité élèves écoles hôpital médecin "
    "interprète avocat juridique audience permanence question écrite réunion rendez-vous "
    "français œuvre cœur façon reçu complément élément références numéro vœux année"
).split()

_SUBJECTS = [
    "Situation au centre de rétention de {place}",
    "Demande de rendez-vous : accès aux droits à {place}",
    "Saisine concernant l'hébergement d'urgence à {place}",
    "Conditions d'accueil des mineurs non accompagnés ({place})",
    "Observations sur le projet de décret relatif au séjour",
    "Accès aux soins des personnes étrangères à {place}",
    "Signalement : délais de rendez-vous en préfecture de {place}",
    "Lettre ouverte sur la protection de l'enfance",
]
_PLACES = ["Lyon", "Marseille", "Lille", "Rennes", "Toulouse", "Nantes", "Strasbourg", "Besançon", "Évry", "Créteil"]
_NAMES = ["Amélie Durand", "Joël Lefèvre", "Hélène Moreau", "François Girard", "Zoé Bérenger", "Noël Périer"]


def _text(rng: random.Random, paragraphs: int) -> str:
    out = []
    for _ in range(paragraphs):
        sentences = []
        for _ in range(rng.randint(2, 6)):
            words = rng.choices(_WORDS, k=rng.randint(8, 24))
            sentences.append(" ".join(words).capitalize() + ".")
        out.append(" ".join(sentences))
    return "Madame, Monsieur,\n\n" + "\n\n".join(out) + "\n\nBien cordialement,\n"


def _pdf(rng: random.Random, size: int, title: str) -> bytes:
    """A small valid PDF letter (the demo generator's), padded to about ``size`` bytes."""
    from tracker.demo.mime import make_pdf

    return make_pdf(title, title, padding=zlib.compress(rng.randbytes(max(0, size - 900)), 0))


def _encode_body(rng: random.Random, text: str, subtype: str = "plain") -> tuple[str, bytes]:
    """Headers and encoded bytes of a text part, in one of the charsets mail really uses."""
    choice = rng.random()
    if choice < 0.45:
        charset, cte = "utf-8", "8bit"
    elif choice < 0.65:
        charset, cte = "utf-8", "quoted-printable"
    elif choice < 0.8:
        charset, cte = "iso-8859-1", "quoted-printable"
    elif choice < 0.92:
        charset, cte = "windows-1252", "8bit"
    else:
        charset, cte = "utf-8", "base64"
    data = text.replace("\n", "\r\n").encode(charset, "replace")
    if cte == "quoted-printable":
        import quopri

        data = quopri.encodestring(data)
    elif cte == "base64":
        data = base64.encodebytes(data)
    headers = f"Content-Type: text/{subtype}; charset=\"{charset}\"\r\nContent-Transfer-Encoding: {cte}\r\n"
    return headers, data


def _header(value: str, rng: random.Random) -> str:
    if value.isascii():
        return value
    charset = "utf-8"
    if rng.random() < 0.2:
        try:
            value.encode("iso-8859-1")
            charset = "iso-8859-1"
        except UnicodeEncodeError:
            pass
    return Header(value, charset).encode()


def _address(name: str, address: str, rng: random.Random) -> str:
    return f"{_header(name, rng)} <{address}>" if name else address


def _message(
    rng: random.Random,
    *,
    message_id: str,
    date: dt.datetime,
    sender: str,
    to: list[str],
    cc: list[str],
    subject: str,
    body: str,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    extra_headers: str = "",
    attachment: tuple[str, bytes] | None = None,
    html: bool = False,
) -> bytes:
    head = (
        f"Return-Path: <{sender.rsplit('<', 1)[-1].rstrip('>')}>\r\n"
        f"Received: from mx.{COALITION} (mx.{COALITION} [192.0.2.{rng.randint(1, 254)}])\r\n"
        f"\tby imap.{COALITION} with LMTP id {rng.getrandbits(48):x}; {format_datetime(date)}\r\n"
        f"Message-ID: <{message_id}>\r\n"
        f"Date: {format_datetime(date)}\r\n"
        f"From: {sender}\r\n"
        f"To: {', '.join(to)}\r\n"
        + (f"Cc: {', '.join(cc)}\r\n" if cc else "")
        + f"Subject: {_header(subject, rng)}\r\n"
        + (f"In-Reply-To: <{in_reply_to}>\r\n" if in_reply_to else "")
        + (f"References: {' '.join(f'<{r}>' for r in references)}\r\n" if references else "")
        + "MIME-Version: 1.0\r\n"
        + extra_headers
    )
    # the body: text/plain, or multipart/alternative with an HTML twin
    text_headers, text_data = _encode_body(rng, body)
    part_headers, part_data = text_headers, text_data
    if html:
        markup = "<html><body>" + "".join(f"<p>{p}</p>" for p in body.split("\n\n")) + "</body></html>"
        html_headers, html_data = _encode_body(rng, markup, "html")
        alt = f"=_alt_{rng.getrandbits(64):016x}"
        part_headers = f"Content-Type: multipart/alternative; boundary=\"{alt}\"\r\n"
        part_data = (
            f"--{alt}\r\n{text_headers}\r\n".encode() + text_data
            + f"\r\n--{alt}\r\n{html_headers}\r\n".encode() + html_data + f"\r\n--{alt}--\r\n".encode()
        )
    if attachment is None:
        return (head + part_headers + "\r\n").encode("ascii") + part_data
    filename, data = attachment
    mixed = f"=_bench_{rng.getrandbits(64):016x}"
    return (
        (head + f"Content-Type: multipart/mixed; boundary=\"{mixed}\"\r\n\r\n").encode("ascii")
        + b"This is a multi-part message in MIME format.\r\n"
        + f"--{mixed}\r\n{part_headers}\r\n".encode() + part_data
        + f"\r\n--{mixed}\r\n".encode()
        + f"Content-Type: application/pdf; name=\"{filename}\"\r\n"
        f"Content-Disposition: attachment; filename=\"{filename}\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n".encode()
        + base64.encodebytes(data).replace(b"\n", b"\r\n")
        + f"\r\n--{mixed}--\r\n".encode()
    )


def _attachment(rng: random.Random, title: str) -> tuple[str, bytes] | None:
    roll = rng.random()
    if roll < 0.006:
        size = rng.randint(1_000_000, 4_000_000)  # a scanned letter
    elif roll < 0.15:
        size = rng.randint(20_000, 250_000)
    else:
        return None
    return f"courrier-{rng.randint(1000, 9999)}.pdf", _pdf(rng, size, title)


def synth_messages(messages: int, *, seed: int = 1) -> Iterator[tuple[str, bytes]]:
    """``messages`` (folder, raw bytes) pairs: letters, replies, auto-replies, other mail."""
    rng = random.Random(seed)
    start = dt.datetime(2024, 1, 8, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    made = 0
    n = 0
    while made < messages:
        out: list[tuple[str, bytes]] = []
        n += 1
        when = start + dt.timedelta(minutes=rng.randint(0, 60 * 24 * 700))
        roll = rng.random()
        if roll < 0.55:
            # other mail: partners, newsletters, members (most of a real mailbox)
            name = rng.choice(_NAMES)
            local = name.split()[0].lower().encode("ascii", "ignore").decode() or "contact"
            sender = _address(name, f"{local}.{rng.randint(1, 500)}@association-{rng.randint(1, 80)}.fr", rng)
            subject = rng.choice(["Compte rendu de la réunion", "Invitation", "Lettre d'information", "Re: permanence juridique", "Documents"])
            out.append(("INBOX", _message(
                rng, message_id=f"{n}.{rng.getrandbits(40):x}@association.fr", date=when, sender=sender,
                to=[COORDINATION], cc=[], subject=subject, body=_text(rng, rng.randint(1, 6)),
                attachment=_attachment(rng, subject), html=rng.random() < 0.5,
            )))
            made += 1
            yield out[0]
            continue
        # a letter to one or two correspondents, and what comes back
        targets = rng.sample(CORRESPONDENTS, rng.choice([1, 1, 1, 2]))
        subject = rng.choice(_SUBJECTS).format(place=rng.choice(_PLACES))
        letter_id = f"lettre.{n}.{rng.getrandbits(40):x}@{COALITION}"
        to = [_address(t[0], f"{t[3]}@{t[2]}", rng) for t in targets]
        out.append(("Sent", _message(
            rng, message_id=letter_id, date=when, sender=_address("Collectif bench", COORDINATION, rng),
            to=to, cc=[f"bureau@{COALITION}"] if rng.random() < 0.3 else [], subject=subject,
            body=_text(rng, rng.randint(2, 8)), attachment=_attachment(rng, subject),
        )))
        for name, short, domain, local in targets:
            answer_at = when + dt.timedelta(days=rng.randint(1, 90), minutes=rng.randint(0, 600))
            fate = rng.random()
            sender = _address(f"Cabinet – {short}", f"{local}@{domain}", rng)
            if fate < 0.2:
                out.append(("INBOX", _message(
                    rng, message_id=f"auto.{n}.{rng.getrandbits(40):x}@{domain}",
                    date=when + dt.timedelta(minutes=2), sender=sender, to=[COORDINATION], cc=[],
                    subject=f"Réponse automatique : {subject}", body="Je suis absent(e) jusqu'au lundi.\n",
                    in_reply_to=letter_id, extra_headers="Auto-Submitted: auto-replied\r\n",
                )))
            if fate < 0.55:
                threaded = rng.random() < 0.7
                out.append(("INBOX", _message(
                    rng, message_id=f"rep.{n}.{rng.getrandbits(40):x}@{domain}", date=answer_at, sender=sender,
                    to=[COORDINATION], cc=[], subject=f"RE: {subject}", body=_text(rng, rng.randint(1, 5)),
                    in_reply_to=letter_id if threaded else None, references=[letter_id] if threaded else None,
                    attachment=_attachment(rng, subject), html=rng.random() < 0.4,
                )))
            elif fate < 0.6:
                out.append(("INBOX", _message(
                    rng, message_id=f"ar.{n}.{rng.getrandbits(40):x}@{domain}", date=when + dt.timedelta(hours=3),
                    sender=sender, to=[COORDINATION], cc=[], subject=f"Accusé de réception : {subject}",
                    body="Nous accusons réception de votre courrier.\n", in_reply_to=letter_id,
                )))
        out = out[: messages - made]
        made += len(out)
        yield from out


def synth_maildir(out: Path, messages: int, *, seed: int = 1) -> Path:
    """Write ``messages`` synthetic messages as a Maildir (INBOX and .Sent)."""
    for folder in (out, out / ".Sent"):
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
    base = 1_700_000_000
    for index, (folder, raw) in enumerate(synth_messages(messages, seed=seed)):
        target = out if folder == "INBOX" else out / ".Sent"
        (target / "cur" / f"{base + index}.M{index}P{seed}.bench:2,S").write_bytes(raw)
    return out


# ---------------------------------------------------------------- peers


def notmuch_env(maildir: Path, workdir: Path) -> dict[str, str]:
    """An environment whose NOTMUCH_CONFIG indexes ``maildir`` into a database under ``workdir``."""
    database = workdir / "notmuch-db"
    if database.exists():
        shutil.rmtree(database)
    database.mkdir(parents=True)
    config = workdir / "notmuch-config"
    config.write_text(
        "[database]\n"
        f"path={database}\n"
        f"mail_root={maildir}\n"
        "[user]\nname=Bench\n"
        f"primary_email={COORDINATION}\n"
        "[new]\ntags=unread;inbox;\nignore=\n"
        "[search]\nexclude_tags=deleted;spam;\n"
        "[maildir]\nsynchronize_flags=true\n",
        encoding="utf-8",
    )
    env = dict(os.environ)
    env["NOTMUCH_CONFIG"] = str(config)
    return env


def measure_notmuch(maildir: Path, workdir: Path) -> Measurement:
    """``notmuch new`` on a fresh notmuch database of ``maildir``."""
    return run_measured(["notmuch", "new", "--quiet"], env=notmuch_env(maildir, workdir))


def measure_parse_only(maildir: Path) -> tuple[Measurement, int]:
    """flanker alone, one process, over every file of ``maildir``; returns the count parsed."""
    code = (
        "from bench.common import parse_only; import sys; "
        f"print(parse_only({str(maildir)!r}))"
    )
    result = run_measured(python_cmd(code))
    return result, int(result.stdout.strip().splitlines()[-1])


def parse_only(maildir: str) -> int:
    """Parse every message file under ``maildir`` with flanker (headers and every part's body)."""
    from flanker import mime

    count = 0
    for root, _dirs, files in os.walk(maildir):
        if os.path.basename(root) not in ("cur", "new"):
            continue
        for name in files:
            with open(os.path.join(root, name), "rb") as handle:
                msg = mime.from_string(handle.read())
            for part in msg.walk(with_self=True):
                if part.content_type.is_singlepart():
                    part.body  # noqa: B018 - decoding the body is part of parsing
            count += 1
    return count


def measure_import(maildir: Path, workdir: Path, *, workers: int | None = None) -> Measurement:
    """``tracker import`` of ``maildir`` into a fresh database under ``workdir``."""
    database = workdir / "tracker.db"
    for name in (database, database.with_name("tracker-private.db")):  # and its private store
        for suffix in ("", "-wal", "-shm"):
            Path(f"{name}{suffix}").unlink(missing_ok=True)
    config = write_tracker_config(workdir, database)
    cmd = python_cmd("from tracker.cli import main; main()")
    cmd += ["--config", str(config), "import", "--quiet", str(maildir)]
    if workers is not None:
        cmd.insert(-1, f"--workers={workers}")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return run_measured(cmd, env=env)


def scratch(prefix: str = "tracker-bench-") -> Path:
    """A scratch folder for one benchmark run (removed by the caller)."""
    return Path(tempfile.mkdtemp(prefix=prefix))


@dataclass
class Row:
    """One line of a results table."""

    what: str
    values: dict[str, object] = field(default_factory=dict)


def now_utc() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


# ---------------------------------------------------------------- where the time goes

# (label, markers): a CPU sample goes to the first label one of whose markers is in its stack
PROFILE_CATEGORIES = [
    ("PDF text extraction (pypdf)", ("pypdf/",)),
    ("flanker MIME scanner (walking the parts)", ("flanker/mime/message/scanner.py",)),
    ("flanker address parser (ply)", ("flanker/addresslib", "ply/")),
    ("flanker other (headers, bodies, charsets)", ("flanker/",)),
    ("classify (parser workers)", ("tracker/parse/classify.py",)),
    ("matching evidence (parser workers)", ("_evidence (tracker/store/ingest.py",)),
    ("tracker.parse own code (MIME tokens, charsets, attachments, hashes)", ("tracker/parse/",)),
    ("rethread (conversations, threads, statuses)", ("tracker/thread/",)),
    ("store.write_batch and commits (SQLite, FTS indexing)", ("write_batch", "Database.atomic")),
    ("pipes between processes (pickling, and waits py-spy counts as busy)", ("multiprocessing/connection.py", "pickle",
                                                       "multiprocessing/queues.py")),
    ("reading files", ("tracker/sources/local.py",)),
    ("start-up (imports)", ("_find_and_load",)),
]


def profile_import(maildir: Path, workdir: Path, *, rate: int = 100) -> str | None:
    """Where `tracker import` spends its CPU, from py-spy samples of the writer and its workers.

    Returns a Markdown table, or None when py-spy is not installed (``pip install py-spy``).
    """
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        return None
    database = workdir / "tracker.db"
    for name in (database, database.with_name("tracker-private.db")):  # and its private store
        for suffix in ("", "-wal", "-shm"):
            Path(f"{name}{suffix}").unlink(missing_ok=True)
    config = write_tracker_config(workdir, database)
    raw = workdir / "py-spy.txt"
    cmd = [py_spy, "record", "--subprocesses", "--rate", str(rate), "--format", "raw", "-o", str(raw), "--"]
    cmd += python_cmd("from tracker.cli import main; main()")
    cmd += ["--config", str(config), "import", "--quiet", str(maildir)]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    run_measured(cmd, env=env)
    totals: dict[str, int] = {}
    writer = workers = 0
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        if stack.count("process ") >= 2:
            workers += samples
        else:
            writer += samples
        label = next((name for name, markers in PROFILE_CATEGORIES if any(m in stack for m in markers)), "other")
        totals[label] = totals.get(label, 0) + samples
    everything = sum(totals.values()) or 1
    rows = [[label, f"{count / everything * 100:.1f}%"]
            for label, count in sorted(totals.items(), key=lambda kv: -kv[1])]
    rows.append(["(writer process / parser workers)",
                 f"{writer / everything * 100:.0f}% / {workers / everything * 100:.0f}%"])
    return table(["where the CPU goes (py-spy samples of all processes)", "share"], rows)
