"""Mail commands at the top of a consultant's reply: ``#note``, ``#close``, ``#severity N``,
``#assign ADDRESS``, ``#pending``, ``#called`` (the user was called back: a phone
acknowledgement is done; the text, if any, records the call and is not sent), ``#doc REF``
(the answer ends with a pointer to the documentation: REF as the notification listed it,
"2", or a section's ref, "user-guide#4"; several may follow), ``#nokb`` (a private answer:
kept out of the knowledge base).

Rules (decided here, relied on by the gateway):

- The command block is the run of lines at the top of the text that start with "#" (blank
  lines before and between them allowed). The first other line ends it; "#" lines after
  that are ordinary text. Names are case-insensitive; "#severity: 2" equals "#severity 2".
- Every line in the block is taken as a command, so "#1 problem" (a number after "#") or
  "# note" is reported as an error rather than passed on silently as text: the consultant
  meant something, and the error tells them what.
- Bad input never raises: each unknown or malformed command, each repeat of a command and
  the pair #close + #pending gives one error line; the first valid use of each command
  stays in ``commands``. The caller decides what to do when ``errors`` is not empty.
- #note with #close or #pending is allowed: the text is kept as an internal note (nothing
  is sent to the user) and the ticket is closed, or set pending. #close with #pending
  contradict each other and are an error. #severity and #assign combine with anything.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Name = Literal["note", "close", "severity", "assign", "pending", "called", "doc", "nokb"]


@dataclass(frozen=True, slots=True)
class Command:
    name: Name
    argument: str | None  # severity: "1".."4"; assign: the e-mail address; doc: the refs; others None


@dataclass(frozen=True, slots=True)
class Commands:
    commands: tuple[Command, ...]
    errors: tuple[str, ...]  # one clear line per unknown or malformed command
    text: str  # the text after the command lines (leading blank lines removed)


_KNOWN = "(known: #note, #close, #severity N, #assign ADDRESS, #pending, #called, #doc REF, #nokb)"
_NAMES: dict[str, Name] = {
    "note": "note", "close": "close", "severity": "severity", "assign": "assign", "pending": "pending",
    "called": "called", "doc": "doc", "nokb": "nokb",
}  # fmt: skip
_NO_ARGUMENT: frozenset[Name] = frozenset({"note", "close", "pending", "called", "nokb"})
_LINE = re.compile(r"^#(?P<name>[^\s:]*)\s*:?\s*(?P<argument>.*)$")
_ADDRESS = re.compile(r"^<?(?P<address>[^\s@<>]+@[^\s@<>]+\.[^\s@<>.]+)>?$")
_SEVERITIES = frozenset({"1", "2", "3", "4"})


def _name(word: str) -> Name | None:
    return _NAMES.get(word.lower())


def _argument(name: Name, argument: str) -> tuple[str | None, str | None]:
    """(the checked argument, None) or (None, the error line)."""
    if name in _NO_ARGUMENT:
        if argument:
            return None, f'#{name} takes no argument, got "{argument}"'
        return None, None
    if name == "severity":
        if argument in _SEVERITIES:
            return argument, None
        return None, f'#severity needs 1, 2, 3 or 4, got {_shown(argument)}'
    if name == "doc":
        return (argument, None) if argument else (None, "#doc needs a section: its number in the notification or its ref")
    match = _ADDRESS.match(argument)
    if match is None:
        return None, f"#assign needs one e-mail address, got {_shown(argument)}"
    return match.group("address"), None


def _shown(argument: str) -> str:
    return f'"{argument}"' if argument else "nothing"


def _command(line: str) -> tuple[Command | None, str | None]:
    """One command line -> (the command, None) or (None, the error line)."""
    match = _LINE.match(line)
    word = match.group("name") if match else ""
    name = _name(word)
    if match is None or name is None:
        written = line.split()[0] if line.split() else line
        return None, f'unknown command "{written}" {_KNOWN}'
    argument, error = _argument(name, match.group("argument").strip())
    if error is not None:
        return None, error
    return Command(name, argument), None


def _conflicts(commands: list[Command]) -> list[str]:
    names = {command.name for command in commands}
    if {"close", "pending"} <= names:
        return ["#close and #pending cannot be used together"]
    return []


def _block(lines: list[str]) -> int:
    """The index of the first line after the command block."""
    for index, line in enumerate(lines):
        if line.strip() and not line.lstrip().startswith("#"):
            return index
    return len(lines)


def parse_commands(text: str) -> Commands:
    """The commands at the top of ``text``, the errors in them, and the text that follows."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    end = _block(lines)
    commands: list[Command] = []
    errors: list[str] = []
    for line in (raw.strip() for raw in lines[:end]):
        if not line:
            continue
        command, error = _command(line)
        if command is not None and any(seen.name == command.name for seen in commands):
            error, command = f"#{command.name} given more than once", None
        if command is not None:
            commands.append(command)
        if error is not None:
            errors.append(error)
    errors.extend(_conflicts(commands))
    rest = "\n".join(line.rstrip() for line in lines[end:]).rstrip()
    return Commands(tuple(commands), tuple(errors), rest)
