"""The `hotline` command: a thin layer of argument parsing over the gateway's modules.

Exit codes: 0 fine, 1 failed, 2 bad input or config, 75 (EX_TEMPFAIL) store unavailable,
so that an MTA piping into `hotline ingest -` keeps the message and retries; 141 (as a shell
reports SIGPIPE) when the reader of our output went away (`hotline tickets list | head -1`).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from importlib.metadata import version
from typing import NoReturn

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

from gateway import logs, settings as config
from gateway.pipeline import tickets
from gateway.cli import views
from gateway.intake.inbox import Incoming
from gateway.intake.ingest import ingest
from gateway.intake.workers import Parser
from storage import db
from storage.models import TicketStatus

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


def build_parser() -> ArgParser:
    parser = ArgParser(prog="hotline", description="E-mail and fax to ticket gateway.")
    parser.add_argument("--config", metavar="PATH", help="config file (default: $HOTLINE_CONFIG or ./hotline.toml)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('hotline')}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=ArgParser)

    sub.add_parser("run", help="the daemon: sources, workers and scheduler").set_defaults(func=cmd_run)

    p = sub.add_parser("ingest", help="feed an .eml, mbox, Maildir, folder or stdin")
    p.add_argument("--channel", choices=["email", "fax"],
                   help="the channel the messages came by (see README, Faxes)")
    p.add_argument("--received-at", type=received_at, help="receipt time, ISO 8601 (default: now)")
    p.add_argument("path", nargs="?", default="-", help="PATH or - for stdin (default)")
    p.set_defaults(func=cmd_ingest)

    t = sub.add_parser("tickets", help="look at tickets").add_subparsers(
        dest="tickets_command", required=True, parser_class=ArgParser
    )
    p = t.add_parser("list", help="tickets, oldest first")
    p.add_argument("--status", choices=[s.value for s in TicketStatus], help="only tickets in this state")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=cmd_tickets_list)
    p = t.add_parser("show", help="one ticket with its messages")
    p.add_argument("number", help=NUMBER_HELP)
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=cmd_tickets_show)

    p = sub.add_parser("outbox", help="show what waits to go out; --flush sends what is due")
    p.add_argument("--flush", action="store_true", help="send what is due now, then show what still waits")
    p.add_argument("--all", action="store_true", help="also show sent and failed messages")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=cmd_outbox)

    sub.add_parser("check-config", help="validate the config").set_defaults(func=cmd_check_config)
    d = sub.add_parser("db", help="database maintenance").add_subparsers(
        dest="db_command", required=True, parser_class=ArgParser
    )
    d.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
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


def reader_gone() -> int:
    """The reader (head, less) has what it wanted: no traceback, and no second error when
    Python flushes stdout at exit."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a file (tests capture it)
        pass
    return EX_PIPE


def load_settings(args: argparse.Namespace) -> config.Settings:
    path = config.config_path(args.config)
    try:
        loaded = config.load(path)
    except config.ConfigError as exc:
        more = f" (and {len(exc.problems) - 1} more: run hotline check-config)" if len(exc.problems) > 1 else ""
        raise CommandError(f"{path}: {exc.problems[0]}{more}", EX_USAGE) from exc
    logs.configure(loaded.logging.format, loaded.logging.level)
    return loaded


def startup_problems(settings: config.Settings) -> list[str]:
    """What must hold before mail is routed: every secret (resolved late, they may rotate),
    and the templates, without which no acknowledgement can ever be sent."""
    from gateway.outbound import templates

    missing = templates.problem(settings.templates.dir)
    return [*([f"templates.dir: {missing}"] if missing else []), *config.check_secrets(settings)]


def require_secrets(settings: config.Settings) -> None:
    """Commands that route mail need every secret now, not at the first message."""
    if problems := startup_problems(settings):
        more = f" (and {len(problems) - 1} more: run hotline check-config)" if len(problems) > 1 else ""
        raise CommandError(f"{settings.source}: {problems[0]}{more}", EX_USAGE)


def open_store(settings: config.Settings) -> sessionmaker[Session]:
    try:
        return db.open_store(settings.storage.url)
    except db.StoreMisconfigured as exc:
        raise store_misconfigured(settings, exc) from exc
    except db.StoreUnavailable as exc:
        raise CommandError(str(exc), EX_TEMPFAIL) from exc


def store_misconfigured(settings: config.Settings, exc: Exception) -> CommandError:
    """A database that is missing or refuses us is a config problem (2), not a wait (75)."""
    return CommandError(f"{settings.source}: storage.url: {str(exc).splitlines()[0]}", EX_USAGE)


def cmd_ingest(args: argparse.Namespace) -> int:
    from gateway.sources.files import open_source

    settings = load_settings(args)
    require_secrets(settings)
    factory = open_store(settings)
    try:
        source = open_source(args.path)
    except OSError as exc:
        raise CommandError(str(exc), EX_USAGE) from exc
    parser = Parser(settings)
    progress = tqdm(total=source.count, unit="msg", file=sys.stderr, disable=not sys.stderr.isatty())
    try:
        items = (Incoming(m.raw, args.channel or m.channel) for m in source.messages)
        for outcome in ingest(factory, settings, parser, items, source.label, args.received_at):
            print(json.dumps(asdict(outcome), ensure_ascii=False), flush=False)
            progress.update()
    except OperationalError as exc:
        raise CommandError(f"store unavailable: {str(exc).splitlines()[0]}", EX_TEMPFAIL) from exc
    finally:
        progress.close()
        parser.close()
        sys.stdout.flush()
    return 0


def cmd_tickets_list(args: argparse.Namespace) -> int:
    factory = open_store(load_settings(args))
    with factory() as session:
        for ticket, question in tickets.listing(session, args.status):
            if args.json:
                print(json.dumps(views.ticket_json(ticket, question), ensure_ascii=False))
            else:
                print(views.ticket_line(ticket))
    return 0


def cmd_tickets_show(args: argparse.Namespace) -> int:
    factory = open_store(load_settings(args))
    with factory() as session:
        ticket = tickets.by_number(session, args.number.strip())
        if ticket is None:
            raise CommandError(f"no ticket {args.number!r}", EX_USAGE)
        question = tickets.question_text(session, ticket)
        data = views.ticket_json(ticket, question, list(ticket.messages), tickets.events_of(session, ticket))
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
    else:
        print(views.ticket_text(data))
    return 0


def cmd_outbox(args: argparse.Namespace) -> int:
    from gateway.outbound import delivery
    from gateway.outbound import outbox
    from gateway.outbound.transport import open_transport

    settings = load_settings(args)
    factory = open_store(settings)
    failed = False
    try:
        if args.flush:
            while results := delivery.send_due(factory, settings, open_transport(settings.outbound)):
                for r in results:
                    print(f"#{r.outbox_id} {r.outcome} to {r.to}" + (f": {r.error}" if r.error else ""))
                    failed |= r.outcome != "sent"
                if any(r.outcome != "sent" for r in results):
                    break  # what was deferred is not due again now
        with factory() as session:
            rows = outbox.waiting(session, everything=args.all)
    except OperationalError as exc:
        raise CommandError(f"store unavailable: {str(exc).splitlines()[0]}", EX_TEMPFAIL) from exc
    for row in rows:
        print(json.dumps(views.outbox_json(row), ensure_ascii=False) if args.json else views.outbox_text(row))
    if not rows and not args.json:
        print("nothing waits to go out")
    return EX_FAIL if failed else 0


def cmd_check_config(args: argparse.Namespace) -> int:
    path = config.config_path(args.config)
    try:
        loaded = config.load(path)
    except config.ConfigError as exc:
        print(exc, file=sys.stderr)
        return EX_USAGE
    for warning in config.warnings(loaded):
        print(f"{path}: warning: {warning}", file=sys.stderr)
    problems = startup_problems(loaded)
    for problem in problems:
        print(f"{path}: {problem}", file=sys.stderr)
    if problems:
        return EX_USAGE
    store = make_url(loaded.storage.url).render_as_string(hide_password=True)
    print(f"{path.resolve()}: OK (store {store}, outbox {outbox_place(loaded)})")
    return 0


def outbox_place(settings: config.Settings) -> str:
    out = settings.outbound
    return f"Maildir {out.maildir}" if out.transport == "maildir" else f"relay {out.host}:{out.port}"


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    try:
        revision = db.upgrade(db.make_engine(settings.storage.url))
    except OperationalError as exc:
        if db.is_permanent(exc):
            raise store_misconfigured(settings, exc) from exc
        raise CommandError(f"store unavailable: {str(exc).splitlines()[0]}", EX_TEMPFAIL) from exc
    print(f"database {make_url(settings.storage.url).render_as_string(hide_password=True)} at schema {revision}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from gateway.service.daemon import ListenError, run

    settings = load_settings(args)
    require_secrets(settings)
    logs.configure(settings.logging.format, settings.logging.level, sys.stdout)  # journald reads stdout
    try:
        return run(settings, open_store(settings))
    except ListenError as exc:
        raise CommandError(f"{settings.source}: {exc}", EX_USAGE) from exc


if __name__ == "__main__":
    sys.exit(main())
