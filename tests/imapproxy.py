"""A counting IMAP proxy on loopback: each daemon gets its own in front of the one Dovecot,
so a test sees which daemon sent which command when (no overlapping sessions after a lease
handover, nothing moved by a daemon that lost its lease)."""
from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    at: float  # monotonic
    session: int
    line: str

    @property
    def verb(self) -> str:
        """The command after the tag, with UID's own verb: "UID MOVE", "IDLE", "LOGIN"."""
        words = [word.upper() for word in self.line.split()[1:3]]
        return " ".join(words) if words[:1] == ["UID"] else "".join(words[:1])


class ImapProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.commands: list[Command] = []
        self.lock = threading.Lock()
        self.sessions = itertools.count(1)
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
            server.settimeout(None)
            self.sockets += [client, server]
            session = next(self.sessions)
            threading.Thread(target=self._pump, args=(client, server, session), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, None), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, session: int | None) -> None:
        """Copy bytes; the client's lines (session given) are recorded as commands."""
        pending = b""
        try:
            while data := source.recv(65536):
                sink.sendall(data)
                if session is None:
                    continue
                pending += data
                *lines, pending = pending.split(b"\r\n")
                with self.lock:
                    self.commands += [Command(time.monotonic(), session, line.decode("latin-1")) for line in lines]
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def seen(self, *verbs: str, since: float = 0.0) -> list[Command]:
        with self.lock:
            return [c for c in self.commands if c.at >= since and (not verbs or c.verb in verbs)]

    def close(self) -> None:
        self.listener.close()
        for sock in self.sockets:
            sock.close()


@contextmanager
def imap_proxy(upstream_port: int) -> Iterator[ImapProxy]:
    proxy = ImapProxy(upstream_port)
    try:
        yield proxy
    finally:
        proxy.close()
