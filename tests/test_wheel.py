"""The README's service install, as an admin does it: the built wheel (not an editable
install) in a fresh venv, `db upgrade` then `run` from the unit's WorkingDirectory, as an
unprivileged user, with the secret in $CREDENTIALS_DIRECTORY. A question sent to its SMTP
listener must get its acknowledgement and the consultants' notification."""
from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from parsers.refs import subject_tag
from tests import mailfactory as mf
from tests.relay import Relay, relay  # noqa: F401  (fixture)
from tests.support import REPO, Hotline, free_port, wait_for
from tests.test_daemon import get

SHIPPED = ("pyproject.toml", "README.md", "gateway", "parsers", "storage")  # what the wheel is built from
SERVICE_USER, SERVICE_GROUP = "nobody", "nogroup"
# The README's `python3 -m venv`: Debian's python (python3-venv), which any user may run;
# the tests' own interpreter may live where the service user cannot read (a pyenv in /root).
SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.fixture(scope="session")
def installed() -> Iterator[Path]:
    """The wheel built from this checkout (a copy: the build leaves build/ and egg-info
    behind) and installed into a fresh venv, once per session (about 20 s; pip's cache)."""
    root = Path(tempfile.mkdtemp(prefix="hotline-wheel-"))
    try:
        source = root / "src"
        source.mkdir()
        for name in SHIPPED:
            if (REPO / name).is_dir():
                shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(REPO / name, source / name)
        pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "wheel", "--no-deps", "-w", str(root / "dist"), str(source)], check=True, timeout=300)
        (wheel,) = (root / "dist").glob("hotline-*.whl")
        subprocess.run([SYSTEM_PYTHON, "-m", "venv", str(root / "venv")], check=True, timeout=120)
        subprocess.run([str(root / "venv/bin/pip"), "--disable-pip-version-check", "-q", "install", str(wheel)],
                       check=True, timeout=600, capture_output=True)  # fmt: skip
        os.chmod(root, 0o755)  # mkdtemp makes it private; the service user must run the venv
        yield root / "venv"
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def service_home() -> Iterator[Path]:
    """/etc/hotline and /var/lib/hotline in miniature: the config and credentials readable
    by the service user, the state folder owned by it (pytest's tmp_path is root's, 0700)."""
    root = Path(tempfile.mkdtemp(prefix="hotline-service-"))
    os.chmod(root, 0o755)
    for name in ("etc", "credentials", "state"):
        (root / name).mkdir(mode=0o755)
    if os.geteuid() == 0:
        shutil.chown(root / "state", SERVICE_USER, SERVICE_GROUP)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def as_service(home: Path, program: Path, *args: str) -> list[str]:
    """The unit's command line: its user, its environment only (nothing of this checkout)."""
    env = ["env", "-i", "PATH=/usr/bin:/bin", f"HOTLINE_CONFIG={home / 'etc/hotline.toml'}",
           f"CREDENTIALS_DIRECTORY={home / 'credentials'}", "PYTHONDONTWRITEBYTECODE=1",
           f"STATE_DIRECTORY={home / 'state'}"]  # fmt: skip  # systemd's StateDirectory=
    # setpriv execs the command itself, so SIGTERM reaches the daemon as systemd's would
    user = ["setpriv", f"--reuid={SERVICE_USER}", f"--regid={SERVICE_GROUP}", "--clear-groups"] if os.geteuid() == 0 else []
    return [*user, *env, str(program), *args]


def test_the_installed_wheel_acknowledges_and_notifies(installed: Path, service_home: Path, relay: Relay) -> None:  # noqa: F811
    smtp_port, metrics_port = free_port(), free_port()
    (service_home / "credentials/token-secret").write_text("a-service-secret-of-32-characters\n")
    (service_home / "etc/hotline.toml").write_text(
        f'[storage]\nurl = "sqlite:///var/hotline.db"\n'
        f'[smtp_server]\nlisten = "127.0.0.1:{smtp_port}"\nrecipients = ["hotline@example.org"]\n'
        f'{relay.config()}\n[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n[daemon]\nsweep_seconds = 0.5\n'
        '[consultants]\naddresses = ["anna@example.org"]\nnotify = ["support-team@example.org"]\n'
        'token_secret_file = "token-secret"\n[logging]\nformat = "json"\nlevel = "warning"\n',
        encoding="utf-8",
    )  # fmt: skip
    state, hotline = service_home / "state", installed / "bin/hotline"
    (state / "var").mkdir()
    if os.geteuid() == 0:
        shutil.chown(state / "var", SERVICE_USER, SERVICE_GROUP)
    where = subprocess.run(as_service(service_home, hotline, "check-config"), cwd=state, capture_output=True,
                           text=True, timeout=60)  # fmt: skip
    assert where.returncode == 0, where.stderr
    module = subprocess.run(as_service(service_home, installed / "bin/python", "-c", "import gateway; print(gateway.__file__)"),
                            cwd=state, capture_output=True, text=True, timeout=60, check=True).stdout.strip()  # fmt: skip
    assert module.startswith(str(installed)) and not module.startswith(str(REPO))  # the wheel's code, not ours
    upgrade = subprocess.run(as_service(service_home, hotline, "db", "upgrade"), cwd=state, capture_output=True,
                             text=True, timeout=120)  # fmt: skip
    assert upgrade.returncode == 0, upgrade.stderr
    log = (Path(tempfile.gettempdir()) / f"hotline-wheel-{metrics_port}.log").open("w+b")
    daemon = subprocess.Popen(as_service(service_home, hotline, "run"), cwd=state, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: daemon.poll() is None and get_or_none(metrics_port), timeout=60)
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as client:
            client.sendmail("jan@gmina.example.pl", ["hotline@example.org"],
                            mf.make_message(subject="Z instalacji", sender="jan@gmina.example.pl",
                                            message_id="<wheel.1@gmina.example.pl>"))  # fmt: skip
        ack = wait_for(lambda: [r for r in relay.received if r.rcpt_tos == ["jan@gmina.example.pl"]], timeout=30)[0]
        note = wait_for(lambda: [r for r in relay.received if r.rcpt_tos == ["support-team@example.org"]], timeout=30)[0]
        tag = subject_tag("HOT-" + re.search(r"\[HOT#(\d{4}-\d{6})\]", str(ack.message["Subject"]))[1])  # type: ignore[index]
        assert ack.message["In-Reply-To"] == "<wheel.1@gmina.example.pl>" and str(ack.message["Subject"]).endswith("Z instalacji")
        assert tag in str(note.message["Subject"]) and "Z instalacji" in str(note.message["Subject"])
        assert get(metrics_port, "/health")[0] == 200
        assert (state / "var/hotline.db").stat().st_uid == pwd.getpwnam(SERVICE_USER).pw_uid or os.geteuid() != 0
    finally:
        daemon.terminate()
        code = daemon.wait(30)
        log.seek(0)
        output = log.read().decode(errors="replace")
        log.close()
        os.unlink(log.name)
    assert code == 0, output
    plain = [line for line in output.splitlines() if not line.startswith("{")]
    assert plain == [] and all(json.loads(line) for line in output.splitlines())  # journald + jq: every line JSON


def get_or_none(port: int) -> int | None:
    """/health's status once the daemon answers; None while it is still starting."""
    try:
        return get(port, "/health")[0]
    except OSError:
        return None


def test_check_config_and_run_refuse_to_start_without_templates(tmp_path: Path) -> None:
    empty = tmp_path / "templates"
    empty.mkdir()
    (empty / "ack.pl.txt.j2").write_text("{{ facts.number }}\n")
    config = tmp_path / "c.toml"
    config.write_text(f'[storage]\nurl = "sqlite:///{tmp_path}/h.db"\n[templates]\ndir = "{empty}"\n', encoding="utf-8")
    hotline = Hotline(config)
    for command in (("check-config",), ("run",)):
        result = hotline.process(*command)
        assert result.code == 2, (command, result)
        (line,) = [line for line in result.err.splitlines() if ": warning: " not in line]  # no source: a warning
        line = line.removeprefix("hotline: error: ")
        assert line.startswith(f"{config}: templates.dir: {empty} lacks ")
        lacking = line.removeprefix(f"{config}: templates.dir: {empty} lacks ").partition(" (copy them")[0].split(", ")
        assert "notification.pl.txt.j2" in lacking and "ack.pl.txt.j2" not in lacking  # what is there is not named
