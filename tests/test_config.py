"""Config validation: every error names the file and the key; secrets never inline."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from gateway import settings
from tests.support import REPO, Hotline

BROKEN = """
[storage]
url = "mysql://nope"

[smtp_server]
listen = "localhost"
max_message_bytes = "big"

[[imap]]
name = "box"
host = "127.0.0.1"
port = 99999
username = "u"
password_env = "X"

[[imap]]
name = "nopassword"
host = "127.0.0.1"
username = "u"

[outbound]
transport = "pigeon"
colour = "blue"
"""


def test_example_config_is_valid(tmp_path: Path) -> None:
    example = tmp_path / "hotline.toml"
    shutil.copy(REPO / "config" / "hotline.example.toml", example)
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "token-secret").write_text("0123456789abcdef0123456789abcdef\n")  # as `make run` makes it
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(tmp_path / "var" / "register-key")],
                   check=True, timeout=30)  # fmt: skip
    result = Hotline(example)("check-config")
    assert result.code == 0, result.err
    assert result.out.startswith(f"{example}: OK") and result.err == ""


def test_check_config_names_every_wrong_key_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(BROKEN)
    result = Hotline(path)("check-config")
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert all(line.startswith(f"{path}: ") for line in lines)
    keys = {line.removeprefix(f"{path}: ").split(":")[0] for line in lines}
    assert keys == {
        "storage.url",
        "smtp_server.listen",
        "smtp_server.max_message_bytes",
        "imap[0].port",
        "imap[1]",  # neither password_env nor password_file
        "outbound.transport",
        "outbound.colour",
    }
    assert f"{path}: outbound.colour: unknown key" in lines


def test_other_commands_give_one_line_and_point_to_check_config(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(BROKEN)
    result = Hotline(path)("tickets", "list")
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1
    assert "run hotline check-config" in result.err


def test_toml_syntax_error_names_file(tmp_path: Path) -> None:
    path = tmp_path / "syntax.toml"
    path.write_text("[storage\nurl = 1\n")
    result = Hotline(path)("check-config")
    assert result.code == 2
    assert result.err.startswith(f"{path}: not valid TOML")


def test_missing_config_file(tmp_path: Path) -> None:
    result = Hotline(tmp_path / "nope.toml")("check-config")
    assert result.code == 2
    assert "cannot read config file" in result.err


def test_config_path_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_CONFIG", "/etc/from-env.toml")
    assert settings.config_path("cli.toml") == Path("cli.toml")
    assert settings.config_path(None) == Path("/etc/from-env.toml")
    monkeypatch.delenv("HOTLINE_CONFIG")
    assert settings.config_path(None) == Path("hotline.toml")


IMAP = """
[[imap]]
name = "box"
host = "127.0.0.1"
username = "u"
{secret}
"""


def test_secret_from_unset_environment_variable_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOTLINE_TEST_PW", raising=False)
    path = tmp_path / "c.toml"
    path.write_text(IMAP.format(secret='password_env = "HOTLINE_TEST_PW"'))
    result = Hotline(path)("check-config")
    assert result.code == 2
    assert f"{path}: imap[0].password_env: environment variable HOTLINE_TEST_PW is not set" in result.err
    monkeypatch.setenv("HOTLINE_TEST_PW", "s3cret")
    assert Hotline(path)("check-config").code == 0
    assert settings.load(path).imap[0].password() == "s3cret"


def test_secret_from_systemd_credentials_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "imap-password").write_text("from-credential\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    path = tmp_path / "c.toml"
    path.write_text(IMAP.format(secret='password_file = "imap-password"'))
    assert settings.load(path).imap[0].password() == "from-credential"


def test_inline_password_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(IMAP.format(secret='password = "inline"'))
    result = Hotline(path)("check-config")
    assert result.code == 2
    assert "imap[0].password: unknown key" in result.err


def test_smtp_tls_needs_both_files_that_exist(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[smtp_server]\ntls_cert = "/nonexistent/cert.pem"\n')
    result = Hotline(path)("check-config")
    assert result.code == 2
    assert f"{path}: smtp_server: give both tls_cert and tls_key, or neither" in result.err


SLA_TARGETS = '"1" = { response = "1h", resolution = "8h" }\n"2" = { response = "2h", resolution = "16h" }\n'


@pytest.mark.parametrize(("section", "key", "says"), [
    ('[sla.plans.gold]\ncalendar = "24x5"\n', "sla.plans.gold.calendar", "no calendar '24x5'"),
    ('[sla.plans.gold]\nseverity_calendars = { "1" = "night" }\n', "sla.plans.gold.severity_calendars.1",
     "no calendar 'night'"),
    (f'[sla.plans.gold]\n[sla.plans.gold.targets]\n{SLA_TARGETS}"3" = {{ response = "4h", resolution = "40h" }}\n',
     "sla.plans.gold.targets", "severity 4 has no targets"),
    (f'[sla.plans.gold]\n[sla.plans.gold.targets]\n{SLA_TARGETS}"3" = {{ response = "4h" }}\n'
     '"4" = { response = "4h", resolution = "40h" }\n', "sla.plans.gold.targets.3.resolution", "required"),
    ('remind_at = [0.5, 1.2]\n[sla.plans.gold]\n', "sla.remind_at", "between 0 and 1"),
    ('remind_at = [0, 0.8]\n[sla.plans.gold]\n', "sla.remind_at", "between 0 and 1"),
    ('[sla]\ndefault_plan = "gold"\n', "sla.default_plan", "no plan 'gold'"),
])  # fmt: skip
def test_sla_config_errors_name_the_key(tmp_path: Path, section: str, key: str, says: str) -> None:
    """Each mistake in [sla] is one line naming the file and the key, and check-config exits 2."""
    path = tmp_path / "sla.toml"
    gold = "" if "default_plan" in section else '[sla]\ndefault_plan = "gold"\n'  # a plan of one's own replaces "standard"
    path.write_text(f'[storage]\nurl = "sqlite:///{tmp_path / "h.db"}"\n{gold}{section}', encoding="utf-8")
    result = Hotline(path).process("check-config")
    assert result.code == 2, result.out
    (line,) = result.err.strip().splitlines()
    assert line.startswith(f"{path}: {key}: ") and says in line, line
