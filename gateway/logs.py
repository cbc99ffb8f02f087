"""structlog set-up: JSON lines for journald and files, key=value colours on a terminal.

Every line the process writes goes through one chain of processors: our own structlog
loggers, the stdlib `logging` of the libraries (APScheduler, aiosmtpd, imapclient,
SQLAlchemy, alembic), Python warnings, and exceptions no thread caught. The README pipes
the journal into jq, so a single plain-text line would break it.
"""
from __future__ import annotations

import logging
import sys
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import TextIO

import structlog

# Libraries say this in normal operation: a sweep that is still running when its next run
# comes due is skipped (it loops until the backlog is empty), and a busy process starts
# an interval job late. Neither is something an admin can act on.
ROUTINE = (
    "maximum number of running instances reached",
    "was missed by",
)


@dataclass(frozen=True, slots=True)
class Setup:
    """What `configure` was given, so a worker process can log the same way."""

    fmt: str = "auto"
    level: str = "info"
    fd: int = 2  # 1 stdout, 2 stderr


_active = Setup()


def configure(fmt: str = "auto", level: str = "info", stream: TextIO | None = None) -> None:
    """One handler writes every line, ours (structlog's loggers are stdlib loggers named
    `hotline.*`) and the libraries': two writers on one stream would interleave lines."""
    global _active
    stream = stream or sys.stderr
    as_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    )
    stamped: list[structlog.typing.Processor] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    wanted = logging.getLevelName(level.upper())
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, *stamped,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],  # fmt: skip
        wrapper_class=structlog.make_filtering_bound_logger(wanted),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    _route_stdlib(stream, wanted, [structlog.stdlib.add_logger_name, *stamped], renderer)
    _active = Setup(fmt, level, 1 if stream is sys.stdout else 2)


def active() -> Setup:
    return _active


def configure_like(setup: Setup) -> None:
    """In a spawned worker process: log as the parent does, to the same descriptor."""
    configure(setup.fmt, setup.level, sys.stdout if setup.fd == 1 else sys.stderr)


def _route_stdlib(stream: TextIO, wanted: int, pre_chain: list[structlog.typing.Processor],
                  renderer: structlog.typing.Processor) -> None:  # fmt: skip
    """Every record rendered by structlog's renderer. The libraries' INFO chatter (a line
    per SMTP connection, per scheduled run) is kept out unless the level is debug."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=pre_chain,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    handler.addFilter(_not_routine)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(wanted if wanted == logging.DEBUG else max(wanted, logging.WARNING))
    logging.getLogger("hotline").setLevel(wanted)
    logging.captureWarnings(True)
    sys.excepthook = _uncaught
    threading.excepthook = _uncaught_in_thread


def _not_routine(record: logging.LogRecord) -> bool:
    return record.levelno <= logging.DEBUG or not any(text in record.getMessage() for text in ROUTINE)


def _uncaught(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    structlog.get_logger("hotline").critical("uncaught exception", exc_info=(kind, error, trace))


def _uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    thread = args.thread.name if args.thread is not None else None
    exc_info = (args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)
    structlog.get_logger("hotline").error("uncaught exception in a thread", thread=thread, exc_info=exc_info)
