"""Write a zip that is byte-identical for identical input trees, and describe zips.

`zip` and `shutil.make_archive` copy each file's mtime, mode and owner into the archive and list
entries in directory order, so two builds of the same layer give two different zips and Lambda
reports two different CodeSha256 values. Here every entry gets the same timestamp
(`SOURCE_DATE_EPOCH` when set, else 1980-01-01 00:00:00, the earliest a zip can hold), mode 0644
for files and 0755 for directories, no extra fields, and entries are written in sorted order.

Standard library only: the layer build runs it with whatever interpreter is at hand.

    python release/zipdeterministic.py zip SRC_DIR OUT.zip   # entries are relative to SRC_DIR
    python release/zipdeterministic.py info OUT.zip          # key=value lines (sizes, sha256)
    python release/zipdeterministic.py extract OUT.zip DIR
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import sys
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

FILE_MODE = 0o100644
DIR_MODE = 0o040755
MSDOS_DIRECTORY = 0x10
UNIX_SYSTEM = 3
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
MIB = 1024 * 1024


@dataclass(frozen=True)
class ZipSummary:
    """What the build prints about a zip and what publishing compares."""

    entries: int
    files: int
    zipped_bytes: int
    unzipped_bytes: int
    sha256_hex: str
    sha256_b64: str

    def lines(self) -> list[str]:
        """The summary as `key=value` lines, easy to read from a shell."""
        return [
            f"entries={self.entries}",
            f"files={self.files}",
            f"zipped_bytes={self.zipped_bytes}",
            f"unzipped_bytes={self.unzipped_bytes}",
            f"zipped_mib={self.zipped_bytes / MIB:.2f}",
            f"unzipped_mib={self.unzipped_bytes / MIB:.2f}",
            f"sha256={self.sha256_hex}",
            f"code_sha256={self.sha256_b64}",
        ]


def fixed_date_time() -> tuple[int, int, int, int, int, int]:
    """The timestamp of every entry: SOURCE_DATE_EPOCH (UTC) if set, never before 1980."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not raw:
        return ZIP_EPOCH
    stamp = time.gmtime(int(raw))
    if stamp.tm_year < 1980:
        return ZIP_EPOCH
    # zip stores seconds in 2 s steps; round down so the value is stable.
    return (
        stamp.tm_year,
        stamp.tm_mon,
        stamp.tm_mday,
        stamp.tm_hour,
        stamp.tm_min,
        stamp.tm_sec - stamp.tm_sec % 2,
    )


def collect_entries(src: Path) -> list[tuple[str, Path]]:
    """Every directory and regular file under `src` as (archive name, path), sorted by name.

    Directory names end in "/". Symbolic links are refused: a layer should not carry any, and
    following them would make the zip depend on what they point to.
    """
    entries: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(src):
        base = Path(dirpath)
        for name in dirnames + filenames:
            path = base / name
            if path.is_symlink():
                raise ValueError(f"symbolic link in layer tree: {path}")
            arcname = path.relative_to(src).as_posix()
            entries.append((arcname + "/" if path.is_dir() else arcname, path))
    entries.sort(key=lambda item: item[0])
    return entries


def make_info(arcname: str, date_time: tuple[int, int, int, int, int, int]) -> zipfile.ZipInfo:
    """A ZipInfo with fixed time, Unix mode bits and deflate, and nothing else."""
    info = zipfile.ZipInfo(arcname, date_time=date_time)
    info.create_system = UNIX_SYSTEM
    if arcname.endswith("/"):
        info.external_attr = (DIR_MODE << 16) | MSDOS_DIRECTORY
        info.compress_type = zipfile.ZIP_STORED
    else:
        info.external_attr = FILE_MODE << 16
        info.compress_type = zipfile.ZIP_DEFLATED
    return info


def write_zip(src: Path, dest: Path) -> None:
    """Write `src`'s tree into `dest` deterministically (atomically replacing `dest`)."""
    date_time = fixed_date_time()
    tmp = dest.with_name(dest.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for arcname, path in collect_entries(src):
            info = make_info(arcname, date_time)
            data = b"" if arcname.endswith("/") else path.read_bytes()
            zf.writestr(info, data, compress_type=info.compress_type, compresslevel=9)
    tmp.replace(dest)


def summarize(zip_path: Path) -> ZipSummary:
    """Sizes and digests of a zip; `sha256_b64` is what Lambda reports as CodeSha256."""
    data = zip_path.read_bytes()
    digest = hashlib.sha256(data).digest()
    with zipfile.ZipFile(zip_path) as zf:
        infos = zf.infolist()
    return ZipSummary(
        entries=len(infos),
        files=sum(1 for info in infos if not info.is_dir()),
        zipped_bytes=len(data),
        unzipped_bytes=sum(info.file_size for info in infos),
        sha256_hex=digest.hex(),
        sha256_b64=base64.b64encode(digest).decode("ascii"),
    )


def extract(zip_path: Path, dest: Path) -> None:
    """Unpack a zip, refusing entries that would land outside `dest`."""
    root = dest.resolve()
    with zipfile.ZipFile(zip_path) as zf:
        for name in zf.namelist():
            target = (root / name).resolve()
            if target != root and root not in target.parents:
                raise ValueError(f"zip entry escapes the target folder: {name}")
        zf.extractall(root)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Command line: `zip SRC OUT`, `info ZIP` or `extract ZIP DIR`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("zip", help="write a deterministic zip of SRC's contents")
    make.add_argument("src", type=Path)
    make.add_argument("out", type=Path)
    info = sub.add_parser("info", help="print sizes and sha256 of a zip")
    info.add_argument("zip", type=Path)
    unpack = sub.add_parser("extract", help="unpack a zip into a folder")
    unpack.add_argument("zip", type=Path)
    unpack.add_argument("dest", type=Path)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; errors are one line on stderr and exit code 1."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "zip":
            write_zip(args.src, args.out)
        elif args.command == "info":
            print("\n".join(summarize(args.zip).lines()))
        else:
            extract(args.zip, args.dest)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        print(f"zipdeterministic: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
