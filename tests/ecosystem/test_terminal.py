"""Terminal presentation: colours (--color, NO_COLOR), --statistics, --quiet, and a progress bar on a TTY only."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from perflint.cli import PROGRESS_MIN_FILES, cli

SITE = """\
import torch


def validate(model, loader):
    kept = []
    with torch.no_grad():
        for x in loader:
            kept.append(model(x).softmax(-1).cpu())
    return kept


def train(model, loader):
    log = []
    for x in loader:
        log.append(model(x).softmax(-1).cpu())
    return log
"""
ESC = "\x1b["


@pytest.fixture
def site(tmp_path: Path) -> Path:
    path = tmp_path / "site.py"
    path.write_text(SITE)
    return path


def check(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, ["check", "--select", "PFL101", *args], env=env, catch_exceptions=False)


def test_color_always_paints_even_when_piped_and_despite_no_color(site: Path) -> None:
    painted = check("--color", "always", str(site), env={"NO_COLOR": "1"})
    assert ESC in painted.stdout
    assert f"{ESC}31m{ESC}1mPFL101{ESC}0m" in painted.stdout


def test_color_never_and_auto_when_piped_print_plain_text(site: Path) -> None:
    for choice in ("never", "auto"):
        assert ESC not in check("--color", choice, str(site)).stdout


def test_color_auto_on_a_terminal_honours_no_color(site: Path) -> None:
    assert ESC in terminal_run(["check", "--select", "PFL101", str(site)], {"NO_COLOR": ""}).stdout_text
    assert ESC not in terminal_run(["check", "--select", "PFL101", str(site)], {"NO_COLOR": "1"}).stdout_text


def test_statistics_text_and_json(site: Path) -> None:
    text = check("--statistics", str(site))
    assert text.exit_code == 1
    assert text.stdout == "2  PFL101  [*] cpu-without-detach\n"
    rows = json.loads(check("--statistics", "--output-format", "json", str(site)).stdout)
    assert rows == [{"code": "PFL101", "name": "cpu-without-detach", "count": 2, "fixable": 1}]
    unsafe = json.loads(check("--statistics", "--output-format", "json", "--unsafe-fixes", str(site)).stdout)
    assert unsafe[0]["fixable"] == 2
    refused = CliRunner().invoke(cli, ["check", "--statistics", "--output-format", "sarif", str(site)])
    assert refused.exit_code == 2 and "--statistics works with" in refused.output


def test_quiet_prints_findings_only(site: Path) -> None:
    loud, quiet = check(str(site)), check("-q", str(site))
    assert "Found 2 findings" in loud.stdout
    assert loud.stdout.startswith(quiet.stdout) and "Found" not in quiet.stdout
    assert quiet.stdout.count("PFL101 ") == 2
    assert quiet.exit_code == 1
    clean = site.with_name("clean.py")
    clean.write_text("x = 1\n")
    assert check("--quiet", str(clean)).stdout == ""


class TerminalRun:
    """A perflint run whose stdout and stderr are each a pseudo-terminal (or a pipe)."""

    def __init__(self, stdout_text: str, stderr_text: str, returncode: int) -> None:
        self.stdout_text, self.stderr_text, self.returncode = stdout_text, stderr_text, returncode


def terminal_run(args: list[str], env: dict[str, str], stdout_tty: bool = True, stderr_tty: bool = True) -> TerminalRun:
    """Run ``python -m perflint ARGS`` with a TTY on the chosen streams, reading everything it writes."""
    out_master, out_slave = pty.openpty() if stdout_tty else os.pipe()
    err_master, err_slave = pty.openpty() if stderr_tty else os.pipe()
    process = subprocess.Popen(
        [sys.executable, "-m", "perflint", *args],
        stdout=out_slave,
        stderr=err_slave,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "100", **env},
    )
    os.close(out_slave)
    os.close(err_slave)
    texts = [_drain(out_master), _drain(err_master)]
    return TerminalRun(texts[0], texts[1], process.wait(timeout=120))


def _drain(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # a pseudo-terminal reports EIO once the writer has exited
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture
def many_files(tmp_path: Path) -> Path:
    for index in range(PROGRESS_MIN_FILES):
        (tmp_path / f"module_{index:02d}.py").write_text("import torch\nx = torch.ones(1).cpu()\n")
    return tmp_path


def test_progress_bar_on_an_interactive_stderr_for_long_runs(many_files: Path) -> None:
    shown = terminal_run(["check", str(many_files)], {})
    assert shown.returncode == 0
    assert "perflint" in shown.stderr_text and f"{PROGRESS_MIN_FILES}/{PROGRESS_MIN_FILES}" in shown.stderr_text
    assert "All checks passed (20 files checked)." in shown.stdout_text


def test_no_progress_bar_when_piped_quiet_machine_output_or_short(many_files: Path) -> None:
    assert terminal_run(["check", str(many_files)], {}, stderr_tty=False).stderr_text == ""
    assert terminal_run(["check", "-q", str(many_files)], {}).stderr_text == ""
    assert terminal_run(["check", "--output-format", "json", str(many_files)], {}).stderr_text == ""
    assert terminal_run(["check", str(many_files / "module_00.py")], {}).stderr_text == ""
