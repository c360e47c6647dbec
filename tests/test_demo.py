import subprocess
import sys
from pathlib import Path

from ireserve_salto_plugin.sandbox.demo import run_demo


def test_demo_runs_end_to_end() -> None:
    lines: list[str] = []
    assert run_demo(lines.append) is True
    text = "\n".join(lines)
    assert "denied/too_early" in text and "opened/opened" in text
    assert "lock_opened Chalet 12 by remote" in text
    assert "FAIL" not in text


def test_demo_command_exit_code() -> None:
    script = Path(sys.executable).parent / "ireserve-salto"
    done = subprocess.run([str(script), "demo"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Demo complete" in done.stdout
