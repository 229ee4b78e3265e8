"""`make demo` itself: the scripted payments sequence passes and cleans up after itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_runs_every_step_and_exits_zero() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "local.demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT / "build")},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "All steps gave the expected result." in out
    assert "WRONG" not in out
    assert "secrets in the function's logs: none" in out
    assert out.count(" ok\n") + out.count(" ok \n") >= 11 or out.count("  ok") >= 11
