"""The register as one self-contained printable page: no script, no external file (the
style is inline, the chart is inline SVG), Polish or English headings, times in the local
time of the default calendar. The rows are written as they come; the totals and the weekly
SLA chart follow them, as the sum at the foot of a paper register does.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from html import escape
from typing import Literal, TextIO

from gateway.register.export import Counts, Period, Row, Totals
from gateway.sla.clocks import Clock
from gateway.worktime import WorkCalendar

Language = Literal["pl", "en"]

LABELS: dict[Language, dict[str, str]] = {
    "pl": {
        "title": "Rejestr pytań użytkowników i udzielonych odpowiedzi",
        "period": "Okres", "made": "Sporządzono", "checkpoint": "Punkt kontrolny dziennika odpowiedzi",
        "no_checkpoint": "brak (nie skonfigurowano klucza podpisu: [register] key_file)", "times": "Czas lokalny",
        "number": "Numer", "channel": "Kanał", "received_at": "Data i godzina pytania",
        "effective_received_at": "Przyjęte jako", "user": "Użytkownik / urząd", "subject": "Temat pytania",
        "question": "Treść pytania", "answer": "Opis udzielonej odpowiedzi", "answered_at": "Data odpowiedzi",
        "status": "Status", "finished": "zakończone", "waiting": "oczekujące", "severity": "Ważność / plan",
        "sla": "SLA", "log_index": "Poz. dziennika",
        "summary": "Podsumowanie", "asked": "Pytania", "answered": "Odpowiedziane", "closed": "Zamknięte",
        "waiting_total": "Oczekujące", "met": "SLA dotrzymane", "by_office": "Według urzędu",
        "by_severity": "Według ważności", "office": "Urząd", "none": "(brak)", "weekly": "Dotrzymanie SLA w tygodniach",
        "ack": "potwierdzenie", "response": "odpowiedź", "resolution": "rozwiązanie", "late": "spóźnienie",
        "week": "Tydzień",
    },
    "en": {
        "title": "Register of users' questions and of the answers given",
        "period": "Period", "made": "Made", "checkpoint": "Reply log checkpoint",
        "no_checkpoint": "none (no signing key configured: [register] key_file)", "times": "Local time",
        "number": "Number", "channel": "Channel", "received_at": "Asked at",
        "effective_received_at": "Counted from", "user": "User / office", "subject": "Subject",
        "question": "Question", "answer": "Answer given", "answered_at": "Answered at",
        "status": "Status", "finished": "finished", "waiting": "waiting", "severity": "Severity / plan",
        "sla": "SLA", "log_index": "Log index",
        "summary": "Totals", "asked": "Asked", "answered": "Answered", "closed": "Closed",
        "waiting_total": "Waiting", "met": "SLA met", "by_office": "Per office",
        "by_severity": "Per severity", "office": "Office", "none": "(none)", "weekly": "SLA compliance per week",
        "ack": "acknowledgement", "response": "response", "resolution": "resolution", "late": "late",
        "week": "Week",
    },
}  # fmt: skip
COLOURS = {Clock.ACK: "#4e79a7", Clock.RESPONSE: "#f28e2b", Clock.RESOLUTION: "#59a14f"}
STYLE = """
@page { size: A4 landscape; margin: 10mm; }
body { font-family: "DejaVu Sans", "Liberation Sans", sans-serif; font-size: 8pt; color: #000; }
h1 { font-size: 13pt; margin: 0 0 4pt; } h2 { font-size: 11pt; margin: 12pt 0 4pt; }
table { border-collapse: collapse; width: 100%; } thead { display: table-header-group; }
th, td { border: 0.5pt solid #777; padding: 2pt 3pt; vertical-align: top; text-align: left; }
th { background: #eee; } tr { break-inside: avoid; }
td.text { white-space: pre-wrap; overflow-wrap: anywhere; max-width: 60mm; }
td.n { text-align: right; } td.number { white-space: nowrap; } .late { color: #a00; } p.meta { margin: 0 0 6pt; }
table.sums { width: auto; } svg { break-inside: avoid; }
"""


def write_html(out: TextIO, items: Iterable[Row], totals: Totals, checkpoint: str | None, span: Period,
               made_at: datetime, language: Language) -> None:  # fmt: skip
    words = LABELS[language]
    cal = totals.calendar
    out.write(_head(words, span, made_at, checkpoint, cal, language))
    for row in items:
        out.write(_row(row, words, cal))
    out.write("</tbody></table>\n")
    out.write(_summary(totals, words))
    out.write(f"<h2>{words['weekly']}</h2>\n{chart(totals, words)}\n</body></html>\n")


def _local(moment: datetime | None, cal: WorkCalendar) -> str:
    return "" if moment is None else moment.astimezone(cal.tz).strftime("%Y-%m-%d %H:%M")


def _head(words: dict[str, str], span: Period, made_at: datetime, checkpoint: str | None, cal: WorkCalendar,
          language: Language) -> str:  # fmt: skip
    columns = ("number", "channel", "received_at", "effective_received_at", "user", "subject", "question", "answer",
               "answered_at", "status", "severity", "sla", "log_index")  # fmt: skip
    mark = f"<pre>{escape(checkpoint)}</pre>" if checkpoint else escape(words["no_checkpoint"])
    return (f'<!DOCTYPE html>\n<html lang="{language}"><head><meta charset="utf-8">'
            f"<title>{escape(words['title'])} {span.first}–{span.last}</title><style>{STYLE}</style></head><body>\n"
            f"<h1>{escape(words['title'])}</h1>\n"
            f'<p class="meta">{words["period"]}: {span.first} – {span.last}. {words["times"]}: {cal.tz.key}. '
            f"{words['made']}: {_local(made_at, cal)}.</p>\n"
            f'<p class="meta">{words["checkpoint"]}: {mark}</p>\n'
            "<table><thead><tr>" + "".join(f"<th>{escape(words[c])}</th>" for c in columns) + "</tr></thead><tbody>\n")  # fmt: skip


def _row(row: Row, words: dict[str, str], cal: WorkCalendar) -> str:
    who = " / ".join(escape(v) for v in (row.user_name, row.office) if v)
    sla = "<br>".join(_clock(clock, row, words, cal) for clock in row.sla)
    cells = (escape(row.channel), _local(row.received_at, cal),
             _local(row.effective_received_at, cal), who, escape(row.subject))  # fmt: skip
    return (f'<tr><td class="number">{escape(row.number)}</td>' + "".join(f"<td>{c}</td>" for c in cells)
            + f'<td class="text">{escape(row.question)}</td><td class="text">{escape(row.answer)}</td>'
            f"<td>{_local(row.answered_at, cal)}</td><td>{words[row.status]}</td>"
            f"<td>{row.severity} / {escape(row.plan or '')}</td><td>{sla}</td>"
            f'<td class="n">{"" if row.log_index is None else row.log_index}</td></tr>\n')  # fmt: skip


def _clock(clock: str, row: Row, words: dict[str, str], cal: WorkCalendar) -> str:
    """"response ✓ 2027-01-11 12:00", or the lateness in working minutes and started hours."""
    cell = row.sla[clock]
    mark = {True: "✓", False: "✗", None: "…"}[cell.met]
    late = (f' <span class="late">{words["late"]} {cell.late_minutes} min ({cell.late_started_hours} h)</span>'
            if cell.met is False else "")  # fmt: skip
    return f"{words[clock]} {mark} {_local(cell.due_at, cal)}{late}"


def _summary(totals: Totals, words: dict[str, str]) -> str:
    head = "".join(f"<th>{words[k]}</th>" for k in ("asked", "answered", "closed", "waiting_total"))
    head += "".join(f"<th>{words['met']}: {words[c.value]}</th>" for c in Clock)

    def line(name: str, counts: Counts) -> str:
        sla = "".join(f'<td class="n">{counts.sla_met[c.value]} / {counts.sla_met[c.value] + counts.sla_breached[c.value]}'
                      f"{_percent(counts.compliance(c.value))}</td>" for c in Clock)  # fmt: skip
        numbers = (counts.asked, counts.answered, counts.closed, counts.waiting)
        return f"<tr><th>{name}</th>" + "".join(f'<td class="n">{n}</td>' for n in numbers) + sla + "</tr>\n"

    def table(title: str, first: str, groups: list[tuple[str, Counts]]) -> str:
        body = "".join(line(name, counts) for name, counts in groups)
        return f'<h2>{title}</h2>\n<table class="sums"><thead><tr><th>{first}</th>{head}</tr></thead><tbody>\n{body}</tbody></table>\n'

    offices = [(escape(k) or words["none"], v) for k, v in sorted(totals.by_office.items())]
    return (table(words["summary"], "", [("", totals.all)]) + table(words["by_office"], words["office"], offices)
            + table(words["by_severity"], words["severity"], sorted(totals.by_severity.items())))  # fmt: skip


def _percent(share: float | None) -> str:
    return "" if share is None else f" ({share:.0%})"


def chart(totals: Totals, words: dict[str, str]) -> str:
    """Per ISO week, a bar per clock: the share of its decided clocks that were met."""
    weeks = sorted(totals.by_week.items())
    left, top, height, bar, gap = 40, 20, 160, 10, 14
    width = left + max(1, len(weeks)) * (3 * bar + gap) + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{top + height + 60}" '
             f'viewBox="0 0 {width} {top + height + 60}" role="img" aria-label="{escape(words["weekly"])}">']  # fmt: skip
    for pct in (0, 50, 100):
        y = top + height - height * pct / 100
        parts.append(f'<line x1="{left}" y1="{y:g}" x2="{width - 10}" y2="{y:g}" stroke="#ccc" stroke-width="0.5"/>'
                     f'<text x="{left - 4}" y="{y + 3:g}" font-size="9" text-anchor="end">{pct}%</text>')  # fmt: skip
    for i, (week, counts) in enumerate(weeks):
        x0 = left + gap / 2 + i * (3 * bar + gap)
        for j, clock in enumerate(Clock):
            share = counts.compliance(clock.value)
            if share is not None:
                h = height * share
                parts.append(f'<rect x="{x0 + j * bar:g}" y="{top + height - h:g}" width="{bar - 1}" height="{h:g}" '
                             f'fill="{COLOURS[clock]}"><title>{week} {words[clock.value]} {share:.0%}</title></rect>')  # fmt: skip
        parts.append(f'<text x="{x0 + 1.5 * bar:g}" y="{top + height + 12}" font-size="8" text-anchor="middle">{week}</text>')
    for j, clock in enumerate(Clock):
        x = left + j * 130
        parts.append(f'<rect x="{x}" y="{top + height + 30}" width="10" height="10" fill="{COLOURS[clock]}"/>'
                     f'<text x="{x + 14}" y="{top + height + 39}" font-size="9">{words[clock.value]}</text>')  # fmt: skip
    return "".join(parts) + "</svg>"
