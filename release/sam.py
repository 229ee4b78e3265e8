"""AWS SAM CLI in a virtualenv of its own, created on first use: `build/sam-venv`.

aws-sam-cli pins its own boto3 (1.170.0 requires boto3==1.43.108), which would downgrade the
dev venv's boto3/botocore 1.44.8 (the layer's pins, which the deadline code relies on). So SAM
never goes into `.venv`: this module installs the pinned version into a separate venv and runs
it from there. SAM's telemetry is switched off and its weekly "newer version" look-up is kept
from running (its settings live in `build/sam-venv/app`, not in the user's home).

    release/sam.sh build                          # the same as: python release/sam.py build
    release/sam.sh deploy --guided
    python release/sam.py --ensure                # install only, print the sam executable

`PARTNERDB_SAM_VENV` puts the venv elsewhere. Creating it takes about 30 s and 340 MB.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

SAM_CLI_VERSION = "1.170.0"
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VENV = ROOT / "build" / "sam-venv"
_STAMP = ".partnerdb-sam-cli"


class SamInstallError(RuntimeError):
    """Creating the SAM virtualenv or installing aws-sam-cli into it failed."""


def venv_dir() -> Path:
    """Where the SAM virtualenv lives: `PARTNERDB_SAM_VENV`, else `build/sam-venv`."""
    configured = os.environ.get("PARTNERDB_SAM_VENV", "").strip()
    return Path(configured).resolve() if configured else DEFAULT_VENV


def sam_executable(venv: Path | None = None) -> Path:
    """The `sam` entry point inside the virtualenv (it may not exist yet)."""
    return (venv or venv_dir()) / "bin" / "sam"


def is_installed(venv: Path | None = None) -> bool:
    """True when the venv holds exactly SAM_CLI_VERSION, installed to completion."""
    venv = venv or venv_dir()
    stamp = venv / _STAMP
    return (
        sam_executable(venv).is_file()
        and stamp.is_file()
        and stamp.read_text(encoding="utf-8").strip() == SAM_CLI_VERSION
    )


def ensure_sam(venv: Path | None = None, *, python: str | None = None) -> Path:
    """Create the venv and install aws-sam-cli==SAM_CLI_VERSION unless already done.

    Safe to call from concurrent processes (a lock file beside the venv serialises them). A
    half-finished install, or another version, is removed and redone. `python` is the
    interpreter that creates the venv (default: the one running this). Returns the `sam` path.
    """
    venv = venv or venv_dir()
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_installed(venv):
            return sam_executable(venv)
        shutil.rmtree(venv, ignore_errors=True)
        steps = [
            [python or sys.executable, "-m", "venv", str(venv)],
            [
                str(venv / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
                f"aws-sam-cli=={SAM_CLI_VERSION}",
            ],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                shutil.rmtree(venv, ignore_errors=True)
                raise SamInstallError(
                    f"{' '.join(step)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
                )
        (venv / _STAMP).write_text(SAM_CLI_VERSION + "\n", encoding="utf-8")
        return sam_executable(venv)


def sam_environment(
    venv: Path | None = None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment to run SAM in: `base` (default os.environ) with telemetry off.

    SAM keeps its settings in an app directory; pointing it at one inside the venv whose last
    version check is "now" stops the weekly request to the package index for newer versions.
    """
    venv = venv or venv_dir()
    app_dir = venv / "app"
    app_dir.mkdir(parents=True, exist_ok=True)
    metadata = app_dir / "metadata.json"
    settings: dict[str, object] = {}
    if metadata.is_file():
        try:
            loaded = json.loads(metadata.read_text(encoding="utf-8"))
            settings = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            settings = {}
    settings.update({"telemetryEnabled": False, "lastVersionCheck": time.time()})
    metadata.write_text(json.dumps(settings, indent=2), encoding="utf-8")
    env = dict(os.environ if base is None else base)
    env.update({"SAM_CLI_TELEMETRY": "0", "__SAM_CLI_APP_DIR": str(app_dir)})
    return env


def run_sam(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Install SAM if needed, run `sam ARGS` and return it with stdout and stderr captured."""
    venv = venv_dir()
    sam = ensure_sam(venv)
    return subprocess.run(
        [str(sam), *args],
        cwd=cwd,
        env=sam_environment(venv, env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """`sam.py ARGS`: run SAM in the foreground (interactive: `deploy --guided` prompts)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--"]:
        args = args[1:]
    venv = venv_dir()
    if not is_installed(venv):
        print(f"sam: installing aws-sam-cli=={SAM_CLI_VERSION} into {venv} ...", file=sys.stderr)
    try:
        sam = ensure_sam(venv)
    except SamInstallError as error:
        print(f"sam: {error}", file=sys.stderr)
        return 1
    if args == ["--ensure"]:
        print(sam)
        return 0
    os.execve(sam, [str(sam), *args], sam_environment(venv))


if __name__ == "__main__":
    raise SystemExit(main())
