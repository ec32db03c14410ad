"""Load and validate ``config/tracker.toml``.

Every error names the file, the key and what to do. Secrets never live in the
file: only ``password_env`` (an environment variable's name) or
``password_file`` (a path) may point at them.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_PATH = "config/tracker.toml"


class ConfigError(Exception):
    """A configuration problem a user can fix; the message says where and how."""


@dataclass
class Deadline:
    """A delay such as "2 months", "30 days" or "15 working days"."""

    count: int
    unit: str  # months | days | working_days

    def __str__(self) -> str:
        return f"{self.count} {self.unit.replace('_', ' ')}"


@dataclass
class Correspondent:
    """A public body the coalition writes to."""

    name: str
    short_name: str
    addresses: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    deadline: Deadline | None = None
    # the delay within which it owes an acknowledgement of receipt (None: not followed)
    acknowledgement_within: Deadline | None = None
    # the bodies it took over (renamed, merged or split), oldest reshuffle first
    formerly: list["Former"] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return slugify(self.short_name or self.name)


@dataclass
class Former:
    """A body that no longer exists under this name: from ``since`` its successor answers for
    it. Its own addresses and domains (still resolved, to the successor) are kept to tell which
    name a letter was written to."""

    name: str
    short_name: str
    since: date
    addresses: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return slugify(self.short_name or self.name)


@dataclass
class Member:
    """A member association of the coalition, which may co-sign letters; ``aliases`` are
    other ways its name is written (an acronym), looked for in letters' text."""

    name: str
    short_name: str
    aliases: list[str] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return slugify(self.short_name or self.name)


@dataclass
class Mailbox:
    host: str
    port: int = 993
    security: str = "ssl"
    username: str = ""
    password_env: str | None = None
    password_file: str | None = None
    oauth2_token_command: str | None = None
    ca_file: str | None = None
    folders: list[str] | None = None
    max_message_size: int = 50 * 1024 * 1024
    batch_size: int = 200
    timeout: float = 60.0

    def password(self) -> str:
        return read_secret(self.password_env, self.password_file, "mailbox")


@dataclass
class Smtp:
    host: str
    port: int = 587
    security: str = "starttls"
    username: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    ca_file: str | None = None
    timeout: float = 60.0

    def password(self) -> str | None:
        if not (self.password_env or self.password_file):
            return None
        return read_secret(self.password_env, self.password_file, "smtp")


@dataclass
class Digest:
    to: list[str] = field(default_factory=list)
    from_: str = ""
    base_url: str = "http://127.0.0.1:8001"
    weekday: str = "monday"
    due_soon_days: int = 14
    group: str = ""  # "correspondent": every list grouped by ministry


@dataclass
class Auth:
    """Datasette authentication: password hashes live here, never passwords. Every account may
    read (a member); ``coordinators`` may also act at the desk; ``admins`` may also act and
    write SQL (Datasette's SQL editor and ``?sql=``)."""

    password_hashes: dict[str, str] = field(default_factory=dict)
    admins: list[str] = field(default_factory=list)
    coordinators: list[str] = field(default_factory=list)

    def may_act(self, user: str | None) -> bool:
        """Whether ``user`` may act at the desk: a coordinator or an admin; without accounts
        (loopback), the one local person."""
        if not self.password_hashes:
            return True
        return user is not None and (user in self.coordinators or user in self.admins)


@dataclass
class Ocr:
    """Reading scanned attachments (``tracker ocr``, and the end of ``tracker sync`` for at
    most ``budget_seconds``): Tesseract's languages and the caps of one document."""

    budget_seconds: float = 120.0
    languages: str = "fra+eng"
    max_pages: int = 20
    page_seconds: float = 60.0
    memory_mb: int = 1024
    dpi: int = 300


@dataclass
class Config:
    path: Path
    database: Path
    # the raw bytes and the bookkeeping: never opened by the web process (default: beside database)
    private_database: Path | None = None
    language: str = "fr"
    timezone: str = "Europe/Paris"
    coalition_name: str = ""
    coalition_addresses: list[str] = field(default_factory=list)
    coalition_domains: list[str] = field(default_factory=list)
    mailbox: Mailbox | None = None
    default_deadline: Deadline = field(default_factory=lambda: Deadline(2, "months"))
    holidays: str = "FR"
    correspondents: list[Correspondent] = field(default_factory=list)
    digest: Digest = field(default_factory=Digest)
    smtp: Smtp | None = None
    auth: Auth = field(default_factory=Auth)
    ocr: Ocr = field(default_factory=Ocr)
    base_url: str = "/"
    members: list[Member] = field(default_factory=list)
    # the secret of the calendar feed's URL (/-/calendar/TOKEN.ics), from calendar.token_env/_file
    calendar_token_env: str | None = None
    calendar_token_file: str | None = None
    # judge every status, report, page and digest as of the end of this day instead of now
    # (the demo sets it to its last day; unset in real use)
    as_of: date | None = None

    def now(self) -> datetime:
        """The moment statuses are judged at: the end of ``as_of`` (local time) if set, else
        now; an aware UTC datetime."""
        if self.as_of is None:
            return datetime.now(timezone.utc)
        return datetime.combine(self.as_of, time(23, 59, 59), tzinfo=self.tz).astimezone(timezone.utc)

    def calendar_token(self) -> str | None:
        """The calendar feed's secret, or None when no [calendar] token is configured."""
        if not (self.calendar_token_env or self.calendar_token_file):
            return None
        return read_secret(self.calendar_token_env, self.calendar_token_file, "calendar")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def deadline_for(self, correspondent: Correspondent) -> Deadline:
        return correspondent.deadline or self.default_deadline


def private_path(database: Path) -> Path:
    """Where the private store lives by default: ``tracker-private.db`` beside ``tracker.db``."""
    return database.with_name(f"{database.stem}-private{database.suffix or '.db'}")


SCHEMA: dict[str, Any] = {
    "database": str,
    "private_database": str,
    "language": str,
    "timezone": str,
    "as_of": (str, date),
    "base_url": str,
    "coalition": {"name": str, "addresses": list, "domains": list},
    "mailbox": {
        "host": str,
        "port": int,
        "security": str,
        "username": str,
        "password_env": str,
        "password_file": str,
        "oauth2_token_command": str,
        "ca_file": str,
        "folders": list,
        "max_message_size": int,
        "batch_size": int,
        "timeout": (int, float),
    },
    "deadlines": {"default": str, "holidays": str},
    "correspondents": [
        {"name": str, "short_name": str, "addresses": list, "domains": list, "deadline": str,
         "acknowledgement_within": str, "successor": (str, list), "since": (str, date)}
    ],
    "members": [{"name": str, "short_name": str, "aliases": list}],
    "calendar": {"token_env": str, "token_file": str},
    "digest": {"to": list, "from": str, "base_url": str, "weekday": str, "due_soon_days": int, "group": str},
    "smtp": {
        "host": str,
        "port": int,
        "security": str,
        "username": str,
        "password_env": str,
        "password_file": str,
        "ca_file": str,
        "timeout": (int, float),
    },
    "auth": {"password_hashes": dict, "admins": list, "coordinators": list},
    "ocr": {"budget_seconds": (int, float), "languages": str, "max_pages": int, "page_seconds": (int, float),
            "memory_mb": int, "dpi": int},
}

TYPE_NAMES = {str: "a string", int: "a whole number", float: "a number", list: "a list", dict: "a table",
              date: "a date (2024-05-20)"}
SECRET_KEYS = {"password", "pass", "secret", "token", "access_token"}
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_DEADLINE_RE = re.compile(
    r"^\s*(\d+)\s*(months?|mois|days?|jours?|working\s+days?|jours?\s+ouvr[ée]s)\s*$", re.I
)


def slugify(text: str) -> str:
    """ASCII, lower-case, dash-separated: "Ministère de l'Intérieur" -> "ministere-de-l-interieur"."""
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "x"


def parse_deadline(text: str, where: str = "deadline") -> Deadline:
    """Read "2 months", "30 days", "15 working days" (or their French words)."""
    match = _DEADLINE_RE.match(text or "")
    if not match:
        raise ValueError(
            f'{where} = "{text}" is not a delay: write "N months", "N days" or "N working days"'
        )
    count, unit = int(match.group(1)), match.group(2).lower()
    if "work" in unit or "ouvr" in unit:
        return Deadline(count, "working_days")
    if unit.startswith(("month", "mois")):
        return Deadline(count, "months")
    return Deadline(count, "days")


def read_secret(env: str | None, file: str | None, section: str) -> str:
    """Return a secret from the environment variable or file named in the config."""
    if env:
        value = os.environ.get(env)
        if value is None:
            raise ConfigError(
                f"[{section}] password_env: the environment variable {env} is not set; "
                f"export it before running tracker"
            )
        return value
    if file:
        try:
            return Path(file).expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"[{section}] password_file: cannot read {file} ({exc.strerror}); "
                f"check the path and its permissions"
            ) from None
    raise ConfigError(f"[{section}]: set password_env or password_file")


def _check(data: Any, schema: Any, path: Path, prefix: str) -> None:
    """Reject unknown keys (with a suggestion), inline secrets and wrong types."""
    if isinstance(schema, list):
        if not isinstance(data, list):
            raise ConfigError(f"{path}: {prefix} must be a list of tables ([[{prefix}]])")
        for index, item in enumerate(data):
            _check(item, schema[0], path, f"{prefix}[{index}]")
        return
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: {prefix} must be a table ([{prefix}])")
    for key, value in data.items():
        where = f"{prefix}.{key}" if prefix else key
        if key.lower() in SECRET_KEYS:
            raise ConfigError(
                f"{path}: {where}: secrets do not belong in the config file; remove it and set "
                f"password_env (an environment variable's name) or password_file (a file only "
                f"you can read)"
            )
        if key not in schema:
            close = difflib.get_close_matches(key, list(schema), n=1)
            hint = f'; did you mean "{close[0]}"?' if close else f"; known keys: {', '.join(schema)}"
            raise ConfigError(f"{path}: unknown key {where}{hint}")
        expected = schema[key]
        if isinstance(expected, (dict, list)):
            _check(value, expected, path, where)
        elif not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            types = expected if isinstance(expected, tuple) else (expected,)
            names = " or ".join(TYPE_NAMES[t] for t in types)
            raise ConfigError(f"{path}: {where} must be {names}, not {value!r}")


def _strings(value: list, path: Path, where: str, lower: bool = True) -> list[str]:
    for item in value:
        if not isinstance(item, str):
            raise ConfigError(f"{path}: {where} must be a list of strings, not {item!r}")
    return [v.strip().lower() if lower else v for v in value]


def _security(value: str, host: str, path: Path, section: str) -> str:
    if value not in ("ssl", "starttls", "none"):
        raise ConfigError(f'{path}: {section}.security must be "ssl", "starttls" or "none"')
    if value == "none" and host not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError(
            f'{path}: {section}.security = "none" sends the password in clear; it is only '
            f'allowed for a loopback host (127.0.0.1), use "ssl" or "starttls" for {host}'
        )
    return value


def load(path: str | Path | None = None) -> Config:
    """Load the config file (``TRACKER_CONFIG`` or ``config/tracker.toml`` by default)."""
    path = Path(path or os.environ.get("TRACKER_CONFIG") or DEFAULT_PATH)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such config file; copy config/tracker.example.toml there and edit it, "
            f"or pass --config PATH"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8; save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return from_dict(data, path)


def from_dict(data: dict[str, Any], path: Path) -> Config:
    """Validate a parsed TOML document; relative paths are relative to the file's folder's parent
    when the file sits in ``config/``, else to the file's folder."""
    _check(data, SCHEMA, path, "")
    base = path.parent.parent if path.parent.name == "config" else path.parent
    database = Path(data.get("database", "data/tracker.db")).expanduser()
    if not database.is_absolute():
        database = base / database
    config = Config(path=path, database=database)
    if "private_database" in data:
        private = Path(data["private_database"]).expanduser()
        config.private_database = private if private.is_absolute() else base / private
        if config.private_database.resolve() == database.resolve():
            raise ConfigError(
                f"{path}: private_database is the same file as database; remove the key "
                f"(the default is {private_path(database).name} beside the database) or name another file"
            )
    else:
        config.private_database = private_path(database)

    config.language = data.get("language", "fr")
    from .i18n import LANGUAGES  # the catalogs in tracker/locale/: a translator adds one

    if config.language not in LANGUAGES:
        raise ConfigError(
            f'{path}: language must be one of {", ".join(sorted(LANGUAGES))}, not "{config.language}" '
            f"(a catalog in tracker/locale/ adds a language)"
        )
    config.timezone = data.get("timezone", "Europe/Paris")
    if data.get("as_of"):
        try:
            config.as_of = date.fromisoformat(str(data["as_of"]).strip())
        except ValueError:
            raise ConfigError(
                f'{path}: as_of "{data["as_of"]}" is not a date; write YYYY-MM-DD (for example '
                f'as_of = "2026-09-01"), or remove the key to judge statuses as of today'
            ) from None
    try:
        ZoneInfo(config.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f'{path}: timezone "{config.timezone}" is unknown; use an IANA name such as '
            f'"Europe/Paris"'
        ) from None
    config.base_url = data.get("base_url", "/")

    coalition = data.get("coalition", {})
    config.coalition_name = coalition.get("name", "")
    config.coalition_addresses = _strings(coalition.get("addresses", []), path, "coalition.addresses")
    config.coalition_domains = _strings(coalition.get("domains", []), path, "coalition.domains")
    if not (config.coalition_addresses or config.coalition_domains):
        raise ConfigError(
            f"{path}: coalition.addresses and coalition.domains are both empty; list the "
            f"coalition's own addresses so tracker can tell letters from replies"
        )

    deadlines = data.get("deadlines", {})
    try:
        config.default_deadline = parse_deadline(
            deadlines.get("default", "2 months"), "deadlines.default"
        )
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    config.holidays = deadlines.get("holidays", "FR")

    seen: set[str] = set()
    formers: list[tuple[str, dict, Correspondent]] = []
    for index, item in enumerate(data.get("correspondents", [])):
        where = f"correspondents[{index}]"
        if not item.get("name"):
            raise ConfigError(f"{path}: {where}.name is missing; every correspondent needs a name")
        deadline = None
        if "deadline" in item:
            try:
                deadline = parse_deadline(item["deadline"], f"{where}.deadline")
            except ValueError as exc:
                raise ConfigError(f"{path}: {exc}") from None
        correspondent = Correspondent(
            name=item["name"],
            short_name=item.get("short_name", item["name"]),
            addresses=_strings(item.get("addresses", []), path, f"{where}.addresses"),
            domains=_strings(item.get("domains", []), path, f"{where}.domains"),
            deadline=deadline,
            acknowledgement_within=_delay(item, "acknowledgement_within", where, path),
        )
        if "successor" in item:
            formers.append((where, item, correspondent))
            continue
        if not (correspondent.addresses or correspondent.domains):
            raise ConfigError(
                f"{path}: {where} ({correspondent.name}) has neither addresses nor domains; "
                f"add at least one so its mail can be recognised"
            )
        if correspondent.slug in seen:
            raise ConfigError(f"{path}: {where}: two correspondents are named {correspondent.name}")
        seen.add(correspondent.slug)
        config.correspondents.append(correspondent)
    _reshuffles(config, formers, seen, path)
    config.members = _members(data.get("members", []), path)
    calendar = data.get("calendar", {})
    config.calendar_token_env, config.calendar_token_file = calendar.get("token_env"), calendar.get("token_file")

    if "mailbox" in data:
        box = data["mailbox"]
        if "host" not in box:
            raise ConfigError(f"{path}: mailbox.host is missing; name the IMAP server")
        security = _security(box.get("security", "ssl"), box["host"], path, "mailbox")
        mailbox = Mailbox(
            host=box["host"],
            port=box.get("port", {"ssl": 993}.get(security, 143)),
            security=security,
            username=box.get("username", ""),
            password_env=box.get("password_env"),
            password_file=box.get("password_file"),
            oauth2_token_command=box.get("oauth2_token_command"),
            ca_file=box.get("ca_file"),
            folders=_strings(box["folders"], path, "mailbox.folders", lower=False)
            if "folders" in box
            else None,
            max_message_size=box.get("max_message_size", Mailbox.max_message_size),
            batch_size=box.get("batch_size", Mailbox.batch_size),
            timeout=float(box.get("timeout", Mailbox.timeout)),
        )
        if not (mailbox.password_env or mailbox.password_file or mailbox.oauth2_token_command):
            raise ConfigError(
                f"{path}: mailbox needs password_env, password_file or oauth2_token_command"
            )
        config.mailbox = mailbox

    digest = data.get("digest", {})
    config.digest = Digest(
        to=_strings(digest.get("to", []), path, "digest.to", lower=False),
        from_=digest.get("from", config.coalition_addresses[0] if config.coalition_addresses else ""),
        base_url=digest.get("base_url", Digest.base_url).rstrip("/"),
        weekday=digest.get("weekday", "monday").lower(),
        due_soon_days=digest.get("due_soon_days", 14),
        group=digest.get("group", ""),
    )
    if config.digest.weekday not in WEEKDAYS:
        raise ConfigError(f"{path}: digest.weekday must be one of {', '.join(WEEKDAYS)}")
    if config.digest.group not in ("", "correspondent"):
        raise ConfigError(f'{path}: digest.group must be "correspondent" (each ministry\'s letters together) or '
                          f'absent (one list by date), not "{config.digest.group}"')

    if "smtp" in data:
        smtp = data["smtp"]
        if "host" not in smtp:
            raise ConfigError(f"{path}: smtp.host is missing; name the SMTP server")
        security = _security(smtp.get("security", "starttls"), smtp["host"], path, "smtp")
        config.smtp = Smtp(
            host=smtp["host"],
            port=smtp.get("port", {"ssl": 465, "starttls": 587}.get(security, 25)),
            security=security,
            username=smtp.get("username"),
            password_env=smtp.get("password_env"),
            password_file=smtp.get("password_file"),
            ca_file=smtp.get("ca_file"),
            timeout=float(smtp.get("timeout", Smtp.timeout)),
        )

    hashes = _password_hashes(data.get("auth", {}), path)
    config.auth = Auth(password_hashes=hashes, admins=_accounts(data.get("auth", {}), "admins", hashes, path),
                       coordinators=_accounts(data.get("auth", {}), "coordinators", hashes, path))
    config.ocr = _ocr(data.get("ocr", {}), path)
    return config


def _delay(item: dict[str, Any], key: str, where: str, path: Path) -> Deadline | None:
    if key not in item:
        return None
    try:
        return parse_deadline(item[key], f"{where}.{key}")
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _reshuffles(config: Config, formers: list[tuple[str, dict, Correspondent]], seen: set[str], path: Path) -> None:
    """Fold each body that has a ``successor`` into it: its addresses and domains resolve to
    the successor (the first one named, for a split), and every successor names it in
    ``formerly``. The former body is no correspondent of its own any more."""
    by_key = {key: c for c in config.correspondents for key in (c.slug, slugify(c.name))}
    for where, item, old in formers:
        if old.slug in seen:
            raise ConfigError(f"{path}: {where}: two correspondents are named {old.name}")
        seen.add(old.slug)
        names = item["successor"] if isinstance(item["successor"], list) else [item["successor"]]
        since = item.get("since")
        if isinstance(since, str):
            try:
                since = date.fromisoformat(since)
            except ValueError:
                since = None
        if not isinstance(since, date):
            raise ConfigError(
                f'{path}: {where}.since is missing or not a date; write the day {names[0]} took over '
                f"{old.name}, for example since = 2024-05-20"
            )
        successors = []
        for name in names:
            successor = by_key.get(slugify(str(name)))
            if successor is None:
                raise ConfigError(
                    f'{path}: {where}.successor = "{name}" names no correspondent; write the id '
                    f"(short_name as a slug) or the name of a [[correspondents]] entry without a successor"
                )
            successors.append(successor)
        former = Former(old.name, old.short_name, since, list(old.addresses), list(old.domains))
        successors[0].addresses += [a for a in old.addresses if a not in successors[0].addresses]
        successors[0].domains += [d for d in old.domains if d not in successors[0].domains]
        for successor in successors:
            successor.formerly.append(former)
            successor.formerly.sort(key=lambda f: f.since)


def _members(items: list[dict[str, Any]], path: Path) -> list[Member]:
    """``[[members]]``: the coalition's member associations (co-signers of letters)."""
    members, seen = [], set()
    for index, item in enumerate(items):
        where = f"members[{index}]"
        if not item.get("name"):
            raise ConfigError(f"{path}: {where}.name is missing; every member association needs a name")
        member = Member(item["name"], item.get("short_name", item["name"]),
                        _strings(item.get("aliases", []), path, f"{where}.aliases", lower=False))
        if member.slug in seen:
            raise ConfigError(f"{path}: {where}: two members are named {member.name}; give one a short_name")
        seen.add(member.slug)
        members.append(member)
    return members


# [ocr] numbers: (smallest, largest, what the key is for): a fix the error can name
_OCR_RANGES = {
    "budget_seconds": (0, 86400, "seconds `tracker sync` may spend reading scans; 0 leaves them to `tracker ocr`"),
    "max_pages": (1, 500, "pages read of one document"),
    "page_seconds": (1, 3600, "seconds Tesseract may spend on one page"),
    "memory_mb": (128, 65536, "megabytes one document's OCR may use"),
    "dpi": (100, 600, "resolution pages are rendered at; 300 suits letters"),
}


def _ocr(section: dict[str, Any], path: Path) -> Ocr:
    """The [ocr] section, each number within the range where OCR still works."""
    for key, (low, high, meaning) in _OCR_RANGES.items():
        if key in section and not low <= section[key] <= high:
            raise ConfigError(
                f"{path}: ocr.{key} = {section[key]!r} is out of range; set it between {low} and {high} ({meaning})"
            )
    languages = section.get("languages", Ocr.languages)
    if not re.fullmatch(r"[a-z_]{3,}(\+[a-z_]{3,})*", languages):
        raise ConfigError(
            f"{path}: ocr.languages = {languages!r} is not a list of Tesseract languages; write them "
            'as Tesseract does, joined by "+" (for example "fra+eng")'
        )
    return Ocr(**{**{k: section[k] for k in section}, "languages": languages})


def _accounts(auth: dict[str, Any], role: str, hashes: dict[str, str], path: Path) -> list[str]:
    """The accounts of ``auth.admins`` or ``auth.coordinators``: each must have a password hash."""
    admins = _strings(auth.get(role, []), path, f"auth.{role}", lower=False)
    for user in admins:
        if user not in hashes:
            raise ConfigError(
                f"{path}: auth.{role} names {user!r}, who has no account; add {user!r} to "
                f"auth.password_hashes (make a hash with `datasette hash-password`) or remove the name"
            )
    return admins


def _password_hashes(auth: dict[str, Any], path: Path) -> dict[str, str]:
    """Usernames -> hashes made by ``datasette hash-password``; never a password itself, and
    no two usernames that differ only by punctuation or case (they would share a login)."""
    hashes = dict(auth.get("password_hashes", {}))
    seen: dict[str, str] = {}
    for user, value in hashes.items():
        if not isinstance(value, str) or not value.startswith("pbkdf2_sha256$"):
            raise ConfigError(
                f"{path}: auth.password_hashes.{user} is not a password hash; put the output of "
                f"`datasette hash-password` there, never the password itself"
            )
        folded = "".join(c if c.isalnum() else "_" for c in user).upper()
        if folded in seen:
            raise ConfigError(
                f"{path}: auth.password_hashes: {seen[folded]!r} and {user!r} differ only by "
                f"punctuation or case; rename one of them"
            )
        seen[folded] = user
    return hashes
