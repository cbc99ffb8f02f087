"""The `hotline` command: a thin layer of argument parsing over the gateway's modules.

Exit codes: 0 fine, 1 failed, 2 bad input or config, 75 (EX_TEMPFAIL) store unavailable,
so that an MTA piping into `hotline ingest -` keeps the message and retries; 141 (as a shell
reports SIGPIPE) when the reader of our output went away (`hotline tickets list | head -1`).
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime, timezone
from importlib import import_module
from importlib.metadata import version
from types import ModuleType
from typing import NoReturn

from storage.kinds import TicketStatus

EX_FAIL, EX_USAGE, EX_TEMPFAIL, EX_PIPE = 1, 2, 75, 141
NUMBER_HELP = "ticket number, HOT-YYYY-NNNNNN (e.g. HOT-2026-000123)"


class CommandError(Exception):
    def __init__(self, message: str, code: int = EX_FAIL) -> None:
        super().__init__(message)
        self.code = code


class ArgParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, as the contract asks."""

    def error(self, message: str) -> NoReturn:
        self.exit(EX_USAGE, f"hotline: error: {message} (see hotline --help)\n")


def received_at(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def local_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def build_parser() -> ArgParser:
    parser = ArgParser(prog="hotline", description="E-mail and fax to ticket gateway.")
    parser.add_argument("--config", metavar="PATH", help="config file (default: $HOTLINE_CONFIG or ./hotline.toml)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('hotline')}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=ArgParser)

    sub.add_parser("run", help="the daemon: sources, workers and scheduler").set_defaults(command_function="cmd_run")

    p = sub.add_parser("ingest", help="feed an .eml, mbox, Maildir, folder or stdin")
    p.add_argument("--channel", choices=["email", "fax"],
                   help="the channel the messages came by (see README, Faxes)")
    p.add_argument("--received-at", type=received_at, help="receipt time, ISO 8601 (default: now)")
    p.add_argument("path", nargs="?", default="-", help="PATH or - for stdin (default)")
    p.set_defaults(command_function="cmd_ingest")

    t = sub.add_parser("tickets", help="look at tickets").add_subparsers(
        dest="tickets_command", required=True, parser_class=ArgParser
    )
    p = t.add_parser("list", help="tickets, oldest first")
    p.add_argument("--status", choices=[s.value for s in TicketStatus], help="only tickets in this state")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(command_function="cmd_tickets_list")
    p = t.add_parser("show", help="one ticket with its messages")
    p.add_argument("number", help=NUMBER_HELP)
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(command_function="cmd_tickets_show")

    p = sub.add_parser("outbox", help="show what waits to go out; --flush sends what is due")
    p.add_argument("--flush", action="store_true", help="send what is due now, then show what still waits")
    p.add_argument("--all", action="store_true", help="also show sent and failed messages")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(command_function="cmd_outbox")

    p = sub.add_parser("status", help="this and the other daemons on the database: mailbox leases, backlog, last poll")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(command_function="cmd_status")

    p = sub.add_parser("sla", help="open tickets in queue order with their SLA clocks; --flush sends what is due")
    p.add_argument("--flush", action="store_true", help="queue every reminder and escalation due now, send the outbox")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(command_function="cmd_sla")

    r = sub.add_parser("register", help="the auditors' register and the reply log: export, verify, checkpoint, prove").add_subparsers(
        dest="register_command", required=True, parser_class=ArgParser
    )
    p = r.add_parser("export", help="one row per ticket asked in a period, with the SLA results and totals")
    p.add_argument("--from", dest="first", required=True, type=local_date, metavar="DATE", help="first local date (YYYY-MM-DD), included")
    p.add_argument("--to", dest="last", required=True, type=local_date, metavar="DATE", help="last local date (YYYY-MM-DD), included")
    p.add_argument("--format", required=True, choices=["csv", "json", "html"], help="CSV (a spreadsheet), JSON or a printable HTML page")
    p.add_argument("--out", metavar="FILE", help="write here (whole or not at all) instead of stdout")
    p.add_argument("--language", choices=["pl", "en"], help="headings of the HTML page (default: [templates] language)")
    p.set_defaults(command_function="cmd_register_export")
    p = r.add_parser("verify", help="check the log file and the database, and each checkpoint given")
    p.add_argument("--checkpoint", action="append", default=[], metavar="FILE",
                   help="a signed checkpoint kept earlier (e.g. from a user's mail); may be repeated")
    p.set_defaults(command_function="cmd_register_verify")
    r.add_parser("checkpoint", help="print the current signed checkpoint").set_defaults(
        command_function="cmd_register_checkpoint")
    p = r.add_parser("prove", help="a ticket's log entries with inclusion proofs against the latest checkpoint")
    p.add_argument("number", help=NUMBER_HELP)
    p.set_defaults(command_function="cmd_register_prove")

    k = sub.add_parser("kb", help="the knowledge base: documentation sections and past answers").add_subparsers(
        dest="kb_command", required=True, parser_class=ArgParser
    )
    p = k.add_parser("index", help="index changed documentation ([knowledge] docs) and new answers")
    p.add_argument("--rebuild", action="store_true", help="drop the index and build it anew")
    p.set_defaults(command_function="cmd_kb_index")
    p = k.add_parser("search", help="the best documentation sections and answered tickets for a text")
    p.add_argument("text", nargs="+", help="the question (words may be given unquoted)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(command_function="cmd_kb_search")

    sub.add_parser("check-config", help="validate the config").set_defaults(command_function="cmd_check_config")
    d = sub.add_parser("db", help="database maintenance").add_subparsers(
        dest="db_command", required=True, parser_class=ArgParser
    )
    d.add_parser("upgrade", help="apply migrations").set_defaults(command_function="cmd_db_upgrade")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = getattr(load_commands(), args.command_function)
    try:
        code = func(args)
        sys.stdout.flush()  # inside the try: a reader gone shows here, not at exit
        return code
    except CommandError as exc:
        print(f"hotline: error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return reader_gone()


def load_commands() -> ModuleType:
    """Import the commands with the cyclic garbage collector paused, then freeze what the
    imports built: they make some 100,000 long-lived objects (classes, regexes, SQLAlchemy's
    tables) that would otherwise trigger and survive a dozen full collections. An MTA runs
    `hotline ingest -` once per message, so this is a tenth of a second on each (measured
    in bench/startup_bench.py), and the daemon's later collections skip them too. Only the
    first time: a second freeze (commands run in-process, as the tests do) would keep
    the garbage of the first command for good, its database connections included."""
    if (loaded := sys.modules.get("gateway.cli.commands")) is not None:
        return loaded
    gc.disable()
    try:
        return import_module("gateway.cli.commands")
    finally:
        gc.freeze()
        gc.enable()


def reader_gone() -> int:
    """The reader (head, less) has what it wanted: no traceback, and no second error when
    Python flushes stdout at exit."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a file (tests capture it)
        pass
    return EX_PIPE


if __name__ == "__main__":
    sys.exit(main())
