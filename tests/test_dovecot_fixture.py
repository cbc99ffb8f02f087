"""The Dovecot test server behaves like the real thing the gateway will meet: logins, IDLE
and MOVE, delivered bytes coming back, restarts, UIDVALIDITY changes, parallel instances."""
from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.dovecot import DovecotError, DovecotServer, running_dovecot

RAW = b"From: user@example.org\r\nSubject: Pytanie \xc4\x85\r\n\r\nTre\xc5\x9b\xc4\x87 pytania\r\n"


def numbered(n: int) -> list[bytes]:
    return [b"Subject: %d\r\n\r\nbody %d\r\n" % (i, i) for i in range(n)]


def refuses_connections(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_login_works_and_idle_and_move_are_advertised(dovecot: DovecotServer) -> None:
    with IMAPClient(dovecot.host, port=dovecot.port, ssl=False) as c:
        c.login(dovecot.user, dovecot.password)
        assert c.select_folder("INBOX")[b"EXISTS"] == 0
    assert {"IDLE", "MOVE", "UIDPLUS"} <= set(dovecot.capabilities())


def test_wrong_password_is_refused(dovecot: DovecotServer) -> None:
    with IMAPClient(dovecot.host, port=dovecot.port, ssl=False) as c, pytest.raises(IMAPClient.Error):
        c.login(dovecot.user, "wrong")


def test_delivered_bytes_come_back(dovecot: DovecotServer) -> None:
    dovecot.deliver(RAW)
    dovecot.deliver(RAW, folder="Faxes")
    assert dovecot.folder_uids() == [1]
    assert dovecot.messages() == [RAW]
    assert dovecot.messages("Faxes") == [RAW] and dovecot.count("Faxes") == 1
    assert len([*(dovecot.maildir / "cur").iterdir(), *(dovecot.maildir / "new").iterdir()]) == 1


def test_deliver_many_keeps_order(dovecot: DovecotServer) -> None:
    dovecot.deliver_many(numbered(50))
    assert dovecot.folder_uids() == list(range(1, 51))
    assert dovecot.messages() == numbered(50)


def test_idle_client_hears_of_a_delivery(dovecot: DovecotServer) -> None:
    with dovecot.client() as c:
        c.select_folder("INBOX")
        c.idle()
        dovecot.deliver(RAW)
        responses = c.idle_check(timeout=5)
        c.idle_done()
    assert (1, b"EXISTS") in responses


def test_restart_keeps_messages_and_port_and_drops_clients(dovecot: DovecotServer) -> None:
    dovecot.deliver_many(numbered(3))
    port, validity = dovecot.port, dovecot.uidvalidity()
    with dovecot.client() as c:
        c.select_folder("INBOX")
        dovecot.restart()
        with pytest.raises((IMAPClient.AbortError, OSError)):
            c.noop()
    assert dovecot.port == port
    assert dovecot.messages() == numbered(3)
    assert dovecot.uidvalidity() == validity


def test_stop_then_start(dovecot: DovecotServer) -> None:
    dovecot.deliver(RAW)
    dovecot.stop()
    assert not dovecot.running and refuses_connections(dovecot.port)
    dovecot.start()
    assert dovecot.messages() == [RAW]


def test_mail_survives_a_crash(dovecot: DovecotServer) -> None:
    dovecot.deliver_many(numbered(5))
    dovecot.stop(kill=True)
    dovecot.start()
    assert dovecot.messages() == numbered(5)


def test_recreate_mailbox_changes_uidvalidity(dovecot: DovecotServer) -> None:
    dovecot.deliver_many(numbered(3))
    before = dovecot.uidvalidity()
    with dovecot.client() as watcher:
        watcher.select_folder("INBOX")
        dovecot.recreate_mailbox()
        with pytest.raises(IMAPClient.AbortError):  # Dovecot drops a client that had it selected
            watcher.search()
    with dovecot.client() as c:
        assert c.select_folder("INBOX")[b"UIDVALIDITY"] != before
    assert dovecot.folder_uids() == [1, 2, 3]
    assert dovecot.messages() == numbered(3)


def test_recreate_while_stopped_also_renumbers(dovecot: DovecotServer) -> None:
    dovecot.deliver_many(numbered(3), folder="Faxes.Archive")
    with dovecot.client() as c:
        c.select_folder("Faxes.Archive")
        c.delete_messages([1])
        c.expunge()
    before = dovecot.uidvalidity("Faxes.Archive")
    dovecot.stop()
    dovecot.recreate_mailbox("Faxes.Archive")
    dovecot.start()
    assert dovecot.uidvalidity("Faxes.Archive") != before
    assert dovecot.folder_uids("Faxes.Archive") == [1, 2]
    assert dovecot.messages("Faxes.Archive") == numbered(3)[1:]


def test_two_servers_run_at_once(dovecot: DovecotServer) -> None:
    with running_dovecot() as other:
        assert other.port != dovecot.port and other.maildir != dovecot.maildir
        other.deliver(RAW)
        assert (dovecot.count(), other.count()) == (0, 1)
        root = other.root
    assert not root.exists() and refuses_connections(other.port)
    assert dovecot.count() == 0


def test_imaps_with_a_self_signed_certificate(dovecot_tls: DovecotServer) -> None:
    assert dovecot_tls.tls_port and dovecot_tls.cafile
    context = ssl.create_default_context(cafile=str(dovecot_tls.cafile))
    with IMAPClient(dovecot_tls.host, port=dovecot_tls.tls_port, ssl=True, ssl_context=context) as c:
        c.login(dovecot_tls.user, dovecot_tls.password)
    with IMAPClient(dovecot_tls.host, port=dovecot_tls.port, ssl=False) as c:
        c.starttls(context)
        c.login(dovecot_tls.user, dovecot_tls.password)


def test_start_failure_reports_dovecots_log(tmp_path: Path) -> None:
    server = DovecotServer(tmp_path)
    server.config.write_text(server.config.read_text() + "no_such_setting = 1\n")
    with pytest.raises(DovecotError, match="no_such_setting"):
        server.start()
    assert not server.running
