"""layer/requirements.lock: every layer dependency pinned with hashes that cover each target.

pip-compile --generate-hashes records the hash of every file of a release, so one lock serves
CPython 3.11-3.13 on x86_64 and arm64. Checked here the way build_layer.sh installs: pip with
--require-hashes for each (python, manylinux platform); and a wrong hash is refused.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.layer.builds import ROOT

LOCK = ROOT / "layer" / "requirements.lock"
TARGETS = [(py, arch) for py in ("3.11", "3.12", "3.13") for arch in ("x86_64", "aarch64")]


def lock_entries(text: str) -> dict[str, list[str]]:
    """name==version -> its hashes, from a pip-compile lock file."""
    entries: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if line[:1].isalnum():
            current = line.split()[0]
            entries[current] = []
        elif line.strip().startswith("--hash=sha256:"):
            entries[current].append(line.strip().split(":", 1)[1].rstrip(" \\"))
    return entries


def download(lock: Path, python: str, arch: str, dest: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes",
            "--only-binary=:all:", "--platform", f"manylinux2014_{arch}",
            "--implementation", "cp", "--python-version", python,
            "--cache-dir", str(ROOT / "build" / "cache" / "pip"),
            "-r", str(lock), "-d", str(dest),
        ],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_every_pin_has_hashes_and_the_top_level_pins_match() -> None:
    entries = lock_entries(LOCK.read_text())
    assert len(entries) >= 10
    assert all(len(hashes) >= 1 for hashes in entries.values()), entries
    for line in (ROOT / "layer" / "requirements.txt").read_text().splitlines():
        pin = line.split("#")[0].strip()
        if pin:
            assert pin in entries, f"{pin} is not in the lock: run make lock"


@pytest.mark.parametrize(("python", "arch"), TARGETS)
def test_hashes_cover_every_target(python: str, arch: str, tmp_path: Path) -> None:
    result = download(LOCK, python, arch, tmp_path)
    assert result.returncode == 0, result.stderr
    wrapt = [p.name for p in tmp_path.glob("wrapt-*.whl")]
    assert len(wrapt) == 1 and f"cp{python.replace('.', '')}" in wrapt[0] and arch in wrapt[0]


def test_a_file_not_in_the_lock_is_refused(tmp_path: Path) -> None:
    text = LOCK.read_text()
    entries = lock_entries(text)
    wrapt = next(name for name in entries if name.startswith("wrapt=="))
    for digest in entries[wrapt]:
        text = text.replace(digest, "0" * 64)
    tampered = tmp_path / "tampered.lock"
    tampered.write_text(text)
    result = download(tampered, "3.12", "x86_64", tmp_path / "d")
    assert result.returncode != 0
    assert "DO NOT MATCH THE HASHES" in result.stderr
