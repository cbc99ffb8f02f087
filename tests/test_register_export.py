"""`hotline register export` through the real command: questions, answers and closes fed by
`hotline ingest --received-at`, then the register of a week whose ends and middle cross the
spring DST change (Sunday 2027-03-28) and Easter Monday (2027-03-29, a Polish holiday).

Warsaw is UTC+1 until 2027-03-28 01:00Z, UTC+2 after: the local week 2027-03-22..28 is the
UTC instants [2027-03-21T23:00Z, 2027-03-28T22:00Z). The plan's targets are short (response
1h, resolution 2h of working time, 08:00-16:00) so that met and breached are easy to reckon.
"""
from __future__ import annotations

import csv
import io
import json
import math
import subprocess
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from gateway import tokens
from tests import mailfactory as mf
from tests.support import Hotline, consultants_config, write_config

SECRET = "a-test-secret-of-32-characters!!"
PLAN = """
[sla.plans.standard]
[sla.plans.standard.targets]
"1" = { response = "1h", resolution = "2h" }
"2" = { response = "1h", resolution = "2h" }
"3" = { response = "1h", resolution = "2h" }
"4" = { response = "1h", resolution = "2h" }
"""
KLODZKO, STAROSTWO = "Urząd Gminy Kłodzko", "Starostwo Powiatowe w Nysie"
ROW_KEYS = ["number", "channel", "received_at", "effective_received_at", "user_name", "office", "subject",
            "question", "answer", "answered_at", "status", "severity", "plan", "sla", "log_index"]  # fmt: skip
CLOCK_KEYS = ["due_at", "done_at", "met", "late_minutes", "late_started_hours"]
CLOCKS = ["ack", "response", "resolution"]


@pytest.fixture
def hotline(db_url: str, tmp_path: Path) -> Hotline:
    return Hotline(write_config(tmp_path / "c.toml", db_url, consultants_config(tmp_path) + PLAN))


def form(name: str, office: str, subject: str, n: int) -> bytes:
    """A HOT-01 form typed into an e-mail body: the register's user and office come from it."""
    body = (f"Zgłoszenie pytania HOT-01\n\nImię i nazwisko Użytkownika: {name}\nNazwa Urzędu: {office}\n"
            f"Zwrotny nr telefonu, faxu i/lub e-mail: user{n}@gmina.example.pl\nTreść pytania\n"
            f"Pytanie numer {n}: jak wyeksportować sprawozdanie?\n")  # fmt: skip
    return mf.make_message(subject=subject, sender=f"{name} <user{n}@gmina.example.pl>", body=body,
                           message_id=f"<q{n}@gmina.example.pl>")  # fmt: skip


def reply(number: str, text: str, n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Anna Nowak <anna@example.org>"
    msg["To"] = tokens.reply_address("hotline@example.org", number, SECRET)
    msg["Subject"] = f"Re: [HOT#{number[4:]}] pytanie"
    msg["Message-ID"] = f"<a{n}@example.org>"
    msg.set_content(text)
    return msg.as_bytes()


def ingest(hotline: Hotline, folder: Path, raw: bytes, at: str) -> str:
    path = folder / "in.eml"
    path.write_bytes(raw)
    result = hotline.process("ingest", "--received-at", at, str(path))
    assert result.code == 0, result.err
    return str(json.loads(result.out)["ticket"])


def scenario(hotline: Hotline, folder: Path) -> dict[str, str]:
    """Five questions around the week's ends, two answers, one close."""
    at = {
        "before": "2027-03-21T22:59:00Z",  # Sunday 21st 23:59 local: the day before the period
        "first": "2027-03-21T23:00:00Z",  # Monday 22nd 00:00 local: the period's first instant
        "saturday": "2027-03-27T22:59:00Z",  # Saturday 27th 23:59 local (UTC+1)
        "last": "2027-03-28T21:59:00Z",  # Sunday 28th 23:59 local (UTC+2 since 03:00)
        "after": "2027-03-28T22:00:00Z",  # Monday 29th 00:00 local: one hour before a UTC+1 reckoning would end
    }
    offices = {"before": KLODZKO, "first": KLODZKO, "saturday": KLODZKO, "last": STAROSTWO, "after": STAROSTWO}
    numbers = {key: ingest(hotline, folder, form("Jan Kowalski", offices[key], f"Pytanie {key}", i), moment)
               for i, (key, moment) in enumerate(at.items())}  # fmt: skip
    # first: effective Monday 08:00 local (07:00Z); answered 08:30 (met), closed 11:00 (resolution due 10:00: 60 min late)
    ingest(hotline, folder, reply(numbers["first"], "Proszę wybrać Raporty > Eksport.", 1), "2027-03-22T07:30:00Z")
    ingest(hotline, folder, reply(numbers["first"], "#close\nZamykam zgłoszenie.", 2), "2027-03-22T10:00:00Z")
    # saturday: effective Tuesday 30th 08:00 CEST (06:00Z; Easter Monday is a holiday); answered 11:30: 150 min late
    ingest(hotline, folder, reply(numbers["saturday"], "Proszę zainstalować poprawkę 4.12.1.", 3), "2027-03-30T09:30:00Z")
    return numbers


def export(hotline: Hotline, fmt: str, *more: str) -> str:
    result = hotline.process("register", "export", "--from", "2027-03-22", "--to", "2027-03-28", "--format", fmt, *more)
    assert result.code == 0, result.err
    return result.out


def test_json_and_csv_rows_period_ends_sla_and_totals(hotline: Hotline, tmp_path: Path) -> None:
    numbers = scenario(hotline, tmp_path)
    data = json.loads(export(hotline, "json"))
    assert list(data) == ["rows", "totals", "checkpoint"]
    rows = {r["number"]: r for r in data["rows"]}
    # local dates of the default calendar, both ends included, across the DST change
    assert list(rows) == [numbers["first"], numbers["saturday"], numbers["last"]]
    for row in data["rows"]:
        assert list(row) == ROW_KEYS
        assert list(row["sla"]) == CLOCKS and all(list(c) == CLOCK_KEYS for c in row["sla"].values())
        for clock in row["sla"].values():
            assert clock["late_started_hours"] == math.ceil(clock["late_minutes"] / 60)

    first, saturday, last = rows[numbers["first"]], rows[numbers["saturday"]], rows[numbers["last"]]
    assert (first["user_name"], first["office"], last["office"]) == ("Jan Kowalski", KLODZKO, STAROSTWO)
    assert "Pytanie numer 1" in first["question"] and first["answer"].startswith("Proszę wybrać Raporty > Eksport.")
    assert (first["status"], saturday["status"], last["status"]) == ("finished", "waiting", "waiting")
    assert first["received_at"] == "2027-03-21T23:00:00Z" and first["effective_received_at"] == "2027-03-22T07:00:00Z"
    assert first["answered_at"] == "2027-03-22T07:30:00Z" and last["answered_at"] is None
    assert first["sla"]["response"] == {"due_at": "2027-03-22T08:00:00Z", "done_at": "2027-03-22T07:30:00Z", "met": True,
                                        "late_minutes": 0, "late_started_hours": 0}  # fmt: skip
    assert first["sla"]["resolution"] == {"due_at": "2027-03-22T09:00:00Z", "done_at": "2027-03-22T10:00:00Z",
                                          "met": False, "late_minutes": 60, "late_started_hours": 1}  # fmt: skip
    assert saturday["effective_received_at"] == "2027-03-30T06:00:00Z"  # Easter Monday skipped, CEST
    assert saturday["sla"]["response"] == {"due_at": "2027-03-30T07:00:00Z", "done_at": "2027-03-30T09:30:00Z",
                                           "met": False, "late_minutes": 150, "late_started_hours": 3}  # fmt: skip
    assert last["sla"]["response"]["met"] is None  # not answered, not due yet when the export is made
    # the same clocks `tickets show --json` gives
    shown = json.loads(hotline.process("tickets", "show", numbers["saturday"], "--json").out)
    assert {c: (v["due_at"], v["done_at"]) for c, v in shown["sla"].items()} == \
        {c: (v["due_at"], v["done_at"]) for c, v in saturday["sla"].items()}  # fmt: skip
    assert data["checkpoint"] is None  # this config signs no checkpoints (no register key)
    assert all(isinstance(r["log_index"], int) for r in data["rows"])  # each ticket's last reply-log entry

    totals = data["totals"]
    assert {k: totals[k] for k in ("asked", "answered", "closed", "waiting")} == {
        "asked": 3, "answered": 2, "closed": 1, "waiting": 2}  # fmt: skip
    assert (totals["sla_met"]["response"], totals["sla_breached"]["response"]) == (1, 1)
    assert (totals["sla_met"]["resolution"], totals["sla_breached"]["resolution"]) == (0, 1)
    assert {o: t["asked"] for o, t in totals["by_office"].items()} == {KLODZKO: 2, STAROSTWO: 1}
    assert totals["by_office"][KLODZKO]["sla_breached"]["response"] == 1
    assert sum(t["asked"] for t in totals["by_severity"].values()) == 3
    assert {w: t["asked"] for w, t in totals["by_week"].items()} == {"2027-W12": 3}
    for clock in CLOCKS:  # the totals are the rows counted
        assert totals["sla_met"][clock] == sum(r["sla"][clock]["met"] is True for r in data["rows"])
        assert totals["sla_breached"][clock] == sum(r["sla"][clock]["met"] is False for r in data["rows"])

    table = list(csv.reader(io.StringIO(export(hotline, "csv"))))
    header = [k for k in ROW_KEYS if k != "sla"]
    header[header.index("plan") + 1 : header.index("plan") + 1] = [f"sla_{c}_{k}" for c in CLOCKS for k in CLOCK_KEYS]
    assert table[0] == header
    assert [line[0] for line in table[1:]] == list(rows)
    line = dict(zip(table[0], table[1]))
    assert (line["office"], line["status"], line["sla_resolution_met"], line["sla_resolution_late_started_hours"]) == (
        KLODZKO, "finished", "false", "1")  # fmt: skip
    assert line["sla_response_done_at"] == "2027-03-22T07:30:00Z" and line["log_index"].isdigit()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_formula_is_not_run_by_a_spreadsheet_and_bad_periods_are_one_line_errors(hotline: Hotline, tmp_path: Path) -> None:
    raw = mf.make_message(subject='=HYPERLINK("http://evil.example/","klik")', message_id="<f@gmina.example.pl>")
    number = ingest(hotline, tmp_path, raw, "2027-03-23T09:00:00Z")
    line = dict(zip(*csv.reader(io.StringIO(export(hotline, "csv")))))
    assert line["number"] == number and line["subject"] == '\'=HYPERLINK("http://evil.example/","klik")'
    assert json.loads(export(hotline, "json"))["rows"][0]["subject"] == '=HYPERLINK("http://evil.example/","klik")'
    out = tmp_path / "r.json"
    for args in (["--from", "2027-03-29", "--to", "2027-03-28"], ["--from", "2027-02-30", "--to", "2027-03-28"]):
        bad = hotline.process("register", "export", *args, "--format", "json", "--out", str(out))
        assert bad.code == 2 and len(bad.err.strip().splitlines()) == 1 and not out.exists(), bad.err
    missing = hotline.process("register", "export", "--from", "2027-03-22", "--to", "2027-03-28", "--format", "csv",
                              "--out", str(tmp_path / "no" / "such" / "r.csv"))  # fmt: skip
    assert missing.code == 2 and "--out" in missing.err and len(missing.err.strip().splitlines()) == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_html_register_prints_in_a_real_browser(hotline: Hotline, tmp_path: Path) -> None:
    numbers = scenario(hotline, tmp_path)
    page = tmp_path / "register.html"
    assert export(hotline, "html", "--out", str(page)) == ""
    text = page.read_text(encoding="utf-8")
    assert "<script" not in text.lower() and "src=" not in text and "href=" not in text and "<svg" in text
    pdf = tmp_path / "register.pdf"
    browser = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
         "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri()],
        capture_output=True, timeout=120,
    )  # fmt: skip
    assert browser.returncode == 0 and pdf.exists(), browser.stderr.decode()[-2000:]
    printed = " ".join(p.extract_text() for p in PdfReader(pdf).pages)
    for number in (numbers["first"], numbers["saturday"], numbers["last"]):
        assert number in printed
    assert numbers["before"] not in printed and numbers["after"] not in printed
    for heading in ("Rejestr pytań użytkowników i udzielonych odpowiedzi", "Podsumowanie", "Według urzędu",
                    "Dotrzymanie SLA w tygodniach", KLODZKO):  # fmt: skip
        assert heading in printed, heading
    english = export(hotline, "html", "--language", "en")
    assert "Per office" in english and "SLA compliance per week" in english
