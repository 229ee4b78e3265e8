"""Checks the layer build runs on what it installed and on the finished, unpacked zip.

Standard library only, and meant to run as a script in an isolated interpreter of the layer's
target Python (`pythonX.Y -I -S release/layer_check.py ...`): `-I` ignores PYTHON* variables,
user site-packages and the script's own folder, `-S` skips site-packages, so the only
third-party code importable is what the layer ships (plus, for a slim layer, a stand-in for the
boto3/botocore that the Lambda runtime provides).

    layer_check.py pins SITE --expect NAME==VERSION ...
        the distributions installed in SITE are exactly the pinned ones, no more, no fewer
    layer_check.py imports LAYER_PYTHON [--runtime DIR] [--arch ARCH] [--bytecode TAG] ...
        import partnerdb, handler_sdk, pynamodb and botocore from the layer as Lambda would
"""

from __future__ import annotations

import argparse
import importlib
import platform
import re
import sys
from collections.abc import Sequence
from email.parser import HeaderParser
from pathlib import Path

# ELF e_machine values of the architectures Lambda offers.
ELF_MACHINES = {"x86_64": 62, "arm64": 183}
HOST_ARCHES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


class CheckFailed(Exception):
    """A verification failed; the message says what and where."""


def normalize(name: str) -> str:
    """PEP 503 name normalization, so `python_dateutil` matches `python-dateutil`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_distributions(site: Path) -> dict[str, str]:
    """Name -> version of every `*.dist-info` in `site`, read from its METADATA."""
    found: dict[str, str] = {}
    for meta in sorted(site.glob("*.dist-info/METADATA")):
        headers = HeaderParser().parsestr(meta.read_text(encoding="utf-8"))
        found[normalize(headers["Name"])] = headers["Version"]
    return found


def check_pins(site: Path, expected: Sequence[str]) -> list[str]:
    """Compare installed distributions with `NAME==VERSION` pins; return what differs."""
    wanted = {normalize(pin.split("==")[0]): pin.split("==")[1] for pin in expected}
    installed = installed_distributions(site)
    problems = []
    for name, version in sorted(installed.items()):
        if name not in wanted:
            problems.append(f"{name}=={version} was installed but is not pinned")
        elif wanted[name] != version:
            problems.append(f"{name}=={version} was installed but {wanted[name]} is pinned")
    problems.extend(
        f"{name}=={version} is pinned but was not installed"
        for name, version in sorted(wanted.items())
        if name not in installed
    )
    return problems


def module_origin(name: str) -> Path:
    """Where an imported module's file is."""
    module = sys.modules[name]
    origin = getattr(module, "__file__", None)
    if origin is None:
        raise CheckFailed(f"{name} has no __file__ (namespace package?): is its __init__ there?")
    return Path(origin).resolve()


def expect_under(name: str, root: Path) -> None:
    """Fail unless module `name` was imported from below `root`."""
    origin = module_origin(name)
    if root.resolve() not in origin.parents:
        raise CheckFailed(f"{name} was imported from {origin}, not from {root}")


def elf_machine(path: Path) -> int:
    """The e_machine field of an ELF file (little-endian, as on both Lambda architectures)."""
    header = path.read_bytes()[:20]
    if header[:4] != b"\x7fELF":
        raise CheckFailed(f"{path} is not an ELF file")
    return int.from_bytes(header[18:20], "little")


def check_native_arch(layer: Path, arch: str) -> list[str]:
    """Every shared library in the layer is built for `arch`; return their names."""
    libraries = sorted(layer.rglob("*.so"))
    for lib in libraries:
        machine = elf_machine(lib)
        if machine != ELF_MACHINES[arch]:
            raise CheckFailed(f"{lib.name} is for ELF machine {machine}, not {arch}")
    return [str(lib.relative_to(layer)) for lib in libraries]


def bytecode_files(layer: Path) -> set[Path]:
    """Every .pyc file below `layer`."""
    return set(layer.rglob("*.pyc"))


def check_bytecode_tags(files: set[Path], tag: str | None) -> None:
    """Only bytecode for `tag` (e.g. cpython-312) may ship; none at all if `tag` is None."""
    foreign = sorted(p for p in files if tag is None or f".{tag}." not in p.name)
    if foreign:
        raise CheckFailed(f"unexpected bytecode in the layer: {foreign[0]} (+{len(foreign) - 1})")


def run_imports(args: argparse.Namespace) -> None:
    """Import the layer as the Lambda runtime would and check where everything came from.

    The layer folder goes first on sys.path (as /opt/python does on Lambda); a slim layer's
    runtime stand-in goes after it. partnerdb must not pull in aws_xray_sdk at import time
    (X-Ray is loaded only when a trace is sampled), which is also what lets a foreign-arch layer
    be verified here: only wrapt, which aws_xray_sdk needs, is native.
    """
    layer: Path = args.layer.resolve()
    before = bytecode_files(layer)
    check_bytecode_tags(before, args.bytecode)
    sys.path[:0] = [str(layer)]
    sys.path.extend(str(p.resolve()) for p in args.runtime)

    partnerdb = importlib.import_module("partnerdb")
    expect_under("partnerdb", layer)
    if "aws_xray_sdk" in sys.modules:
        raise CheckFailed("importing partnerdb imported aws_xray_sdk (X-Ray must load lazily)")
    if "boto3" in sys.modules:
        print("layer_check: warning: importing partnerdb imported boto3", file=sys.stderr)
    version = getattr(partnerdb, "__version__", None)
    if version is None:
        raise CheckFailed("partnerdb has no __version__")
    if args.expect_version and version != args.expect_version:
        raise CheckFailed(f"partnerdb.__version__ is {version}, expected {args.expect_version}")
    print(f"partnerdb {version}")
    if (layer / "partnerdb" / "testing").exists():
        raise CheckFailed("the layer carries partnerdb/testing (the test kit ships in the wheel)")

    for name in ("pynamodb", "pynamodb.models", "botocore", "botocore.session"):
        importlib.import_module(name)
    expect_under("pynamodb", layer)
    botocore_home = args.runtime[0] if args.runtime else layer
    expect_under("botocore", botocore_home)
    print(f"pynamodb {sys.modules['pynamodb'].__file__}")
    print(f"botocore {sys.modules['botocore'].__version__} {sys.modules['botocore'].__file__}")
    handler_sdk = importlib.import_module("handler_sdk")
    expect_under("handler_sdk", layer)
    print(f"handler_sdk (needs partnerdb >= {handler_sdk.MIN_PARTNERDB})")

    native = check_native_arch(layer, args.arch)
    host = HOST_ARCHES.get(platform.machine().lower())
    running = "{}.{}".format(*sys.version_info[:2])
    if host == args.arch and running == args.python:
        for name in ("wrapt", "wrapt._wrappers", "aws_xray_sdk", "aws_xray_sdk.core"):
            importlib.import_module(name)
        expect_under("wrapt", layer)
        expect_under("aws_xray_sdk", layer)
        print(f"native ({args.arch}): imported wrapt C extension and aws_xray_sdk.core")
    else:
        print(
            f"not loadable here ({args.arch}/{args.python} on {host}/{running}): "
            f"checked the ELF machine of {native}, did not load them"
        )

    if args.bytecode:
        written = sorted(bytecode_files(layer) - before)
        if written:
            raise CheckFailed(
                f"imports compiled {len(written)} module(s) missing bytecode, "
                f"e.g. {written[0].relative_to(layer)}"
            )
        print(f"bytecode {args.bytecode}: every imported module came precompiled")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Command line: `pins` or `imports`."""
    parser = argparse.ArgumentParser(prog="layer_check.py")
    sub = parser.add_subparsers(dest="command", required=True)
    pins = sub.add_parser("pins", help="installed distributions are exactly the pinned ones")
    pins.add_argument("site", type=Path)
    pins.add_argument("--expect", nargs="*", default=[], metavar="NAME==VERSION")
    imports = sub.add_parser("imports", help="import the layer the way Lambda would")
    imports.add_argument("layer", type=Path, help="the unpacked layer's python/ folder")
    imports.add_argument(
        "--runtime",
        type=Path,
        action="append",
        default=[],
        help="stand-in for the runtime's boto3/botocore (slim layers)",
    )
    imports.add_argument("--arch", choices=sorted(ELF_MACHINES), required=True)
    imports.add_argument("--python", required=True, help="the layer's target Python (X.Y)")
    imports.add_argument(
        "--bytecode",
        metavar="TAG",
        help="cache tag of the shipped bytecode (e.g. cpython-312); none if unset",
    )
    imports.add_argument("--expect-version", help="partnerdb.__version__ must equal this")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one check; a failure is one line on stderr and exit code 1."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "pins":
            problems = check_pins(args.site, args.expect)
            if problems:
                raise CheckFailed("; ".join(problems))
            print(f"pins: {len(args.expect)} distributions installed exactly as pinned")
        else:
            run_imports(args)
    except CheckFailed as exc:
        print(f"layer_check: FAILED: {exc}", file=sys.stderr)
        return 1
    except ImportError as exc:
        print(f"layer_check: FAILED: import error: {exc!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
