"""Mail commands at the top of a consultant's reply."""
from __future__ import annotations

import pytest

from parsers.commands import Command, Commands, parse_commands

KNOWN = "(known: #note, #close, #severity N, #assign ADDRESS, #pending, #called, #doc REF, #nokb)"


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("#note", Command("note", None)),
        ("#close", Command("close", None)),
        ("#pending", Command("pending", None)),
        ("#called", Command("called", None)),
        ("#severity 2", Command("severity", "2")),
        ("#severity: 1", Command("severity", "1")),
        ("#severity:4", Command("severity", "4")),
        ("#SEVERITY 3", Command("severity", "3")),
        ("#Close", Command("close", None)),
        ("#assign anna@example.org", Command("assign", "anna@example.org")),
        ("#assign: <anna@example.org>", Command("assign", "anna@example.org")),
        ("  #note  ", Command("note", None)),
    ],
)
def test_each_command(line: str, command: Command) -> None:
    parsed = parse_commands(f"{line}\nTreść odpowiedzi.")
    assert parsed == Commands(commands=(command,), errors=(), text="Treść odpowiedzi.")


def test_combination_with_blank_lines_before_and_between() -> None:
    body = "\n\n#severity 2\n\n#assign anna@example.org\n#pending\n\n\nProszę o zrzut ekranu.\n\nDrugi akapit.\n"
    parsed = parse_commands(body)
    assert parsed.commands == (
        Command("severity", "2"),
        Command("assign", "anna@example.org"),
        Command("pending", None),
    )
    assert parsed.errors == ()
    assert parsed.text == "Proszę o zrzut ekranu.\n\nDrugi akapit."


@pytest.mark.parametrize("other", ["#close", "#pending"])
def test_note_with_close_or_pending_is_allowed(other: str) -> None:
    parsed = parse_commands(f"#note\n{other}\nSprawdzone telefonicznie, bez odpowiedzi do klienta.")
    assert [c.name for c in parsed.commands] == ["note", other[1:]]
    assert parsed.errors == ()


def test_close_with_pending_is_an_error() -> None:
    parsed = parse_commands("#close\n#pending\nTekst")
    assert parsed.errors == ("#close and #pending cannot be used together",)


def test_only_commands_leave_empty_text() -> None:
    assert parse_commands("#close") == Commands((Command("close", None),), (), "")
    assert parse_commands("") == Commands((), (), "")


def test_unknown_command() -> None:
    parsed = parse_commands("#closed\nTekst")
    assert parsed.commands == ()
    assert parsed.errors == (f'unknown command "#closed" {KNOWN}',)
    assert parsed.text == "Tekst"


def test_number_after_hash_is_an_unknown_command() -> None:
    """"#1 problem" at the top is reported, not silently sent as text."""
    parsed = parse_commands("#1 problem z drukarką\nOpis")
    assert parsed.errors == (f'unknown command "#1" {KNOWN}',)
    assert parsed.text == "Opis"


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("#severity 7", '#severity needs 1, 2, 3 or 4, got "7"'),
        ("#severity", "#severity needs 1, 2, 3 or 4, got nothing"),
        ("#severity 2 high", '#severity needs 1, 2, 3 or 4, got "2 high"'),
        ("#severity high", '#severity needs 1, 2, 3 or 4, got "high"'),
        ("#assign", "#assign needs one e-mail address, got nothing"),
        ("#assign anna", '#assign needs one e-mail address, got "anna"'),
        ("#assign anna@example.org jan@example.org", '#assign needs one e-mail address, got "anna@example.org jan@example.org"'),
        ("#close now", '#close takes no argument, got "now"'),
        ("#note: ważne", '#note takes no argument, got "ważne"'),
        ("#pending 3 days", '#pending takes no argument, got "3 days"'),
        ("# note", f'unknown command "#" {KNOWN}'),
        ("#", f'unknown command "#" {KNOWN}'),
    ],
)
def test_malformed_commands(line: str, error: str) -> None:
    parsed = parse_commands(f"{line}\nTekst")
    assert parsed.commands == ()
    assert parsed.errors == (error,)
    assert parsed.text == "Tekst"


def test_duplicate_command_is_an_error_and_the_first_stays() -> None:
    parsed = parse_commands("#severity 2\n#close\n#severity 3\n#CLOSE\nTekst")
    assert parsed.commands == (Command("severity", "2"), Command("close", None))
    assert parsed.errors == ("#severity given more than once", "#close given more than once")


def test_errors_and_valid_commands_together() -> None:
    parsed = parse_commands("#severity 9\n#close\n#foo\n\nTekst")
    assert parsed.commands == (Command("close", None),)
    assert parsed.errors == ('#severity needs 1, 2, 3 or 4, got "9"', f'unknown command "#foo" {KNOWN}')


def test_commands_after_text_are_text() -> None:
    body = "Dzień dobry,\n#close\n#severity 1\n"
    parsed = parse_commands(body)
    assert parsed == Commands((), (), "Dzień dobry,\n#close\n#severity 1")


def test_first_text_line_ends_the_block() -> None:
    parsed = parse_commands("#note\nNotatka.\n#close\n")
    assert parsed.commands == (Command("note", None),)
    assert parsed.text == "Notatka.\n#close"


def test_crlf_input() -> None:
    parsed = parse_commands("#severity: 2\r\n\r\n#note\r\nLinia 1\r\nLinia 2\r\n")
    assert parsed == Commands(
        (Command("severity", "2"), Command("note", None)), (), "Linia 1\nLinia 2"
    )


def test_no_commands_keeps_the_text() -> None:
    assert parse_commands("\n\nOdpowiedź.\n\n> cytat w treści\n") == Commands((), (), "Odpowiedź.\n\n> cytat w treści")
