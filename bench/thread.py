"""Threading benchmark: a full rethread of a large mailbox, and what one more message costs.

Rows are written straight into a fresh database (parsing is the import benchmark's business):
letters to twenty public bodies, some to two of them or with a copy, reminders, replies with
and without headers (citing the letter's date, its reference or its subject), automatic
acknowledgements, out-of-office replies, bounces and newsletters, over four years.

    python3 bench/thread.py                 # 100,000 messages, 200 new ones one by one
    python3 bench/thread.py --messages 20000 --new 50 --keep /tmp/bench.db

The full rethreads are measured again at the end, each in a fresh process on a copy of the
database (as `tracker rethread` and the end of a first `tracker import` run them), for their
peak memory: this process's own rows would hide it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tracker import config as config_module  # noqa: E402
from tracker import store  # noqa: E402
from tracker.thread import rethread

BODIES = [
    ("Intérieur", "interieur.gouv.fr"), ("Justice", "justice.gouv.fr"), ("Santé", "sante.gouv.fr"),
    ("Travail", "travail.gouv.fr"), ("Affaires étrangères", "diplomatie.gouv.fr"),
    ("Outre-mer", "outre-mer.gouv.fr"), ("Éducation", "education.gouv.fr"),
    ("Économie", "economie.gouv.fr"), ("Solidarités", "solidarites.gouv.fr"),
    ("Logement", "logement.gouv.fr"), ("Culture", "culture.gouv.fr"), ("Armées", "defense.gouv.fr"),
    ("Agriculture", "agriculture.gouv.fr"), ("Transports", "transports.gouv.fr"),
    ("Préfecture de police", "prefecture-police-paris.interieur.gouv.fr"),
    ("Défenseur des droits", "defenseurdesdroits.fr"), ("CNCDH", "cncdh.fr"), ("OFPRA", "ofpra.gouv.fr"),
    ("Matignon", "pm.gouv.fr"), ("Élysée", "elysee.fr"),
]
TOPICS = [
    "Demande de rendez-vous", "Protection des victimes de traite", "Hébergement d'urgence",
    "Titres de séjour des victimes", "Mineurs non accompagnés", "Formation des agents",
    "Plan national d'action", "Identification des victimes", "Indemnisation", "Accès aux droits",
]
MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
          "octobre", "novembre", "décembre"]
COALITION = "coordination@collectif.example.org"


def write_config(folder: Path) -> Path:
    lines = [
        f'database = "{folder / "bench.db"}"',
        '[coalition]\nname = "Collectif"\naddresses = ["coordination@collectif.example.org"]\n'
        'domains = ["collectif.example.org"]',
        '[deadlines]\ndefault = "2 months"\nholidays = "FR"',
    ]
    for name, domain in BODIES:
        lines.append(f'[[correspondents]]\nname = "{name}"\ndomains = ["{domain}"]')
    path = folder / "tracker.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Mailbox:
    """Synthetic rows, in date order, written with executemany."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.serial = 0
        self.clock = datetime(2022, 1, 3, 9, tzinfo=timezone.utc)
        self.messages: list[dict] = []
        self.recipients: list[tuple] = []

    def add(self, sender: str, to: list[str], cc: list[str], subject: str, body: str, *,
            direction: str, kind: str, when: datetime, in_reply_to: str | None = None,
            reports: list | None = None, original: str | None = None) -> str:
        self.serial += 1
        message_id = f"{self.serial:08d}.bench@{sender.rpartition('@')[2]}"
        self.messages.append({
            "message_id": message_id, "sha256": f"{self.serial:064x}", "conversation_id": None,
            "date": when.isoformat(timespec="seconds"), "date_original": when.isoformat(timespec="seconds"),
            "date_source": "header", "from_address": sender, "from_name": "", "subject": subject,
            "subject_normalized": subject.lower(), "direction": direction, "kind": kind,
            "in_reply_to": in_reply_to, "refs": json.dumps([in_reply_to] if in_reply_to else []),
            "body_text": body, "body_html": None, "attachment_count": 0, "size": 2000 + len(body),
            "folders": json.dumps(["Sent" if direction == "outgoing" else "INBOX"]), "headers": "{}",
            "delivery_reports": json.dumps(reports or []), "original_message_id": original,
            "is_delivery_report": int(kind == "bounce"), "message_id_synthetic": 0, "defects": "[]",
            "imported_at": when.isoformat(timespec="seconds"),
        })
        for role, people in (("to", to), ("cc", cc)):
            for position, address in enumerate(people):
                self.recipients.append((message_id, role, address, "", position))
        return message_id

    def correspondence(self, messages: int) -> None:
        """Letters and what came back until about ``messages`` rows exist."""
        rng = self.rng
        while len(self.messages) < messages:
            self.clock += timedelta(minutes=rng.randint(20, 400))
            bodies = rng.sample(BODIES, 2 if rng.random() < 0.15 else 1)
            to = [f"cabinet@{d}" for _, d in bodies]
            cc = [f"cabinet@{rng.choice(BODIES)[1]}"] if rng.random() < 0.1 else []
            reference = f"COLL-{self.clock.year}-{self.serial % 10000:04d}"
            subject = f"{rng.choice(TOPICS)} ({reference})" if rng.random() < 0.7 else rng.choice(TOPICS)
            sent = self.clock
            body = (f"N/Réf : {reference}\nObjet : {subject}\n\nMadame, Monsieur,\n"
                    + "Nous souhaitons attirer votre attention sur la situation des victimes. " * 8)
            letter = self.add(COALITION, to, cc, subject, body, direction="outgoing", kind="letter", when=sent)
            if rng.random() < 0.25:
                self.add(COALITION, to, cc, f"Relance : {subject}", body, direction="outgoing",
                         kind="letter", when=sent + timedelta(days=40))
            for _, domain in bodies:
                sender = f"secretariat@{domain}"
                roll = rng.random()
                if roll < 0.2:
                    self.add(sender, [COALITION], [], f"Accusé de réception : {subject}",
                             "Votre message a bien été reçu.", direction="incoming",
                             kind="acknowledgement", when=sent + timedelta(hours=1), in_reply_to=letter)
                if 0.2 <= roll < 0.3:
                    self.add(sender, [COALITION], [], f"Réponse automatique : {subject}",
                             "Je suis absent du bureau.", direction="incoming", kind="auto_reply",
                             when=sent + timedelta(minutes=5))
                if roll < 0.55:
                    answered = sent + timedelta(days=rng.randint(5, 90))
                    cited = f"{sent.day} {MONTHS[sent.month - 1]} {sent.year}"
                    text = (f"Madame, Monsieur,\nEn réponse à votre courrier du {cited} (V/Réf : {reference}),\n"
                            + "je vous informe que vos observations ont retenu toute notre attention. " * 6)
                    headers = rng.random() < 0.6
                    self.add(sender, [COALITION], [], f"RE : {subject}" if headers or rng.random() < 0.5
                             else f"Votre courrier du {cited}", text, direction="incoming", kind="reply",
                             when=answered, in_reply_to=letter if headers else None)
                elif roll > 0.98:
                    self.add("mailer-daemon@collectif.example.org", [COALITION], [],
                             "Undelivered Mail Returned to Sender", "", direction="incoming", kind="bounce",
                             when=sent + timedelta(minutes=2),
                             reports=[{"recipient": f"cabinet@{domain}", "action": "failed", "status": "5.1.1"}],
                             original=letter)
            if rng.random() < 0.05:
                self.add("lettre@newsletter.example.net", [COALITION], [], "La lettre d'information",
                         "Actualités.", direction="incoming", kind="other", when=self.clock)

    def write(self, db) -> list[str]:
        rows, self.messages = self.messages, []
        recipients, self.recipients = self.recipients, []
        if rows:
            columns = list(rows[0])
            with db.atomic():
                db.conn.executemany(
                    f"insert into messages ({', '.join(columns)}) values ({', '.join('?' * len(columns))})",
                    [[row[c] for c in columns] for row in rows],
                )
                db.conn.executemany(
                    "insert into recipients (message_id, role, address, name, position) values (?, ?, ?, ?, ?)",
                    recipients,
                )
        return [row["message_id"] for row in rows]


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM where there is one: Linux keeps ru_maxrss
    across exec, so a child of this (large) process would report the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)


def rethread_alone(path: Path) -> int:
    """Child process: a full rethread of the database at ``path`` (with this benchmark's
    config), then one line with its time and the process's peak memory."""
    config = config_module.load(write_config(path.parent))
    db = store.open_db(config.database)
    before = peak_rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    rethread(db, config, None)
    print(f"{time.perf_counter() - started:.2f} s ({time.process_time() - cpu:.2f} s CPU), peak RSS "
          f"{peak_rss_mb():.0f} MB ({before:.0f} MB before)")
    return 0


def measure_alone(source: Path, label: str) -> None:
    folder = Path(tempfile.mkdtemp(prefix="tracker-bench-thread-alone-"))
    try:
        shutil.copyfile(source, folder / "bench.db")
        result = subprocess.run(
            [sys.executable, __file__, "--rethread-alone", str(folder / "bench.db")],
            capture_output=True, text=True, check=False,
        )
        print(f"{label} in a fresh process: {result.stdout.strip() or result.stderr.strip()[-300:]}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=200, help="messages added one by one afterwards")
    parser.add_argument("--keep", type=Path, help="keep the database at this path")
    parser.add_argument("--rethread-alone", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rethread_alone:
        return rethread_alone(args.rethread_alone)

    folder = Path(tempfile.mkdtemp(prefix="tracker-bench-thread-"))
    config = config_module.load(write_config(folder))
    db = store.open_db(config.database)
    mailbox = Mailbox()
    started = time.perf_counter()
    mailbox.correspondence(args.messages)
    ids = mailbox.write(db)
    print(f"filled {len(ids):,} messages in {time.perf_counter() - started:.1f} s")
    pristine = folder / "pristine.db"  # as an import leaves it, for the fresh-process measure
    db.conn.execute(f"vacuum into '{pristine}'")

    started = time.perf_counter()
    rethread(db, config, None)
    cold = time.perf_counter() - started
    threads = db.execute("select count(*) from threads").fetchone()[0]
    unmatched = db.execute("select count(*) from unmatched").fetchone()[0]
    print(f"first full rethread of {len(ids):,} messages (reads every body for evidence): {cold:.2f} s "
          f"({threads:,} threads, {unmatched:,} to triage)")
    started, cpu = time.perf_counter(), time.process_time()
    rethread(db, config, None)
    print(f"full rethread of {len(ids):,} messages (tracker rethread, a config change): "
          f"{time.perf_counter() - started:.2f} s ({time.process_time() - cpu:.2f} s CPU)  goal < 10 s")
    started = time.perf_counter()
    rethread(db, config, None, reclassify=True)
    print(f"  the same re-classifying every row (classify.classify_row): "
          f"{time.perf_counter() - started:.2f} s")

    costs = []
    added = 0
    while added < args.new:
        mailbox.correspondence(len(mailbox.messages) + 1)  # one letter and what came back
        new_ids = mailbox.write(db)
        for message_id in new_ids:
            started = time.perf_counter()
            rethread(db, config, [message_id])
            costs.append(time.perf_counter() - started)
        added += len(new_ids)
    costs.sort()
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"one new message at a time ({len(costs)} messages): median {statistics.median(costs) * 1000:.1f} ms, "
          f"p90 {costs[int(len(costs) * 0.9)] * 1000:.1f} ms, max {costs[-1] * 1000:.1f} ms")

    batch_ids = []
    while len(batch_ids) < 100:
        mailbox.correspondence(len(mailbox.messages) + 1)
        batch_ids += mailbox.write(db)
    started = time.perf_counter()
    rethread(db, config, batch_ids)
    print(f"a sync of {len(batch_ids)} new messages: {(time.perf_counter() - started) * 1000:.0f} ms")
    threaded = folder / "threaded.db"
    db.conn.execute(f"vacuum into '{threaded}'")
    if args.keep:
        shutil.copyfile(threaded, args.keep)
    db.close()
    measure_alone(pristine, f"first full rethread of {len(ids):,} messages")
    measure_alone(threaded, "full rethread (a config change)")
    shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
