"""The one TOML config file: schema, validation, and errors that name the file and the key."""
from __future__ import annotations

import os
import re
import ssl
from functools import cached_property
import tomllib
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator,
                      model_validator)  # fmt: skip
from pydantic_core import ErrorDetails
from sqlalchemy.engine import make_url

from gateway.senders import covering_entry
from gateway.worktime import WorkCalendar, parse_working_time
from parsers.callerid import DEFAULT_PATTERNS
from parsers.phone import POLISH_GEOGRAPHIC_AND_MOBILE

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

DEFAULT_PATH = Path("hotline.toml")
# systemd/hotline.service's TimeoutStopSec (a test keeps the two equal): a grace time at or
# above it would have systemd kill the daemon in the middle of its clean stop
UNIT_TIMEOUT_STOP_SECONDS = 30.0
_ADDRESS = re.compile(r"[^@\s<>(),;:\"\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*")


class ConfigError(Exception):
    """Every problem found in one config file, each naming the key and what was expected."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(f"{path}: {p}" for p in problems))


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _secret(env: str | None, file: str | None, key: str) -> str:
    """Read a secret from the environment or a file; relative files may live in systemd's credentials."""
    if env:
        value = os.environ.get(env)
        if value is None:
            raise ValueError(f"{key}_env: environment variable {env} is not set")
        return value
    if file:
        try:
            return Path(file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            where = "" if "CREDENTIALS_DIRECTORY" in os.environ else (
                " ($CREDENTIALS_DIRECTORY, where systemd's LoadCredential= puts secrets, is unset, so a"
                " relative name is read from the config file's folder, or $STATE_DIRECTORY)")  # fmt: skip
            raise ValueError(f"{key}_file: cannot read {file}: {exc.strerror}{where}") from exc
    raise ValueError(f"{key}_env or {key}_file: one of them is required")


def state_directory(config_file: Path) -> Path:
    """What relative paths in the config are relative to: never the folder a command happens
    to run in (an admin's `hotline tickets list` from ~ would open an empty database there).
    Under systemd it is $STATE_DIRECTORY (StateDirectory=hotline: /var/lib/hotline), else the
    folder of the config file."""
    if state := os.environ.get("STATE_DIRECTORY"):
        return Path(state.split(":")[0])
    return config_file.resolve().parent


def _base(info: ValidationInfo) -> Path | None:
    return (info.context or {}).get("state_directory")


def _in_state_directory(value: str, info: ValidationInfo) -> str:
    base = _base(info)
    return value if base is None or Path(value).is_absolute() else str(base / value)


def _credential(value: str, info: ValidationInfo) -> str:
    """A relative secret file is a systemd credential when $CREDENTIALS_DIRECTORY is set."""
    if not Path(value).is_absolute() and (creds := os.environ.get("CREDENTIALS_DIRECTORY")):
        return str(Path(creds) / value)
    return _in_state_directory(value, info)


StatePath = Annotated[str, AfterValidator(_in_state_directory)]
SecretFile = Annotated[str, AfterValidator(_credential)]


def client_tls_context(ca_file: str | None) -> ssl.SSLContext:
    """The system's trust store, plus a private CA when one is configured."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(ca_file)
    return context


class StorageSection(Section):
    url: str = Field("sqlite:///var/hotline.db", validate_default=True)  # relative: in the state directory

    @field_validator("url")
    @classmethod
    def _known_backend(cls, url: str, info: ValidationInfo) -> str:
        if not url.startswith(("sqlite:", "postgresql")):
            raise ValueError("expected sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
            return url
        path = _in_state_directory(parsed.database, info)
        return parsed.set(database=path).render_as_string(hide_password=False)


class CalendarSection(Section):
    timezone: str = "Europe/Warsaw"
    country: str = "PL"  # "" for no public holidays
    hours: tuple[str, str] = ("08:00", "16:00")  # ["00:00", "24:00"] for round the clock
    extra_days_off: list[str] = []
    extra_working_days: list[str] = []
    weekdays: list[int | str] | None = None  # default Monday to Friday; 0 or "mon" is Monday

    @model_validator(mode="after")
    def _valid_calendar(self) -> CalendarSection:
        self.work_calendar("calendar")
        return self

    def work_calendar(self, name: str) -> WorkCalendar:
        try:
            return WorkCalendar.from_config(name, self.timezone, self.country or None, self.hours,
                                            self.extra_days_off, self.extra_working_days, self.weekdays)  # fmt: skip
        except ValueError as exc:  # the key is named by where this section sits in the file
            raise ValueError(str(exc).removeprefix(f"calendar {name!r}: ")) from exc


class ImapAccount(Section):
    name: str
    host: str
    port: int = Field(993, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "tls"
    username: str
    password_env: str | None = None
    password_file: SecretFile | None = None
    folder: str = "INBOX"
    channel: Literal["email", "fax"] = "email"
    done: str = "move:Processed"
    poll_seconds: int = Field(60, ge=1)
    tls_ca_file: StatePath | None = None  # trust this CA (a private one) besides the system's

    @model_validator(mode="after")
    def _one_password_source(self) -> ImapAccount:
        if (self.password_env is None) == (self.password_file is None):
            raise ValueError("give exactly one of password_env or password_file")
        return self

    @field_validator("done")
    @classmethod
    def _done_form(cls, done: str) -> str:
        if done != "flag" and not (done.startswith("move:") and len(done) > 5):
            raise ValueError('expected "flag" or "move:FOLDER"')
        return done

    def password(self) -> str:
        return _secret(self.password_env, self.password_file, "password")

    def tls_context(self) -> ssl.SSLContext:
        return client_tls_context(self.tls_ca_file)


def _check_listen(listen: str) -> str:
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError('expected "HOST:PORT", e.g. "127.0.0.1:2525"')
    if not 1 <= int(port) <= 65535:
        raise ValueError(f"port {int(port)} is out of range: expected 1 to 65535")
    return listen


Listen = Annotated[str, AfterValidator(_check_listen)]


class SmtpServerSection(Section):
    listen: Listen = "127.0.0.1:2525"
    recipients: list[str] = []
    channel_by_recipient: dict[str, Literal["email", "fax"]] = {}
    max_message_bytes: int = Field(26_214_400, ge=1024)
    max_connections: int = Field(200, ge=1)  # open at once; more get 421 (keep it below LimitNOFILE)
    max_connections_per_peer: int = Field(20, ge=1)  # from one IP address
    idle_seconds: float = Field(60.0, gt=0)  # a connection silent this long is closed
    tls_cert: StatePath | None = None  # PEM files: STARTTLS is offered when both are set
    tls_key: StatePath | None = None

    @model_validator(mode="after")
    def _cert_and_key(self) -> SmtpServerSection:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("give both tls_cert and tls_key, or neither")
        for path in (self.tls_cert, self.tls_key):
            if path is not None and not Path(path).is_file():
                raise ValueError(f"no such file: {path}")
        return self

    @property
    def host_port(self) -> tuple[str, int]:
        return _split_host_port(self.listen)


class OutboundSection(Section):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    transport: Literal["smtp", "maildir"] = "maildir"
    host: str = "127.0.0.1"
    port: int = Field(25, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "none"
    username: str | None = None
    password_env: str | None = None
    password_file: SecretFile | None = None
    maildir: StatePath = Field("var/outbox", validate_default=True)
    from_: str = Field("Hot-line <hotline@example.org>", alias="from")
    tls_ca_file: StatePath | None = None  # trust this CA (a private one) besides the system's
    timeout_seconds: float = Field(30.0, gt=0)
    retry_seconds: float = Field(60.0, gt=0)  # first retry after a temporary failure, then doubled
    max_retry_seconds: float = Field(3600.0, gt=0)
    give_up_hours: float = Field(48.0, gt=0)  # a message still failing after this is marked failed
    acks_per_address_per_hour: int = Field(5, ge=0)  # loop protection: more are not sent
    # a responder that answers from a new address each time (ticket+N@...) is stopped by
    # its domain (public mail providers are counted per address: gateway/senders.py)...
    acks_per_domain_per_hour: int = Field(100, ge=0)
    acks_per_hour: int = Field(2000, ge=0)  # ... and a flood of them by the total

    @model_validator(mode="after")
    def _password_with_username(self) -> OutboundSection:
        if self.password_env is not None and self.password_file is not None:
            raise ValueError("give at most one of password_env or password_file")
        if self.username is not None and self.password_env is None and self.password_file is None:
            raise ValueError("username is set: give password_env or password_file too")
        return self

    def password(self) -> str | None:
        return None if self.username is None else _secret(self.password_env, self.password_file, "password")

    def tls_context(self) -> ssl.SSLContext:
        return client_tls_context(self.tls_ca_file)

    @field_validator("from_")
    @classmethod
    def _has_address(cls, value: str) -> str:
        if "@" not in parseaddr(value)[1]:
            raise ValueError('expected an address such as "Hot-line <hotline@example.org>"')
        return value

    @cached_property
    def address(self) -> str:
        return parseaddr(self.from_)[1].lower()


class FaxSection(Section):
    gateway_senders: list[str] = []
    outbound_address: str = "{number}@fax.example.org"
    caller_id_patterns: list[str] = list(DEFAULT_PATTERNS)  # regexes with a group "number"
    max_pages: int = Field(20, ge=1)
    max_pixels: int = Field(40_000_000, ge=1_000_000)  # per page: decompression bombs are refused
    max_document_bytes: int = Field(30_000_000, ge=1024)
    max_document_pixels: int = Field(160_000_000, ge=1_000_000)  # all pages of a document together
    ocr_seconds_per_page: float = Field(60.0, gt=0)
    ocr_seconds_per_document: float = Field(300.0, gt=0)  # the daemon routes a fax unread past it
    send_in_working_hours: bool = True  # fax acknowledgements wait for working time (never past the deadline)
    # E.164 prefixes we fax to: a form or a forged gateway mail must not make us dial
    # premium-rate or foreign numbers. ["+"] allows every number.
    allowed_prefixes: list[str] = list(POLISH_GEOGRAPHIC_AND_MOBILE)

    @field_validator("allowed_prefixes")
    @classmethod
    def _prefixes(cls, prefixes: list[str]) -> list[str]:
        for prefix in prefixes:
            if not re.fullmatch(r"\+[0-9]*", prefix):
                raise ValueError(f'expected E.164 prefixes such as "+4822" or "+", got {prefix!r}')
        return prefixes

    def may_fax(self, e164: str) -> bool:
        return any(e164.startswith(prefix) for prefix in self.allowed_prefixes)

    @field_validator("caller_id_patterns")
    @classmethod
    def _patterns(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {pattern!r}: {exc}") from exc
            if "number" not in compiled.groupindex:
                raise ValueError(f"pattern {pattern!r} has no (?P<number>...) group")
        return patterns


class ConsultantsSection(Section):
    addresses: list[str] = []  # who may answer: addresses, or "@domain" for a whole team domain
    notify: list[str] = []  # who is told of new tickets, follow-ups, held mail, failures
    token_secret_env: str | None = None
    token_secret_file: SecretFile | None = None
    # Authentication-Results from these servers (our MTA) are trusted: a consultant's mail
    # they do not vouch for (dmarc=pass or aligned dkim=pass, parsers/authres.py) is held
    trusted_authserv_ids: list[str] = []

    @model_validator(mode="after")
    def _secret_source(self) -> ConsultantsSection:
        if self.token_secret_env is not None and self.token_secret_file is not None:
            raise ValueError("give at most one of token_secret_env or token_secret_file")
        if (self.addresses or self.notify) and self.token_secret_env is None and self.token_secret_file is None:
            raise ValueError("consultants need reply tokens: give token_secret_env or token_secret_file")
        return self

    def token_secret(self) -> str:
        secret = _secret(self.token_secret_env, self.token_secret_file, "token_secret")
        if len(secret) < 16:
            raise ValueError("token_secret: the secret must have at least 16 characters")
        return secret

    def is_consultant(self, address: str) -> bool:
        return covering_entry(address, {a.lower() for a in self.addresses}) is not None


class TemplatesSection(Section):
    dir: StatePath | None = None  # default: the templates shipped in the package (gateway/outbound/templates)
    language: Literal["pl", "en"] = "pl"
    # per customer: a sender's address or @domain -> language
    language_by_sender: dict[str, Literal["pl", "en"]] = {}

    @field_validator("dir")
    @classmethod
    def _is_folder(cls, folder: str | None) -> str | None:
        if folder is not None and not Path(folder).is_dir():
            raise ValueError(f"no such folder: {folder}")
        return folder

    def language_for(self, addresses: list[str]) -> str:
        """The first address (or its domain) configured wins, else the default language.
        A key without "@" is a domain, as "@domain" is."""
        by_sender = {(k if "@" in k else "@" + k).lower(): v for k, v in self.language_by_sender.items()}
        for address in addresses:
            if (key := covering_entry(address, by_sender)) is not None:
                return by_sender[key]
        return self.language


class LimitsSection(Section):
    max_message_bytes: int = Field(52_428_800, ge=1024)  # a 25 MB attachment, base64-encoded
    max_attachments: int = Field(100, ge=0)
    max_mime_depth: int = Field(20, ge=1)
    max_text_chars: int = Field(200_000, ge=1000)  # of a body's text kept and routed; the raw message keeps all
    max_batch_bytes: int = Field(32 * 1024 * 1024, ge=1024)  # raw bytes read and parsed at once by the router
    max_attempts: int = Field(5, ge=1)  # routing attempts of one inbox row before it is quarantined (a poison message)


class DaemonSection(Section):
    # SIGTERM: how long in-flight work may take; below the unit's TimeoutStopSec
    grace_seconds: float = Field(20.0, gt=0, lt=UNIT_TIMEOUT_STOP_SECONDS)
    sweep_seconds: float = Field(2.0, gt=0)  # how often stored but unrouted messages are looked for
    workers: int | None = Field(None, ge=1)  # processes that parse and OCR; default: one per CPU
    # a mailbox's poller lease: a daemon that dies leaves its mailboxes to another after this
    lease_seconds: float = Field(30.0, ge=1)


class RegisterSection(Section):
    """The reply log (gateway/register): its file, signing key, checkpoint origin and auditors."""

    log: StatePath = Field("var/replylog.jsonl", validate_default=True)  # the append-only mirror
    key_file: SecretFile = Field("register-key", validate_default=True)  # Ed25519 private key (PEM), a credential
    origin: str = Field("hotline.example.org/replylog", min_length=1, pattern=r"^[^\s+]+$")
    checkpoint_to: list[str] = []  # auditors mailed a daily checkpoint


class KnowledgeSection(Section):
    """The knowledge base (gateway/knowledge): documentation folders, their public link,
    and the score below which nothing is suggested."""

    docs: list[StatePath] = []  # folders of documentation (PDF, HTML, Markdown, text)
    doc_url: str = ""  # e.g. "https://docs.example.org/{path}#{anchor}"
    min_score: float = Field(0.0, ge=0.0)  # suggestions below it are not shown
    index_seconds: float = Field(300.0, gt=0)  # how often the daemon looks for changed documentation

    @field_validator("doc_url")
    @classmethod
    def _doc_url(cls, value: str) -> str:
        try:
            value.format(path="p", anchor="a")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"only {{path}} and {{anchor}} may stand in braces: {exc}") from None
        return value


class MetricsSection(Section):
    listen: Listen = "127.0.0.1:9466"  # Prometheus /metrics and /health; keep it on loopback

    @property
    def host_port(self) -> tuple[str, int]:
        return _split_host_port(self.listen)


class LoggingSection(Section):
    format: Literal["auto", "json", "console"] = "auto"
    level: Literal["debug", "info", "warning", "error"] = "info"


SEVERITIES = ("1", "2", "3", "4")  # 1 critical .. 4 question
RULE3 = "rule3"  # an ack target: SPEC rule 3's deadline instead of an amount of working time


def _working_time(value: str, info: ValidationInfo) -> str:
    if not (info.field_name == "ack" and value == RULE3):
        parse_working_time(value)
    return value


class ClockTargets(Section):
    """One severity's targets, working time of the plan's calendar ("4h", "90m")."""

    ack: str = RULE3
    response: str
    resolution: str

    _check = field_validator("ack", "response", "resolution")(_working_time)

    def minutes(self) -> dict[str, int | None]:
        """Per clock: working minutes, or None for rule 3 (the deadline the calendar gives)."""
        return {clock: None if value == RULE3 else parse_working_time(value)
                for clock, value in (("ack", self.ack), ("response", self.response), ("resolution", self.resolution))}  # fmt: skip


DEFAULT_TARGETS = {
    "1": ClockTargets(response="4h", resolution="16h"),
    "2": ClockTargets(response="8h", resolution="40h"),
    "3": ClockTargets(response="16h", resolution="80h"),
    "4": ClockTargets(response="16h", resolution="160h"),
}


class PlanSection(Section):
    """A support plan: whom it covers (`match`: addresses, "@domain"s, office names from the
    HOT-01 form) and its targets per severity, counted in its calendar."""

    calendar: str = "default"  # "default" is [calendar]; else a [calendars.NAME]
    match: list[str] = []
    default_severity: int = Field(4, ge=1, le=4)
    severity_calendars: dict[str, str] = {}  # e.g. { "1" = "24x7" }
    targets: dict[str, ClockTargets] = DEFAULT_TARGETS

    @field_validator("targets", "severity_calendars")
    @classmethod
    def _severities(cls, values: dict[str, object], info: ValidationInfo) -> dict[str, object]:
        if bad := sorted(set(values) - set(SEVERITIES)):
            raise ValueError(f"{bad} are not severities 1 to 4")
        if info.field_name == "targets" and (missing := [s for s in SEVERITIES if s not in values]):
            raise ValueError(f"severity {', '.join(missing)} has no targets")
        return values

    def calendar_for(self, severity: int) -> str:
        return self.severity_calendars.get(str(severity), self.calendar)


class SlaSection(Section):
    default_plan: str = "standard"
    remind_at: list[float] = [0.5, 0.8]  # fractions of each clock's target
    escalate_to: list[str] = []  # told at breach, besides the assignee or the team
    check_seconds: float = Field(30.0, gt=0)  # how often the daemon looks for stages come due
    plans: dict[str, PlanSection] = {"standard": PlanSection()}  # in order of rank

    @field_validator("remind_at")
    @classmethod
    def _fractions(cls, fractions: list[float]) -> list[float]:
        if bad := [f for f in fractions if not 0 < f < 1]:
            raise ValueError(f"{bad}: each fraction must lie between 0 and 1 (both excluded)")
        return sorted(set(fractions))

    def problems(self, calendars: dict[str, CalendarSection]) -> list[str]:
        """What only the whole file can tell: plans naming calendars and plans that exist."""
        found = [] if self.default_plan in self.plans else [
            f"sla.default_plan: no plan {self.default_plan!r} in [sla.plans] (there are: {', '.join(self.plans)})"]
        for name, plan in self.plans.items():
            named = [("calendar", plan.calendar)] + [(f"severity_calendars.{k}", v) for k, v in plan.severity_calendars.items()]
            found += [f"sla.plans.{name}.{key}: no calendar {value!r} (give [calendars.{value}], or \"default\")"
                      for key, value in named if value != "default" and value not in calendars]  # fmt: skip
        return found


class Settings(Section):
    storage: StorageSection = StorageSection()
    calendar: CalendarSection = CalendarSection()
    calendars: dict[str, CalendarSection] = {}
    imap: list[ImapAccount] = []
    smtp_server: SmtpServerSection | None = None
    outbound: OutboundSection = OutboundSection()
    fax: FaxSection = FaxSection()
    consultants: ConsultantsSection = ConsultantsSection()
    templates: TemplatesSection = TemplatesSection()
    limits: LimitsSection = LimitsSection()
    daemon: DaemonSection = DaemonSection()
    metrics: MetricsSection | None = None
    logging: LoggingSection = LoggingSection()
    sla: SlaSection = SlaSection()
    register_: RegisterSection = Field(RegisterSection(), alias="register")  # `register` is ABCMeta's
    knowledge: KnowledgeSection = KnowledgeSection()
    source: Annotated[Path, Field(exclude=True)] = DEFAULT_PATH

    @cached_property
    def work_calendar(self) -> WorkCalendar:
        """The default calendar: receipt times and acknowledgement deadlines follow it."""
        return self.calendar.work_calendar("default")

    @cached_property
    def work_calendars(self) -> dict[str, WorkCalendar]:
        """Every calendar by the name plans give it: "default" is [calendar]."""
        return {"default": self.work_calendar, **{n: c.work_calendar(n) for n, c in self.calendars.items()}}

    @cached_property
    def reply_secret(self) -> str | None:
        """The reply-token key, read once (a changed key needs a restart, like [consultants]);
        None without consultants."""
        consultants = self.consultants
        return consultants.token_secret() if consultants.addresses or consultants.notify else None

    def signing_key(self) -> Ed25519PrivateKey:
        """The reply log's Ed25519 key, read when needed (cryptography loads only then); the
        error names the key and the config file."""
        from gateway.register.checkpoint import load_key

        try:
            return load_key(self.register_.key_file)
        except ValueError as exc:
            raise ConfigError(self.source, [f"register.key_file: {exc}"]) from None

    @cached_property
    def own_domain(self) -> str:
        """The domain of our own Message-IDs: replies to them thread without a subject tag."""
        return self.outbound.address.rpartition("@")[2]

    @cached_property
    def loop_id(self) -> str:
        """Our X-Loop value: mail carrying it is ours and is never answered."""
        return self.outbound.address


def _split_host_port(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def config_path(cli_value: str | None) -> Path:
    """--config, else $HOTLINE_CONFIG, else ./hotline.toml (SPEC.md)."""
    return Path(cli_value or os.environ.get("HOTLINE_CONFIG") or DEFAULT_PATH)


def load(path: Path) -> Settings:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(path, [f"cannot read config file: {exc.strerror}"]) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"]) from exc
    try:
        # the sections holding default paths are validated even when absent, so that their
        # defaults are resolved like written values
        data = {"storage": {}, "outbound": {}, "register": {}, **data, "source": path}
        settings = Settings.model_validate(data, context={"state_directory": state_directory(path)})
    except ValidationError as exc:
        raise ConfigError(path, [_describe(e) for e in exc.errors()]) from exc
    if problems := settings.sla.problems(settings.calendars):
        raise ConfigError(path, problems)
    return settings


def check_secrets(settings: Settings) -> list[str]:
    """Secrets are resolved late (they may rotate), so check-config, run and ingest try them
    explicitly."""
    problems = []
    for i, account in enumerate(settings.imap):
        try:
            account.password()
        except ValueError as exc:
            problems.append(f"imap[{i}].{exc}")
    try:
        settings.outbound.password()
    except ValueError as exc:
        problems.append(f"outbound.{exc}")
    if settings.consultants.addresses or settings.consultants.notify:
        try:
            settings.consultants.token_secret()
        except ValueError as exc:
            problems.append(f"consultants.{exc}")
    if Path(settings.register_.key_file).exists():
        try:
            settings.signing_key()
        except ConfigError as exc:
            problems += exc.problems
    return problems


def warnings(settings: Settings) -> list[str]:
    """What is valid but almost surely not meant: check-config says it, nothing refuses it."""
    found = []
    if not settings.imap and settings.smtp_server is None:
        found.append("no source: neither [[imap]] nor [smtp_server] is configured, only `hotline ingest` brings mail")
    if settings.register_.checkpoint_to and not Path(settings.register_.key_file).exists():
        found.append(f"register.key_file: no key at {settings.register_.key_file}: no checkpoint can be signed, "
                     "neither for checkpoint_to nor in acknowledgements and answers")  # fmt: skip
    smtp_recipients = settings.smtp_server.recipients if settings.smtp_server else []
    strict = [("outbound.from", parseaddr(settings.outbound.from_)[1])]
    strict += [(f"consultants.notify[{i}]", value) for i, value in enumerate(settings.consultants.notify)]
    found += [f"{key}: not an e-mail address: {value!r}" for key, value in strict if not is_address(value)]
    for key, values in (("consultants.addresses", settings.consultants.addresses),
                        ("fax.gateway_senders", settings.fax.gateway_senders),
                        ("smtp_server.recipients", smtp_recipients)):  # fmt: skip
        found += [f"{key}[{i}]: not an e-mail address or @domain: {value!r}"
                  for i, value in enumerate(values) if not (is_address(value) or is_address("x" + value))]  # fmt: skip
    found += [f"knowledge.docs[{i}]: no folder at {folder}: no documentation is indexed from it"
              for i, folder in enumerate(settings.knowledge.docs) if not Path(folder).is_dir()]  # fmt: skip
    return found


def is_address(value: str) -> bool:
    """A bare address local@domain, as the outbox and the consultants' checks compare them."""
    return _ADDRESS.fullmatch(value.strip()) is not None


def _describe(error: ErrorDetails) -> str:
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).lstrip(".")
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key"
    if error["type"] == "missing":
        return f"{key}: required key is missing"
    message = error["msg"].removeprefix("Value error, ")
    return f"{key or '(top level)'}: {message} (got {error.get('input')!r})"
