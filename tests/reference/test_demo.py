import subprocess
import sys
from pathlib import Path

from ireserve_salto_plugin.reference.demo import run_demo


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


def test_sandbox_command_serves_and_writes_private_settings(tmp_path: Path) -> None:
    import json
    import os
    import stat
    import time

    import requests

    path = tmp_path / "sandbox.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ireserve_salto_plugin.support.cli",
            "sandbox",
            "--settings-file",
            str(path),
            "--accounts",
            "2",
            "--activate",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            if path.exists():
                break
            time.sleep(0.05)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        data = json.loads(path.read_text())
        assert len(data["parks"]) == 2 and data["salto_ks"]["iqs"]
        api = data["env"]["SALTO_KS_ACCEPTANCE_API_URL"]
        stats = requests.get(f"{api}/_sandbox/stats", timeout=5)
        assert stats.json()["calls"] == {}
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
