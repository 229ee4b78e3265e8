"""`python -m bench` as bench/README.md documents it, on a quick figure (a hung DynamoDB
stand-in on 127.0.0.1, five calls), with results written outside the repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_bench(out: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "deadline", "--out", out],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=180,
    )


@pytest.mark.slow
def test_out_outside_the_repository_writes_and_exits_0(tmp_path: Path) -> None:
    out = tmp_path / "results"
    done = run_bench(str(out), ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((out / "latest.json").read_text())["figures_run"] == ["deadline"]
    assert (out / "latest.md").is_file()
    assert f"written: {out}/latest.json" in done.stdout


@pytest.mark.slow
def test_relative_out_is_relative_to_the_working_directory(tmp_path: Path) -> None:
    done = run_bench("rel-results", tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "rel-results" / "latest.json").is_file()
    assert f"written: {tmp_path / 'rel-results'}/latest.json" in done.stdout
