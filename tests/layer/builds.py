"""Running build_layer.sh from tests, and what a finished build looks like."""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "build_layer.sh"
PYTHON = "3.12"
BUILD_TIMEOUT = 300


@dataclass(frozen=True)
class Build:
    """One finished build: the zip and what the script printed."""

    zip_path: Path
    stdout: str
    stderr: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.zip_path.read_bytes()).hexdigest()

    def names(self) -> list[str]:
        with zipfile.ZipFile(self.zip_path) as zf:
            return zf.namelist()

    def infos(self) -> list[zipfile.ZipInfo]:
        with zipfile.ZipFile(self.zip_path) as zf:
            return zf.infolist()

    def read(self, name: str) -> bytes:
        with zipfile.ZipFile(self.zip_path) as zf:
            return zf.read(name)

    @property
    def compiled(self) -> bool:
        """Whether the build found the target interpreter and shipped bytecode."""
        return "compiling bytecode" in self.stdout


def run_build(
    *flags: str, out: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run build_layer.sh with `flags` into `out`; return the finished process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        ["bash", str(BUILD_SCRIPT), *flags, "--out", str(out)],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=ROOT,
        timeout=BUILD_TIMEOUT,
        check=False,
    )


def build(out: Path, flags: Sequence[str] = (), env: dict[str, str] | None = None) -> Build:
    """Build one variant and return it; fail the test with the script's output if it fails."""
    result = run_build(*flags, out=out, env=env)
    if result.returncode != 0:
        pytest.fail(
            f"build_layer.sh {' '.join(flags)} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    zips = sorted(out.glob("partnerdb-layer-*.zip"))
    assert len(zips) == 1, zips
    return Build(zip_path=zips[0], stdout=result.stdout, stderr=result.stderr)


def find_python(version: str) -> str | None:
    """An interpreter of `version` on this machine (PATH, then pyenv), as build_layer.sh does."""
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(glob.glob(f"/root/.pyenv/versions/{version}*/bin/python{version}"))
    for candidate in candidates:
        if not candidate:
            continue
        probe = subprocess.run(
            [candidate, "-I", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    return None
