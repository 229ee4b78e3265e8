"""Fetching DynamoDB Local: the pinned npm package, integrity-checked, unpacked into a cache.

DynamoDB Local's licence forbids redistribution, so it is not in the repository: the npm
package `amplify-dynamodb-simulator` (pinned below, integrity checked) carries
`DynamoDBLocal.jar` and its `DynamoDBLocal_lib` (jars and the native sqlite4java libraries).
`npm pack` fetches only that package's tarball; it is unpacked once into `build/ddblocal/`
(or `$DDBLOCAL_CACHE_DIR`) and reused from there. `emulators.ddblocal` runs it.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: The npm package carrying DynamoDBLocal.jar, pinned; it ships DynamoDB Local 1.25.1.
NPM_PACKAGE = "amplify-dynamodb-simulator"
NPM_VERSION = "2.9.30"
#: The tarball's integrity as the registry publishes it (`npm view <pkg>@<v> dist.integrity`).
NPM_INTEGRITY = (
    "sha512-"
    "xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ=="
)
#: Where the unpacked package is cached (under the gitignored build/).
DEFAULT_CACHE_DIR = Path(__file__).resolve().parent.parent / "build" / "ddblocal"
#: Environment variable that overrides DEFAULT_CACHE_DIR.
CACHE_DIR_ENV = "DDBLOCAL_CACHE_DIR"
NPM_TIMEOUT_SECONDS = 300.0
LOCK_TIMEOUT_SECONDS = 360.0


class DDBLocalError(RuntimeError):
    """DynamoDB Local could not be fetched or started; the message is one line for a human."""


@dataclass(frozen=True)
class Distribution:
    """An unpacked DynamoDB Local: the jar, its library directory and its version."""

    jar: Path
    lib_dir: Path
    version: str


def cache_dir() -> Path:
    """The cache directory: `$DDBLOCAL_CACHE_DIR` or `build/ddblocal/` of this repository."""
    override = os.environ.get(CACHE_DIR_ENV)
    return Path(override) if override else DEFAULT_CACHE_DIR


def _locate(root: Path) -> Distribution | None:
    """The jar and `DynamoDBLocal_lib` beside it anywhere under `root`, if both are there."""
    for jar in sorted(root.rglob("DynamoDBLocal.jar")):
        lib_dir = jar.parent / "DynamoDBLocal_lib"
        if lib_dir.is_dir() and any(lib_dir.glob("*sqlite4java*")):
            return Distribution(jar=jar, lib_dir=lib_dir, version=_version(jar.parent))
    return None


def _version(emulator_dir: Path) -> str:
    """DynamoDB Local's version from the newest entry of its README's release notes."""
    readme = emulator_dir / "README.txt"
    try:
        match = re.search(r"^\s*\d{4}-\d{1,2}-\d{1,2}\s*\(([\d.]+)\)", readme.read_text(), re.M)
    except OSError:
        return "unknown"
    return match.group(1) if match else "unknown"


@contextlib.contextmanager
def _locked(directory: Path, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
    """An exclusive lock on `directory` so concurrent runs fetch only once (bounded wait)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        give_up = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > give_up:
                    raise DDBLocalError(
                        f"another process has held {directory / '.lock'} for {timeout:.0f} s"
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _npm_pack(destination: Path) -> Path:
    """`npm pack` the pinned package into `destination`; return the tarball, integrity checked."""
    npm = shutil.which("npm")
    if npm is None:
        raise DDBLocalError(
            "npm not found on PATH: it fetches DynamoDB Local (apt-get install npm)"
        )
    spec = f"{NPM_PACKAGE}@{NPM_VERSION}"
    env = dict(
        os.environ,
        npm_config_update_notifier="false",
        npm_config_fund="false",
        npm_config_audit="false",
    )
    try:
        done = subprocess.run(
            [npm, "pack", spec, "--json", "--ignore-scripts", "--pack-destination", "."],
            cwd=destination,
            env=env,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DDBLocalError(f"npm pack {spec} took over {NPM_TIMEOUT_SECONDS:.0f} s") from None
    if done.returncode != 0:
        raise DDBLocalError(f"npm pack {spec} failed (exit {done.returncode}): {_npm_error(done)}")
    try:
        filename = json.loads(done.stdout)[0]["filename"]
    except (ValueError, LookupError, TypeError):
        raise DDBLocalError(f"npm pack {spec} printed no tarball name") from None
    tarball = destination / str(filename)
    algorithm, _, expected = NPM_INTEGRITY.partition("-")
    digest = hashlib.new(algorithm, tarball.read_bytes()).digest()
    if base64.b64encode(digest).decode() != expected:
        raise DDBLocalError(f"{tarball.name} does not match the pinned integrity {NPM_INTEGRITY}")
    return tarball


def _npm_error(done: subprocess.CompletedProcess[str]) -> str:
    """npm's own one-line summary of a failure (`--json` puts it on stdout), else stderr's."""
    try:
        error = json.loads(done.stdout)["error"]
        return f"{error['code']}: {error['summary']}"[:300]
    except (ValueError, LookupError, TypeError):
        pass
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    useful = [line for line in lines if "complete log" not in line]
    return (useful or lines or ["(no output)"])[0][:300]


def _extract_emulator(tarball: Path, into: Path) -> None:
    """Unpack only the package's `emulator/` directory (jar, libs, licences) into `into`."""
    with tarfile.open(tarball, "r:gz") as archive:
        members = [m for m in archive.getmembers() if m.name.startswith("package/emulator/")]
        if not members:
            raise DDBLocalError(f"{tarball.name} has no package/emulator/ directory")
        archive.extractall(into, members=members, filter="data")


def fetch(directory: Path | None = None) -> tuple[Distribution, float | None]:
    """DynamoDB Local from the cache, fetched and unpacked first if missing.

    Returns the distribution and the seconds spent fetching (None when the cache was used).
    The unpacked tree is moved into place only when complete, under a lock, so an interrupted
    or concurrent fetch never leaves a half-filled cache that later runs would trust.
    """
    root = directory or cache_dir()
    final = root / f"{NPM_PACKAGE}-{NPM_VERSION}"
    cached = _locate(final) if final.is_dir() else None
    if cached is not None:
        return cached, None
    with _locked(root):
        cached = _locate(final) if final.is_dir() else None
        if cached is not None:
            return cached, None
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=".fetch-", dir=root) as scratch:
            work = Path(scratch)
            tarball = _npm_pack(work)
            unpacked = work / "unpacked"
            _extract_emulator(tarball, unpacked)
            if _locate(unpacked) is None:
                raise DDBLocalError(
                    f"{tarball.name} has no DynamoDBLocal.jar with a DynamoDBLocal_lib beside it"
                )
            shutil.rmtree(final, ignore_errors=True)
            unpacked.rename(final)
        found = _locate(final)
        if found is None:  # pragma: no cover - just checked before the rename
            raise DDBLocalError(f"DynamoDBLocal.jar vanished from {final}")
        return found, time.monotonic() - started
