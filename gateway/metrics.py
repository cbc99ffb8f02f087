"""Prometheus metrics and a health check, served on a loopback port.

/metrics is Prometheus' text format; /health answers 200 with a JSON summary when the
store is reachable and every IMAP account is connected, 503 otherwise.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from storage.models import InboxEntry, InboxState

Health = Callable[[], tuple[bool, dict[str, Any]]]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.backlog_count = 0
        self.messages = Counter(
            "hotline_messages", "Messages taken in, by source and action", ["source", "action"], registry=self.registry
        )
        self.outbox = Counter(
            "hotline_outbox_deliveries", "Outgoing messages handed over, by outcome", ["outcome"], registry=self.registry
        )
        self.errors = Counter("hotline_errors", "Errors, by component", ["component"], registry=self.registry)
        self.backlog = Gauge("hotline_inbox_backlog", "Stored messages not yet routed", registry=self.registry)
        self.oldest = Gauge(
            "hotline_inbox_oldest_age_seconds", "Age of the oldest unrouted message", registry=self.registry
        )
        self.since_sync = Gauge(
            "hotline_imap_seconds_since_sync", "Seconds since each account's last successful sync", ["account"],
            registry=self.registry,
        )  # fmt: skip

    def refresh_inbox(self, factory: sessionmaker[Session]) -> None:
        with factory() as session:
            count, oldest = session.execute(
                select(func.count(), func.min(InboxEntry.received_at)).where(InboxEntry.state == InboxState.NEW)
            ).one()
        self.backlog_count = count
        self.backlog.set(count)
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=timezone.utc)
        self.oldest.set(0 if oldest is None else (datetime.now(timezone.utc) - oldest).total_seconds())


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        """Scrapes every few seconds would flood the journal."""


def serve(metrics: Metrics, health: Health, host: str, port: int) -> WSGIServer:
    """Start the endpoint in a daemon thread; call .shutdown() to stop it."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/health":
            ok, detail = health()
            start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "application/json")])
            return [json.dumps({"ok": ok, **detail}).encode()]
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
        return [generate_latest(metrics.registry)]

    server = make_server(host, port, app, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
