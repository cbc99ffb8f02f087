"""The README's walk-throughs run as printed, on a throw-away copy: the commands are parsed out
of README.md (and `make run`'s recipe out of the Makefile), so an edit to either changes what
is tested and the README cannot drift from the product again.

Set up: the example config copied into a scratch folder (its two ports moved to free ones,
the same move made in the snippet: four people share this machine), `make run`'s recipe,
the smtplib snippet, `tickets list`, the acknowledgement in the Maildir threaded to the
snippet's Message-ID, `outbox --all`. Running as a service: the `install` lines and
`check-config` with /opt, /etc and /var/lib mapped into the scratch folder."""
from __future__ import annotations

import email
import os
import re
import shutil
import subprocess
import sys
from email import policy
from pathlib import Path

from tests.support import REPO, DaemonProcess, free_port, wait_for

VENV = Path(sys.executable).parent.parent  # the venv running the tests is the README's .venv
SECRET = "0123456789abcdef0123456789abcdef"


def section(title: str) -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def make_recipe(target: str) -> list[str]:
    """A Makefile target's recipe lines, with its variables and $@ filled in."""
    makefile = (REPO / "Makefile").read_text()
    variables = dict(re.findall(r"^(\w+) \?*:?= (.*)$", makefile, flags=re.MULTILINE))
    recipe = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", makefile, flags=re.MULTILINE)
    assert recipe, f"no target {target} in the Makefile"
    lines = [line.strip() for line in recipe.group(1).splitlines()]
    return [re.sub(r"\$\((\w+)\)", lambda m: variables[m.group(1)], line).replace("$@", target) for line in lines]


def sh(command: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["bash", "-e", "-c", command], cwd=cwd, capture_output=True, text=True, timeout=120,
                            env={**os.environ, **env})  # fmt: skip
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result


def maildir_messages(folder: Path) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in folder.glob("*")]  # type: ignore[misc]


class MakeRun(DaemonProcess):
    """The daemon started by `make run`'s last recipe line, in the scratch folder."""

    def __init__(self, command: str, folder: Path) -> None:
        super().__init__(folder / "config" / "hotline.example.toml", folder)
        self.command, self.folder = command, folder

    def spawn(self) -> None:
        env = {**os.environ, "NOTIFY_SOCKET": str(self.notify_path)}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(["bash", "-c", self.command], cwd=self.folder,
                                         stdout=log, stderr=subprocess.STDOUT, env=env)  # fmt: skip


def test_set_up_walkthrough_as_printed(tmp_path: Path) -> None:
    setup = section("Set up")
    make, send, outbox = blocks(setup, "sh")
    assert "make run" in make
    (tmp_path / ".venv").symlink_to(VENV)
    (tmp_path / "config").mkdir()
    example = (REPO / "config" / "hotline.example.toml").read_text()
    smtp_port, metrics_port = free_port(), free_port()
    assert '"127.0.0.1", 2525' in send and 'listen = "127.0.0.1:2525"' in example  # the snippet meets the listener
    example = example.replace(":2525", f":{smtp_port}").replace(":9466", f":{metrics_port}")
    (tmp_path / "config" / "hotline.example.toml").write_text(example)

    secret, (upgrade, run) = make_recipe("config/var/token-secret"), make_recipe("run")
    for line in [*secret, upgrade]:
        sh(line, tmp_path)
    daemon = MakeRun(run, tmp_path)
    try:
        daemon.start()
        heredoc, listing = send.split("\nPY\n")
        sh(heredoc.replace("2525", str(smtp_port)) + "\nPY\n", tmp_path)
        listed = wait_for(lambda: sh(listing, tmp_path).stdout)
        number = listed.split()[0]
        assert re.fullmatch(r"HOT-\d{4}-\d{6}", number) and listed.rstrip().endswith("Test")

        (maildir,) = re.findall(r"lands in\s+`([^`]+)`", setup)
        (message_id,) = re.findall(r"Message-ID: (<[^>]+>)", send)
        (ack,) = wait_for(lambda: [m for m in maildir_messages(tmp_path / maildir) if m["In-Reply-To"] == message_id])
        assert ack["Subject"] == f"[HOT#{number.removeprefix('HOT-')}] Test" and message_id in ack["References"]
        (row,) = wait_for(lambda: [l for l in sh(outbox, tmp_path).stdout.splitlines() if " ack " in l and ": sent " in l])
        assert f"{number} ack (email) to jan@example.com: sent 20" in row
        assert daemon.terminate() == 0
    finally:
        daemon.close()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(("daemon-", "notify-"))) == [
        ".venv", "config"]  # everything the walk-through made is beside the config  # fmt: skip


def test_service_install_check_config_as_printed(tmp_path: Path) -> None:
    (install,) = blocks(section("Running as a service"), "sh")[:1]
    places = {"/opt/hotline/.venv": str(VENV), "/opt/hotline": str(REPO),
              "/etc/hotline": str(tmp_path / "etc"), "/var/lib/hotline": str(tmp_path / "state")}  # fmt: skip
    lines = [line.split("#")[0].strip() for line in install.splitlines()]
    for old, new in places.items():
        lines = [line.replace(old, new) for line in lines]
    for line in lines:
        if line.startswith("install "):
            sh(line, tmp_path)
    config = tmp_path / "etc" / "hotline.toml"  # "then edit it": the secret is a systemd credential
    config.write_text(config.read_text().replace('token_secret_file = "var/token-secret"', 'token_secret_file = "token-secret"'))
    (tmp_path / "etc" / "credentials" / "token-secret").write_text(SECRET + "\n")
    (check,) = [line for line in lines if line.endswith("check-config")]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = sh(check, elsewhere).stdout
    assert out.strip() == (f"{config}: OK (store sqlite:///{tmp_path}/state/var/hotline.db, "
                           f"outbox Maildir {tmp_path}/state/var/outbox)")  # fmt: skip
    assert list(elsewhere.iterdir()) == []
