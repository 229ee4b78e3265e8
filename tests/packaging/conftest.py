"""Fixtures for the distribution tests: the wheel and sdist as `make dist` builds them, and a
clean virtualenv outside the repository with only the wheel installed."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 600


@dataclass(frozen=True)
class Dist:
    wheel: Path
    sdist: Path


@dataclass(frozen=True)
class Venv:
    """A virtualenv with the wheel installed (pip from the index, through the shared cache)."""

    root: Path
    site_packages: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a build or install step; fail the test with its output when it fails."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    result = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """`python -m build` of the repository, as `make dist` runs it, into a temporary folder."""
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], cwd=ROOT)
    (wheel,) = out.glob("partnerdb-*.whl")
    (sdist,) = out.glob("partnerdb-*.tar.gz")
    return Dist(wheel=wheel, sdist=sdist)


@pytest.fixture(scope="session")
def clean_venv(dist: Dist, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """`python -m venv` outside the repository, then `pip install <the wheel>`, nothing else."""
    home = tmp_path_factory.mktemp("user-project")
    root = home / "venv"
    run([sys.executable, "-m", "venv", str(root)], cwd=home)
    run([str(root / "bin" / "python"), "-m", "pip", "install", "-q", str(dist.wheel)], cwd=home)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return Venv(root=root, site_packages=root / "lib" / version / "site-packages")
