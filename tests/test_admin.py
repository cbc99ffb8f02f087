"""An admin's paper cuts, each through the real command: ports, databases, relative paths,
check-config's hints and warnings, the outbox's sent time, --version, help, a closed pipe."""
from __future__ import annotations

import argparse
import socket
import subprocess
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from gateway import cli, settings
from tests.conftest import PgServer
from tests.support import HOTLINE, Hotline, consultants_config, free_port, ingest_raw, write_config
from tests.test_systemd import UNIT, parse_unit

MAIL = b"From: jan@example.com\r\nTo: hotline@example.org\r\nSubject: Printer\r\nMessage-ID: <p1@example.com>\r\n\r\nHelp\r\n"


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port some other program listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def sqlite_hotline(folder: Path, extra: str = "") -> Hotline:
    hotline = Hotline(write_config(folder / "hotline.toml", f"sqlite:///{folder / 'hotline.db'}", extra))
    assert hotline("db", "upgrade").code == 0
    return hotline


@pytest.mark.parametrize("key", ["smtp_server", "metrics"])
def test_a_port_out_of_range_is_refused_naming_the_key(tmp_path: Path, key: str) -> None:
    path = write_config(tmp_path / "c.toml", "sqlite://", f'[{key}]\nlisten = "127.0.0.1:99999"\n')
    result = Hotline(path)("check-config")
    assert result.code == 2
    assert f"{path}: {key}.listen: port 99999 is out of range" in result.err


@pytest.mark.parametrize("key", ["smtp_server", "metrics"])
def test_a_port_in_use_is_one_line_naming_key_and_address(tmp_path: Path, taken_port: int, key: str) -> None:
    ports = {"smtp_server": free_port(), "metrics": free_port(), key: taken_port}
    extra = "".join(f'[{k}]\nlisten = "127.0.0.1:{p}"\n' for k, p in ports.items())
    hotline = sqlite_hotline(tmp_path, extra)
    result = hotline.process("run")
    assert result.code == 2, result.err
    assert result.err.strip() == (f"hotline: error: {hotline.config}: {key}.listen: "
                                  f"cannot listen on 127.0.0.1:{taken_port}: Address already in use")  # fmt: skip


def test_a_missing_postgresql_database_or_role_exits_2_naming_storage_url(pg_server: PgServer, tmp_path: Path) -> None:
    for url in (pg_server.url("no_such_database"),
                f"postgresql+psycopg://no_such_role@127.0.0.1:{pg_server.port}/postgres"):  # fmt: skip
        hotline = Hotline(write_config(tmp_path / "c.toml", url))
        for command in (["tickets", "list"], ["db", "upgrade"]):
            result = hotline.process(*command)
            assert result.code == 2, (url, command, result.err)
            assert result.err.startswith(f"hotline: error: {hotline.config}: storage.url: ")
            assert len(result.err.strip().splitlines()) == 1


def test_an_unreachable_server_is_still_temporary(tmp_path: Path) -> None:
    hotline = Hotline(write_config(tmp_path / "c.toml", f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x"))
    assert hotline.process("tickets", "list").code == 75


def test_relative_paths_are_beside_the_config_not_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf, elsewhere = tmp_path / "conf", tmp_path / "elsewhere"
    conf.mkdir()
    elsewhere.mkdir()
    path = conf / "hotline.toml"
    path.write_text('[storage]\nurl = "sqlite:///var/h.db"\n[outbound]\nmaildir = "var/outbox"\n')
    monkeypatch.chdir(elsewhere)
    hotline = Hotline(path)
    listed = hotline("tickets", "list")  # before `db upgrade`: an error, not an empty database
    assert listed.code == 2
    assert listed.err.strip() == (f"hotline: error: {path}: storage.url: no database at {conf}/var/h.db: "
                                  "run `hotline db upgrade` to create it")  # fmt: skip
    assert not (conf / "var" / "h.db").exists()
    assert hotline("db", "upgrade").code == 0
    ingest_raw(hotline, tmp_path, MAIL)
    assert hotline("outbox", "--flush").code == 0
    assert (conf / "var" / "h.db").is_file() and list((conf / "var" / "outbox" / "new").iterdir())
    assert list(elsewhere.iterdir()) == []
    checked = hotline("check-config")
    assert checked.out.strip() == f"{path}: OK (store sqlite:///{conf}/var/h.db, outbox Maildir {conf}/var/outbox)"


def test_relative_paths_under_systemd_are_in_its_state_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "etc").mkdir()
    path = tmp_path / "etc" / "hotline.toml"
    path.write_text('[storage]\nurl = "sqlite:///var/h.db"\n')
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    assert Hotline(path)("db", "upgrade").code == 0
    assert (tmp_path / "state" / "var" / "h.db").is_file()
    assert settings.load(path).outbound.maildir == str(tmp_path / "state" / "var" / "outbox")


def test_check_config_says_credentials_directory_is_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    path = tmp_path / "hotline.toml"
    path.write_text('[smtp_server]\n[consultants]\nnotify = ["team@example.org"]\ntoken_secret_file = "token-secret"\n')
    result = Hotline(path)("check-config")
    assert result.code == 2
    (line,) = result.err.strip().splitlines()
    assert line.startswith(f"{path}: consultants.token_secret_file: cannot read {tmp_path}/token-secret: ")
    assert "$CREDENTIALS_DIRECTORY" in line and "is unset" in line


def test_check_config_warns_of_no_source_and_invalid_addresses(tmp_path: Path) -> None:
    path = tmp_path / "hotline.toml"
    path.write_text(consultants_config(tmp_path).replace('"support-team@example.org"', '"support team"')
                    + '[fax]\ngateway_senders = ["fax server"]\n')  # fmt: skip
    result = Hotline(path)("check-config")
    assert result.code == 0, result.err
    assert result.err.strip().splitlines() == [
        f"{path}: warning: no source: neither [[imap]] nor [smtp_server] is configured, only `hotline ingest` brings mail",
        f"{path}: warning: consultants.notify[0]: not an e-mail address: 'support team'",
        f"{path}: warning: fax.gateway_senders[0]: not an e-mail address or @domain: 'fax server'",
    ]


def test_grace_seconds_must_stay_below_the_units_stop_timeout(tmp_path: Path) -> None:
    (timeout,) = parse_unit(UNIT.read_text())[("Service", "TimeoutStopSec")]
    assert float(timeout.removesuffix("s")) == settings.UNIT_TIMEOUT_STOP_SECONDS
    path = tmp_path / "hotline.toml"
    path.write_text(f"[smtp_server]\n[daemon]\ngrace_seconds = {settings.UNIT_TIMEOUT_STOP_SECONDS:g}\n")
    result = Hotline(path)("check-config")
    assert result.code == 2
    assert f"{path}: daemon.grace_seconds: " in result.err


def test_outbox_all_shows_when_a_row_was_sent(hotline: Hotline, tmp_path: Path) -> None:
    ingest_raw(hotline, tmp_path, MAIL)
    assert hotline("outbox", "--flush").code == 0
    (row,) = hotline.json("outbox", "--all", "--json")
    assert row["state"] == "sent" and row["sent_at"].endswith("Z")
    assert f": sent {row['sent_at']}, 1 tries" in hotline("outbox", "--all").out


def test_version_and_help_for_every_option(tmp_path: Path) -> None:
    hotline = Hotline(tmp_path / "none.toml")
    assert hotline.process("--version").out.strip() == f"hotline {version('hotline')}"
    assert "HOT-YYYY-NNNNNN" in hotline.process("tickets", "show", "--help").out
    for parser in every_parser(cli.build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {a.dest: a.help for a in action._choices_actions}
                assert all(helps.get(name) for name in action.choices), f"{parser.prog}: a subcommand without help"
            else:
                assert action.help, f"{parser.prog} {action.option_strings or action.dest}: no help text"


def every_parser(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from every_parser(sub)


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path) -> None:
    hotline = sqlite_hotline(tmp_path)
    ingest_raw(hotline, tmp_path, MAIL)
    proc = subprocess.Popen([str(HOTLINE), "--config", str(hotline.config), "tickets", "list"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stdout is not None
    proc.stdout.close()  # as `| head -1` does once it has its line
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (cli.EX_PIPE, b"")
