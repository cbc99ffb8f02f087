"""A real Dovecot IMAP server for tests, so the IMAP side of the gateway is tested against the
server family customers run (IDLE, MOVE, UIDVALIDITY, reconnects) and not against a mock.

`make test` gets Dovecot from the `dovecot-imapd` Debian package (DEB_PACKAGES in the Makefile).

Each server is `dovecot -F -c CONFIG` with a throw-away config in its own temporary folder:
plain IMAP on a free 127.0.0.1 port (optionally IMAPS on a second one), one user `hotline` /
`secret` from a passwd-file, Maildir storage, and all state (base_dir, state_dir, log, pid)
inside that folder, so several servers can run at once and /etc/dovecot is never read.
Written for Dovecot 2.3 (Debian 12); 2.4 renamed most of these settings.
"""
from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from imapclient import IMAPClient, imap_utf7

from tests.support import free_port, make_tls_cert

# Dovecot refuses uid 0 for mail processes, so as root the mailbox belongs to this otherwise
# unused uid/gid (the test process, being root, can still read and write the files).
MAIL_UID = 60123
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
# Processes Dovecot's master leaves running while it sleeps out its shutdown (see stop()).
LEFT_FOR_LAST = {"log", "stats", "anvil", "imap"}
# Dovecot's own index files for one maildir folder; removing them while Dovecot is down (the
# message files kept) makes it rebuild the folder under a new UIDVALIDITY.
INDEX_GLOBS = ("dovecot.index*", "dovecot-uidlist")


class DovecotError(RuntimeError):
    """Dovecot did not start, stop or answer as expected; the message carries its log."""


def _binary(name: str) -> str:
    """Find a Dovecot program; /usr/sbin is not on a normal user's PATH."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin"])
    found = shutil.which(name, path=path)
    if not found:
        raise DovecotError(f"{name} not found: `make test` installs the dovecot-imapd Debian package")
    return found


def dovecot_version() -> str:
    """The installed version, e.g. '2.3.19.1'; the config below is written for 2.3."""
    out = subprocess.run([_binary("dovecot"), "--version"], capture_output=True, text=True, check=True)
    return out.stdout.split()[0]


class DovecotServer:
    """One Dovecot instance and helpers that look at or change its mailbox over IMAP.

    Helpers open their own short IMAP connection each, so they never share state with the
    client under test (Dovecot allows 100 connections per user and IP here)."""

    user = "hotline"
    password = "secret"
    host = "127.0.0.1"

    def __init__(self, root: Path, tls: bool = False) -> None:
        self.root = root
        self.port = 0
        self.tls_port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._owner = self._mail_owner()
        self._tls_files = make_tls_cert(root) if tls else None
        self.cafile: Path | None = self._tls_files[0] if self._tls_files else None
        self._prepare()
        self.choose_ports()

    def choose_ports(self) -> None:
        """Pick free loopback ports and write the config for them (only while stopped)."""
        self.port = free_port()
        self.tls_port = free_port() if self._tls_files else None
        self.config.write_text(self._config_text())

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<DovecotServer {self.host}:{self.port} {state} in {self.root}>"

    # --- paths -----------------------------------------------------------------------
    @property
    def config(self) -> Path:
        return self.root / "dovecot.conf"

    @property
    def log_path(self) -> Path:
        return self.root / "dovecot.log"

    @property
    def maildir(self) -> Path:
        """The user's Maildir (INBOX itself; folder `X` is `.X` inside it, Maildir++ style)."""
        return self.root / "home" / self.user / "Maildir"

    def folder_path(self, folder: str = "INBOX") -> Path:
        """Where a folder lives on disk: names are stored in IMAP's modified UTF-7."""
        if folder.upper() == "INBOX":
            return self.maildir
        encoded: bytes = imap_utf7.encode(folder)
        return self.maildir / ("." + encoded.decode("ascii"))

    # --- set-up ----------------------------------------------------------------------
    @staticmethod
    def _mail_owner() -> tuple[int, int]:
        return (MAIL_UID, MAIL_UID) if os.geteuid() == 0 else (os.getuid(), os.getgid())

    def _prepare(self) -> None:
        """Write the passwd-file and home folder; the root must be world-readable
        because Dovecot's auth process (user `dovecot`) reads the passwd-file."""
        self.root.chmod(0o755)
        for sub in ("run", "state", "home"):
            (self.root / sub).mkdir(exist_ok=True)
        home = self.root / "home" / self.user
        home.mkdir(exist_ok=True)
        os.chown(home, *self._owner)
        (self.root / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        (self.root / "passwd").chmod(0o644)

    def _config_text(self) -> str:
        uid, gid = self._owner
        r, tls_files = self.root, self._tls_files
        ssl = f"ssl = yes\nssl_cert = <{tls_files[0]}\nssl_key = <{tls_files[1]}\n" if tls_files else "ssl = no\n"
        return f"""\
# Throw-away config written by tests/dovecot.py; nothing from /etc/dovecot is included.
instance_name = hotline-test-{self.port}
base_dir = {r}/run
state_dir = {r}/state
log_path = {self.log_path}
protocols = imap
listen = {self.host}
{ssl}disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
{self._users_config()}
first_valid_uid = {min(uid, 500)}
mail_location = maildir:~/Maildir
mail_fsync = never
mail_max_userip_connections = 100
mailbox_idle_check_interval = 1 secs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {r}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={r}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = {self.host}
    port = {self.port}
  }}
  inet_listener imaps {{
    address = {self.host}
    port = {self.tls_port or 0}
  }}
{self._chroot_off()}}}
service anvil {{
{self._chroot_off()}}}
"""

    @staticmethod
    def _users_config() -> str:
        """As root Dovecot drops to its own unprivileged users; otherwise it runs as us."""
        if os.geteuid() == 0:
            return "default_internal_user = dovecot\ndefault_login_user = dovenull"
        user, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
        return (f"default_internal_user = {user}\ndefault_internal_group = {group}\n"
                f"default_login_user = {user}")

    @staticmethod
    def _chroot_off() -> str:
        """Only root can chroot the login and anvil processes."""
        return "" if os.geteuid() == 0 else "  chroot =\n"

    # --- process ---------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log(self) -> str:
        """Dovecot's log plus anything it printed before its log process was up."""
        parts = [p.read_text(errors="replace") for p in (self.log_path, self.root / "stderr.log") if p.exists()]
        return "\n".join(part for part in parts if part)

    def clear_log(self) -> None:
        """Forget earlier log text, e.g. before a test looks for a particular line."""
        for path in (self.log_path, self.root / "stderr.log"):
            path.unlink(missing_ok=True)

    def start(self) -> None:
        """Start Dovecot in the foreground and wait until an IMAP login works."""
        if self.running:
            return
        with open(self.root / "stderr.log", "ab") as err:
            self._proc = subprocess.Popen(
                [_binary("dovecot"), "-F", "-c", str(self.config)],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                start_new_session=True,  # its own process group, so stop() can kill all of it
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self._proc is not None and self._proc.poll() is not None:
                raise DovecotError(f"dovecot exited with {self._proc.returncode}:\n{self.log()}")
            try:
                with self.client():
                    return
            except (OSError, IMAPClient.Error) as exc:
                if time.monotonic() > deadline:
                    self.stop()
                    raise DovecotError(f"dovecot did not accept a login in {START_TIMEOUT}s ({exc}):\n{self.log()}") from exc
            time.sleep(0.01)

    def stop(self, kill: bool = False) -> None:
        """Stop Dovecot; its clients see their connections dropped, as on a real restart.
        kill=True sends SIGKILL straight away, as in a crash (and for the fast teardown).

        SIGTERM makes the master close its listeners' services and reap its workers within
        ~0.1 s; it then sends SIGQUIT to what is left (log, stats, client sessions) and
        sleeps a fixed second before exiting (seen with strace). That second is cut short by
        killing the process group once only those are left (or after STOP_TIMEOUT if
        something hangs): Dovecot's indexes and Maildir are safe against a kill anyway."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        if not kill:
            self._wait_for_shutdown(proc)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(STOP_TIMEOUT)
        (self.root / "run" / "master.pid").unlink(missing_ok=True)

    @staticmethod
    def _wait_for_shutdown(proc: subprocess.Popen[bytes]) -> None:
        proc.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        while proc.poll() is None and time.monotonic() < deadline:
            workers = {comm for pid, comm in _group_commands(proc.pid).items() if pid != proc.pid}
            if workers <= LEFT_FOR_LAST:
                break
            time.sleep(0.01)

    def restart(self) -> None:
        """Same port, same mailbox; connected clients are dropped, as on a real restart."""
        self.stop()
        self.start()

    # --- IMAP helpers ----------------------------------------------------------------
    @contextlib.contextmanager
    def client(self) -> Iterator[IMAPClient]:
        """A logged-in plain-IMAP connection, logged out on exit."""
        with IMAPClient(self.host, port=self.port, ssl=False, timeout=10) as c:
            c.login(self.user, self.password)
            yield c

    def capabilities(self) -> tuple[str, ...]:
        """Capabilities after login (Dovecot advertises fewer before), e.g. 'IDLE', 'MOVE'."""
        with self.client() as c:
            return tuple(cap.decode("ascii").upper() for cap in c.capabilities())

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        """Put one message into the mailbox, as an MDA would (new, unseen). Dovecot hands
        bare-LF messages back with CRLF line ends, as IMAP requires."""
        self.deliver_many([raw], folder)

    def deliver_many(self, raws: Iterable[bytes], folder: str = "INBOX") -> None:
        """Put messages in, in order, with one MULTIAPPEND (about twice as fast as single
        APPENDs), creating the folder like an MDA with autocreate. APPEND keeps Dovecot's
        indexes right, unlike writing files into the Maildir behind its back."""
        messages = list(raws)
        if not messages:
            return
        with self.client() as c:
            if folder.upper() != "INBOX" and not c.folder_exists(folder):
                c.create_folder(folder)
            c.multiappend(folder, messages)

    def folder_uids(self, folder: str = "INBOX") -> list[int]:
        with self.client() as c:
            c.select_folder(folder, readonly=True)
            return sorted(int(uid) for uid in c.search("ALL"))

    def count(self, folder: str = "INBOX") -> int:
        """Messages in a folder; 0 when the folder does not exist (yet)."""
        with self.client() as c:
            if not c.folder_exists(folder):
                return 0
            return int(c.folder_status(folder, ["MESSAGES"])[b"MESSAGES"])

    def messages(self, folder: str = "INBOX") -> list[bytes]:
        """Full raw messages in UID order (fetched with PEEK, so \\Seen is left alone)."""
        with self.client() as c:
            c.select_folder(folder, readonly=True)
            uids = c.search("ALL")
            if not uids:
                return []
            fetched = c.fetch(uids, ["BODY.PEEK[]"])
            return [fetched[uid][b"BODY[]"] for uid in sorted(fetched)]

    def uidvalidity(self, folder: str = "INBOX") -> int:
        """UIDVALIDITY as SELECT (EXAMINE) reports it, which is what a client acts on."""
        with self.client() as c:
            return int(c.select_folder(folder, readonly=True)[b"UIDVALIDITY"])

    def recreate_mailbox(self, folder: str = "INBOX") -> None:
        """Give `folder` a new UIDVALIDITY, keeping its messages and flags, as when a mailbox
        is restored or moved; works for INBOX too (IMAP cannot DELETE INBOX).

        Running server: `doveadm mailbox update --uid-validity OLD+1`, done under Dovecot's
        index locks, so UIDs stay as they were and a client that has the folder selected
        gets "* BYE IMAP session state is inconsistent, please relogin." at its next
        command (not while it sits in IDLE). Deleting index files under a live server was
        tried and rejected: open sessions then kept serving the stale view.

        Stopped server: the folder's index files and `dovecot-uidlist` are deleted (the
        message files stay); on start() Dovecot rebuilds them under its next UIDVALIDITY and
        numbers the messages again from UID 1 in delivery order, so old UIDs point at other
        messages, as after a restore from backup during maintenance.
        """
        if not self.running:
            self._drop_indexes(folder)
            return
        before = self.uidvalidity(folder)
        new = before % 0xFFFFFFFF + 1  # UIDVALIDITY is a non-zero 32-bit number
        self._doveadm("mailbox", "update", "-u", self.user, "--uid-validity", str(new), folder)
        if self.uidvalidity(folder) != new:
            raise DovecotError(f"UIDVALIDITY of {folder!r} is not {new} after doveadm:\n{self.log()}")

    def _drop_indexes(self, folder: str) -> None:
        path = self.folder_path(folder)
        if not (path / "cur").is_dir():
            raise DovecotError(f"no maildir folder {folder!r} at {path}")
        for pattern in INDEX_GLOBS:
            for index_file in path.glob(pattern):
                index_file.unlink()

    def _doveadm(self, *args: str) -> None:
        proc = subprocess.run([_binary("doveadm"), "-c", str(self.config), *args], capture_output=True, text=True)
        if proc.returncode != 0:
            raise DovecotError(f"doveadm {' '.join(args)} failed: {proc.stderr}\n{self.log()}")


def _group_commands(pgid: int) -> dict[int, str]:
    """Processes of a process group (Linux /proc), by pid, with their command names."""
    found: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            text = stat.read_text()
            comm, fields = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
            if int(fields[2]) == pgid:  # zombies too: the master must reap its workers first
                found[int(stat.parent.name)] = comm
    return found


@contextlib.contextmanager
def running_dovecot(tls: bool = False) -> Iterator[DovecotServer]:
    """A started server in a fresh temporary folder, stopped and removed on exit; if it
    does not start, the test fails with Dovecot's log.

    The folder is made directly under the system temporary folder, not pytest's tmp_path:
    Dovecot's UNIX sockets live in base_dir and their paths must stay under 108 bytes."""
    root = Path(tempfile.mkdtemp(prefix="hotline-dovecot-"))
    server: DovecotServer | None = None
    try:
        try:
            server = DovecotServer(root, tls=tls)
            _start_with_port_retry(server)
        except DovecotError as exc:
            pytest.fail(f"Dovecot {_version_or_unknown()} did not start: {exc}", pytrace=False)
        yield server
    finally:
        if server is not None:
            server.stop(kill=True)  # the mailbox is thrown away: no need to be gentle
        shutil.rmtree(root, ignore_errors=True)


def _start_with_port_retry(server: DovecotServer, attempts: int = 3) -> None:
    """free_port() can race with another process taking the port before Dovecot binds it."""
    for attempt in range(attempts):
        try:
            server.start()
            return
        except DovecotError as exc:
            if "Address already in use" not in str(exc) or attempt == attempts - 1:
                raise
            server.choose_ports()
            server.clear_log()


def _version_or_unknown() -> str:
    try:
        return dovecot_version()
    except (DovecotError, OSError, subprocess.SubprocessError):
        return "(version unknown)"


@pytest.fixture
def dovecot() -> Iterator[DovecotServer]:
    """A fresh Dovecot with an empty mailbox for one test (plain IMAP)."""
    with running_dovecot() as server:
        yield server


@pytest.fixture
def dovecot_tls() -> Iterator[DovecotServer]:
    """Like `dovecot`, plus IMAPS on `tls_port` with a self-signed certificate in `cafile`
    (STARTTLS on the plain port works too)."""
    with running_dovecot(tls=True) as server:
        yield server
