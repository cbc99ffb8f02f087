"""The systemd unit as systemd itself reads it: `systemd-analyze verify` finds nothing to say
about it, `systemd-analyze security` rates it well hardened, and the keys the daemon and
the admins rely on are there."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.support import HOTLINE, REPO

UNIT = REPO / "systemd" / "hotline.service"
INSTALLED_BINARY = "/opt/hotline/.venv/bin/hotline"
SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze"
# the secrets systemd hands the daemon, as the config's defaults and README name them
CREDENTIALS = ("imap-password", "token-secret", "register-key")


def parse_unit(text: str) -> dict[tuple[str, str], list[str]]:
    """(section, key) -> every value in order: keys such as LoadCredential repeat."""
    entries: dict[tuple[str, str], list[str]] = {}
    section = ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.setdefault((section, key.strip()), []).append(value.strip())
    return entries


def port25_dropin() -> str:
    """The drop-in the unit's comments tell admins to add for port 25, as a file."""
    text = UNIT.read_text()
    block = text.split("To listen on port 25 add, in a drop-in:", 1)[1]
    lines = re.findall(r"^#\s{2,}(\w+=.*)$", block, flags=re.MULTILINE)
    assert lines, "the port-25 drop-in is documented in the unit"
    return "[Service]\n" + "\n".join(lines) + "\n"


def installable_copy(folder: Path, dropin: str | None = None) -> Path:
    """The unit with the paths that must exist for verify pointed into this checkout and a
    temporary folder; everything else as committed."""
    assert Path(SYSTEMD_ANALYZE).exists(), "systemd-analyze missing: `make test` installs the systemd package"
    etc = folder / "etc-hotline"
    (etc / "credentials").mkdir(parents=True)
    for name in CREDENTIALS:
        (etc / "credentials" / name).write_text("secret\n")
    text = UNIT.read_text().replace(INSTALLED_BINARY, str(HOTLINE)).replace("/etc/hotline/", f"{etc}/")
    unit = folder / "hotline.service"
    unit.write_text(text)
    if dropin is not None:
        (folder / "hotline.service.d").mkdir()
        (folder / "hotline.service.d" / "port25.conf").write_text(dropin)
    return unit


def verify(unit: Path) -> list[str]:
    """The lines systemd-analyze prints about our unit (or its drop-ins).

    Filtered out: lines that do not name hotline.service, i.e. complaints about the host
    rather than the unit (in a container: no systemd as PID 1, no bus, missing /etc/systemd
    files or other units' problems). Warnings about our unit name it by path or by name.
    """
    proc = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", "--generators=no", str(unit)],
        capture_output=True, text=True, timeout=60, cwd=unit.parent,
    )  # fmt: skip
    ours = [line for line in (proc.stdout + proc.stderr).splitlines() if "hotline.service" in line]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return ours


def test_binary_under_test_exists() -> None:
    assert HOTLINE.exists(), f"{HOTLINE}: the venv's console script, which the test unit runs"


def test_systemd_analyze_verify_has_nothing_to_say(tmp_path: Path) -> None:
    assert verify(installable_copy(tmp_path)) == []


def test_port_25_dropin_verifies_too(tmp_path: Path) -> None:
    dropin = port25_dropin()
    assert "AmbientCapabilities=CAP_NET_BIND_SERVICE" in dropin
    assert verify(installable_copy(tmp_path, dropin)) == []


def test_verify_does_catch_a_broken_unit(tmp_path: Path) -> None:
    """The check above means something: a typo in a key is reported and not filtered."""
    unit = installable_copy(tmp_path)
    unit.write_text(unit.read_text().replace("ProtectClock=yes", "ProtectClok=yes"))
    assert any("ProtectClok" in line for line in verify(unit))


def test_security_exposure_is_low(tmp_path: Path) -> None:
    unit = installable_copy(tmp_path)
    proc = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    found = re.search(r"Overall exposure level for hotline\.service: ([\d.]+)", proc.stdout)
    assert found, proc.stdout + proc.stderr
    assert float(found.group(1)) <= 2.0, proc.stdout


EXPECTED = {
    "Type": "notify",
    "NotifyAccess": "main",
    "WatchdogSec": "30s",
    "Restart": "on-failure",
    "DynamicUser": "yes",
    "StateDirectory": "hotline",
    "WorkingDirectory": "/var/lib/hotline",
    "ConfigurationDirectory": "hotline",
    "ExecStart": f"{INSTALLED_BINARY} run",
    "ExecStartPre": f"{INSTALLED_BINARY} db upgrade",
    "ExecReload": "/bin/kill -HUP $MAINPID",
    "KillMode": "mixed",
    "UMask": "0077",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectClock": "yes",
    "ProtectHostname": "yes",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "RestrictNamespaces": "yes",
    "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "SystemCallArchitectures": "native",
    "CapabilityBoundingSet": "",
}


@pytest.mark.parametrize(("key", "value"), sorted(EXPECTED.items()))
def test_service_key(key: str, value: str) -> None:
    assert parse_unit(UNIT.read_text()).get(("Service", key)) == [value]


def test_environment_credentials_and_syscall_filter() -> None:
    unit = parse_unit(UNIT.read_text())
    assert "HOTLINE_CONFIG=/etc/hotline/hotline.toml" in unit[("Service", "Environment")]
    creds = dict(v.split(":", 1) for v in unit[("Service", "LoadCredential")])
    assert creds == {name: f"/etc/hotline/credentials/{name}" for name in CREDENTIALS}
    assert unit[("Service", "SystemCallFilter")][0] == "@system-service"
    assert unit[("Install", "WantedBy")] == ["multi-user.target"]


def test_stop_timeout_leaves_room_for_the_daemons_grace_time() -> None:
    from gateway.settings import Settings

    grace = Settings().daemon.grace_seconds
    timeout = parse_unit(UNIT.read_text())[("Service", "TimeoutStopSec")][0]
    assert timeout.endswith("s") and grace < float(timeout[:-1]) <= grace + 15


def test_committed_unit_points_at_the_installed_paths() -> None:
    """The copy under test is rewritten; the committed file stays what admins install."""
    text = UNIT.read_text()
    assert str(REPO) not in text and "/tmp" not in text
    assert INSTALLED_BINARY in text and "/etc/hotline/credentials/imap-password" in text
