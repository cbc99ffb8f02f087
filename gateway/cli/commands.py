"""The commands of `hotline`: each loads the config, opens the store and calls the module
that does the work. Imported only once a command runs, so that `hotline --help` and a
usage error cost nothing but argparse."""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, cast

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from gateway import logs, settings as config
from gateway.cli import EX_FAIL, EX_TEMPFAIL, EX_USAGE, CommandError
from storage import db

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from gateway.register.checkpoint import Checkpoint


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


def open_store(settings: config.Settings, idle_in_transaction_seconds: float | None = None) -> sessionmaker[Session]:
    try:
        return db.open_store(settings.storage.url, idle_in_transaction_seconds)
    except db.StoreMisconfigured as exc:
        raise store_misconfigured(settings, exc) from exc
    except db.StoreUnavailable as exc:
        raise CommandError(str(exc), EX_TEMPFAIL) from exc


IDLE_IN_TRANSACTION_FLOOR = 10.0  # seconds; a busy machine's pauses between two statements stay below it


def store_unavailable(exc: Exception) -> CommandError:
    """The server is down or went away mid-command: 75, so an MTA keeps the message and retries."""
    return CommandError(f"store unavailable: {str(exc).splitlines()[0]}", EX_TEMPFAIL)


def store_misconfigured(settings: config.Settings, exc: Exception) -> CommandError:
    """A database that is missing or refuses us is a config problem (2), not a wait (75)."""
    return CommandError(f"{settings.source}: storage.url: {str(exc).splitlines()[0]}", EX_USAGE)


def cmd_ingest(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from gateway.intake.inbox import Incoming
    from gateway.intake.ingest import ingest
    from gateway.intake.workers import Parser
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
        raise store_unavailable(exc) from exc
    finally:
        progress.close()
        parser.close()
        sys.stdout.flush()
    return 0


def cmd_tickets_list(args: argparse.Namespace) -> int:
    from gateway.cli import views
    from gateway.pipeline import tickets

    settings = load_settings(args)
    factory = open_store(settings)
    with factory() as session:
        listed = list(tickets.listing(session, args.status))
        if not args.json:
            for ticket, _ in listed:
                print(views.ticket_line(ticket))
            return 0
        trails = tickets.timeline_events(session, [ticket.id for ticket, _ in listed])  # one query, not one per ticket
        for ticket, question in listed:
            runs = tickets.sla_runs(session, settings.work_calendars, ticket, events=trails[ticket.id])
            print(json.dumps(views.ticket_json(ticket, question, runs=runs), ensure_ascii=False))
    return 0


def cmd_tickets_show(args: argparse.Namespace) -> int:
    from gateway.cli import views
    from gateway.pipeline import tickets

    settings = load_settings(args)
    factory = open_store(settings)
    with factory() as session:
        ticket = tickets.by_number(session, args.number.strip())
        if ticket is None:
            raise CommandError(f"no ticket {args.number!r}", EX_USAGE)
        question = tickets.question_text(session, ticket)
        runs = tickets.sla_runs(session, settings.work_calendars, ticket)
        data = views.ticket_json(ticket, question, list(ticket.messages), tickets.events_of(session, ticket), runs)
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
    else:
        print(views.ticket_text(data))
    return 0


def flush_outbox(factory: sessionmaker[Session], settings: config.Settings, show: bool = True) -> bool:
    """Send what is due now, a line per message; True when something was deferred or failed."""
    from gateway.outbound import delivery
    from gateway.outbound.transport import open_transport

    failed = False
    while results := delivery.send_due(factory, settings, open_transport(settings.outbound)):
        for r in results:
            if show:
                print(f"#{r.outbox_id} {r.outcome} to {r.to}" + (f": {r.error}" if r.error else ""))
            failed |= r.outcome != "sent"
        if any(r.outcome != "sent" for r in results):
            break  # what was deferred is not due again now
    return failed


def cmd_outbox(args: argparse.Namespace) -> int:
    from gateway.cli import views
    from gateway.outbound import outbox

    settings = load_settings(args)
    factory = open_store(settings)
    failed = False
    try:
        if args.flush:
            failed = flush_outbox(factory, settings)
        with factory() as session:
            rows = outbox.waiting(session, everything=args.all)
    except OperationalError as exc:
        raise store_unavailable(exc) from exc
    for row in rows:
        print(json.dumps(views.outbox_json(row), ensure_ascii=False) if args.json else views.outbox_text(row))
    if not rows and not args.json:
        print("nothing waits to go out")
    return EX_FAIL if failed else 0


def cmd_status(args: argparse.Namespace) -> int:
    """The daemons on this database, who polls which mailbox since when, what waits to be
    routed, and when each account was last polled."""
    from sqlalchemy import select

    from gateway.cli import views
    from gateway.service.metrics import read_backlog
    from gateway.sources import leases
    from storage.models import ImapState

    settings = load_settings(args)
    factory = open_store(settings)
    try:
        with factory() as session:
            held = {h.account: h for h in leases.holdings(session)}
            alive = leases.daemons(session, settings.daemon.lease_seconds)
            polled = {s.account: s.last_sync_at for s in session.scalars(select(ImapState))}
            backlog = read_backlog(session)
    except OperationalError as exc:
        raise store_unavailable(exc) from exc
    accounts = [f"imap:{a.name}" for a in settings.imap] + sorted(set(held) - {f"imap:{a.name}" for a in settings.imap})
    status = views.status_json(alive, accounts, held, polled, backlog)
    print(json.dumps(status, ensure_ascii=False) if args.json else views.status_text(status))
    return 0


def cmd_sla(args: argparse.Namespace) -> int:
    """The queue with its clocks; --flush first queues the stages due (each once) and sends."""
    from gateway.cli import views
    from gateway.service import sla

    settings = load_settings(args)
    factory = open_store(settings)
    failed = False
    try:
        if args.flush:
            for q in sla.run_due(factory, settings, views.now()):
                if not args.json:
                    print(f"queued {q.ticket} {q.clock} cycle {q.cycle} stage {q.stage} to {', '.join(q.to)}")
            failed = flush_outbox(factory, settings, show=not args.json)
        with factory() as session:
            for item in sla.queue_order(session, settings, views.now()):
                print(json.dumps(views.queue_json(item), ensure_ascii=False) if args.json else views.queue_text(item))
    except OperationalError as exc:
        raise store_unavailable(exc) from exc
    return EX_FAIL if failed else 0


def signing_key(settings: config.Settings) -> Ed25519PrivateKey:
    try:
        return settings.signing_key()
    except config.ConfigError as exc:
        raise CommandError(str(exc), EX_USAGE) from exc


def cmd_register_checkpoint(args: argparse.Namespace) -> int:
    from gateway.register import log

    settings = load_settings(args)
    key = signing_key(settings)
    with open_store(settings)() as session:
        print(log.signed_head(session, settings.register_.origin, key), end="")
    return 0


def cmd_register_verify(args: argparse.Namespace) -> int:
    from gateway.register import log, mirror
    from gateway.register.verify import first_problem

    settings = load_settings(args)
    checkpoints = [read_checkpoint(settings, path) for path in args.checkpoint]
    with open_store(settings)() as session:
        log.snapshot(session)
        head = log.head(session)
        try:
            problem = first_problem(mirror.read(Path(settings.register_.log)), log.lines(session), head, checkpoints)
        except mirror.LogFileError as exc:
            problem = str(exc)
    if problem:
        raise CommandError(f"reply log: {problem}")
    print(f"reply log verified: {head.size} entries, root {head.root().hex()}, "
          f"{len(checkpoints)} checkpoint(s) consistent")  # fmt: skip
    return 0


def read_checkpoint(settings: config.Settings, path: str) -> Checkpoint:
    from gateway.register import checkpoint

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}: cannot read the checkpoint: {exc}", EX_USAGE) from exc
    try:
        origin = settings.register_.origin
        return checkpoint.parse(checkpoint.find(text, origin), origin, signing_key(settings).public_key())
    except checkpoint.CheckpointError as exc:
        raise CommandError(f"{path}: {exc}") from exc


def cmd_register_prove(args: argparse.Namespace) -> int:
    from gateway.register import log, proofs

    settings = load_settings(args)
    key = signing_key(settings)
    with open_store(settings)() as session:
        log.snapshot(session)
        proof = proofs.prove(session, args.number, settings.register_.origin, key)
    if proof is None:
        raise CommandError(f"no ticket {args.number}")
    print(json.dumps(proof, ensure_ascii=False, indent=1))
    return 0


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
        raise store_unavailable(exc) from exc
    print(f"database {make_url(settings.storage.url).render_as_string(hide_password=True)} at schema {revision}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from gateway.service.daemon import ListenError, run

    settings = load_settings(args)
    require_secrets(settings)
    logs.configure(settings.logging.format, settings.logging.level, sys.stdout)  # journald reads stdout
    try:
        # a daemon stopped mid-transaction (SIGSTOP) must not hold the others up for long
        idle_limit = max(IDLE_IN_TRANSACTION_FLOOR, 2 * settings.daemon.lease_seconds)
        return run(settings, open_store(settings, idle_limit))
    except ListenError as exc:
        raise CommandError(f"{settings.source}: {exc}", EX_USAGE) from exc



def cmd_register_export(args: argparse.Namespace) -> int:
    """The register of a period, read from one snapshot of the store, to stdout or --out."""
    import gateway.register.export as export
    from gateway.cli import views
    from gateway.register.html import write_html

    settings = load_settings(args)
    try:
        span = export.period(settings.work_calendar, args.first, args.last)
    except export.PeriodError as exc:
        raise CommandError(str(exc), EX_USAGE) from exc
    factory = open_store(settings)
    try:
        with output(args.out) as out, db.snapshot(factory) as session:
            made_at = views.now()
            totals = export.Totals(settings.work_calendar)
            rows = export.counted(export.rows(session, settings, span, made_at), totals)
            if args.format == "csv":
                export.write_csv(out, rows)
            elif args.format == "json":
                export.write_json(out, rows, totals, export.current_checkpoint(session, settings))
            else:
                write_html(out, rows, totals, export.current_checkpoint(session, settings), span, made_at,
                                args.language or settings.templates.language)  # fmt: skip
    except OperationalError as exc:
        raise store_unavailable(exc) from exc
    return 0


@contextmanager
def output(path: str | None) -> Iterator[TextIO]:
    """stdout (UTF-8, whatever the locale), or `path` written whole or not at all: a
    temporary file beside it, renamed when the block ends, removed when it raises."""
    if path is None:
        if isinstance(sys.stdout, io.TextIOWrapper):
            sys.stdout.reconfigure(encoding="utf-8")
        yield sys.stdout
        return
    target = Path(path)
    try:
        handle = tempfile.NamedTemporaryFile("w", encoding="utf-8", newline="", dir=target.parent,
                                             prefix=f".{target.name}.", delete=False)  # fmt: skip
    except OSError as exc:
        raise CommandError(f"--out {path}: {exc.strerror}", EX_USAGE) from exc
    try:
        with handle:
            yield cast(TextIO, handle)  # a text-mode NamedTemporaryFile is a TextIO in all but name
    except BaseException:
        os.unlink(handle.name)
        raise
    os.replace(handle.name, target)


def cmd_kb_index(args: argparse.Namespace) -> int:
    """The documentation folders and the answers not yet indexed; a progress bar on a terminal."""
    from tqdm import tqdm

    from gateway.knowledge import build

    settings = load_settings(args)
    factory = open_store(settings)
    knowledge = settings.knowledge

    def progress(files: Iterable[Path]) -> Iterable[Path]:
        return tqdm(list(files), unit="file", file=sys.stderr, disable=not sys.stderr.isatty())

    try:
        if args.rebuild:
            build.rebuild(factory)
        report = build.run(factory, knowledge.docs, knowledge.doc_url, progress)
    except OperationalError as exc:
        raise store_unavailable(exc) from exc
    for problem in report.errors:
        print(f"hotline: warning: {problem.message}", file=sys.stderr)
    print(f"{report.files_read} file(s) read, {report.sections} section(s), {report.files_removed} removed; "
          f"{report.answers} answer(s) indexed, {report.private} kept out (#nokb)")  # fmt: skip
    return EX_FAIL if report.errors else 0


KB_SEARCH_LIMIT = 5


def cmd_kb_search(args: argparse.Namespace) -> int:
    from gateway.cli import views
    from gateway.knowledge import index
    from storage.kinds import KbKind

    settings = load_settings(args)
    text = " ".join(args.text)
    try:
        with open_store(settings)() as session:
            hits = [h for kind in (KbKind.SECTION, KbKind.ANSWER)
                    for h in index.search(session, text, kind, KB_SEARCH_LIMIT, settings.knowledge.min_score)]  # fmt: skip
    except OperationalError as exc:
        raise store_unavailable(exc) from exc
    for hit in hits:
        print(json.dumps(views.hit_json(hit), ensure_ascii=False) if args.json else views.hit_text(hit, settings))
    return 0
