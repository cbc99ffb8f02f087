"""Message templates: Jinja2 files shipped in this package, one per message, kind and language.

The wording of every message we send lives in the templates, so admins can change it
without touching code (`[templates] dir` points at a copy of this folder). They live inside
the package so that a wheel installed anywhere finds them. A template is named ``<message>.<language>.<kind>.j2`` (for
example ``ack.pl.txt.j2``); callers ask for ``render("ack.txt", "en", facts)``.
A template may also set a ``subject`` (``{% set subject %}...{% endset %}``), which
``render_parts`` returns next to the body, so one file holds all of a message's words.

Dates are written out here, not with the C locale: the daemon's locale is whatever
systemd gives it (usually C.UTF-8), and Polish day and month names must not depend on it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from parsers.refs import subject_tag

DEFAULT_DIRECTORY = Path(__file__).resolve().parent
LANGUAGES = ("pl", "en")
DEFAULT_LANGUAGE = "pl"

_DAYS = {
    "pl": ("poniedziałek", "wtorek", "środa", "czwartek", "piątek", "sobota", "niedziela"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
# Polish dates take the month in the genitive: "20 listopada 2026".
_MONTHS = {
    "pl": (
        "stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca",
        "lipca", "sierpnia", "września", "października", "listopada", "grudnia",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
}  # fmt: skip


def pick_language(language: str | None) -> str:
    """``"pl"`` or ``"en"``; anything else (unknown, empty, None) falls back to Polish."""
    code = (language or "").strip().lower()
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def format_datetime(moment: datetime, timezone: str, language: str) -> str:
    """``"piątek, 20 listopada 2026, 16:30"``: local time of the calendar's time zone.

    A naive datetime is refused: every time we store is UTC, and guessing would put
    the acknowledgement an hour or two off without anyone noticing.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime cannot be shown in {timezone}: {moment!r}")
    local = moment.astimezone(ZoneInfo(timezone))
    lang = pick_language(language)
    day = _DAYS[lang][local.weekday()]
    month = _MONTHS[lang][local.month - 1]
    return f"{day}, {local.day} {month} {local.year}, {local:%H:%M}"


@jinja2.pass_context
def _local_datetime_filter(context: jinja2.runtime.Context, moment: datetime, timezone: str) -> str:
    """``{{ facts.received_at | local_datetime(facts.timezone) }}`` in the template's language."""
    return format_datetime(moment, timezone, str(context.get("language", DEFAULT_LANGUAGE)))


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered template: its body, and the subject it set ("" when it sets none)."""

    subject: str
    body: str


def make_environment(directory: Path) -> jinja2.Environment:
    """Strict (a missing fact is an error, not an empty string), HTML escaped only in .html.j2."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html.j2",), default_for_string=False, default=False
        ),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["local_datetime"] = _local_datetime_filter
    env.filters["subject_tag"] = subject_tag
    return env


class Templates:
    """The templates of one directory (default: the ones shipped in this package)."""

    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = Path(directory) if directory is not None else DEFAULT_DIRECTORY
        if not self.directory.is_dir():
            raise FileNotFoundError(f"templates directory not found: {self.directory}")
        self.environment = make_environment(self.directory)

    def template(self, name: str, language: str) -> jinja2.Template:
        """``("ack.txt", "en")`` -> ack.en.txt.j2, falling back to the Polish file."""
        stem, dot, kind = name.rpartition(".")
        if not dot or not stem or not kind:
            raise ValueError(f"template name must be '<message>.<kind>', got {name!r}")
        lang = pick_language(language)
        codes = dict.fromkeys((lang, DEFAULT_LANGUAGE))
        candidates = [f"{stem}.{code}.{kind}.j2" for code in codes]
        return self.environment.select_template(candidates)

    def render_parts(self, name: str, language: str, facts: object, **extra: Any) -> Rendered:
        """Body and subject of a template; ``facts`` is reachable as ``facts`` in the template."""
        context = {**extra, "facts": facts, "language": pick_language(language)}
        module = self.template(name, language).make_module(context)
        subject = str(getattr(module, "subject", ""))
        return Rendered(subject=" ".join(subject.split()), body=_tidy(str(module)))

    def render(self, name: str, language: str, facts: object, **extra: Any) -> str:
        """The body of a template, as text (HTML for .html templates)."""
        return self.render_parts(name, language, facts, **extra).body


def problem(directory: Path | str | None = None) -> str | None:
    """Why a directory cannot write our messages, or None: checked before the daemon
    starts, since without templates no acknowledgement or notification can ever be sent.
    Each message needs its Polish file (the fallback of every language)."""
    folder = Path(directory) if directory is not None else DEFAULT_DIRECTORY
    if not folder.is_dir():
        return f"no templates folder at {folder}"
    needed = sorted(p.name for p in DEFAULT_DIRECTORY.glob(f"*.{DEFAULT_LANGUAGE}.*.j2") if not p.name.startswith("_"))
    if not needed:
        return f"the package ships no templates in {DEFAULT_DIRECTORY} (a broken install: reinstall hotline)"
    if lacking := [name for name in needed if not (folder / name).is_file()]:
        return f"{folder} lacks {', '.join(lacking)} (copy them from {DEFAULT_DIRECTORY})"
    return None


def _tidy(body: str) -> str:
    """No trailing blanks on lines (but the "-- " signature separator keeps its space),
    no blank lines at either end, one final newline."""
    lines = [line if line == "-- " else line.rstrip() for line in body.splitlines()]
    return "\n".join(lines).strip("\n") + "\n"


@lru_cache(maxsize=8)
def templates(directory: str | None = None) -> Templates:
    """A shared, cached Templates per directory (Jinja2 caches compiled templates in it)."""
    return Templates(directory)


def render(name: str, language: str, facts: object, **extra: Any) -> str:
    """Render with the default templates directory: ``render("ack.txt", "pl", facts)``."""
    return templates().render(name, language, facts, **extra)
