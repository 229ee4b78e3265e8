"""The wheel and sdist: contents, metadata, entry points; the console script."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from email.parser import HeaderParser

from partnerdb import __version__
from partnerdb.cli import main
from tests.packaging.conftest import ROOT, Dist, Venv


def test_wheel_carries_both_packages_the_test_kit_and_the_license(dist: Dist) -> None:
    assert dist.wheel.name == f"partnerdb-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(dist.wheel) as zf:
        names = set(zf.namelist())
        info = f"partnerdb-{__version__}.dist-info"
        meta = HeaderParser().parsestr(zf.read(f"{info}/METADATA").decode())
        entry_points = zf.read(f"{info}/entry_points.txt").decode()
    for package in ("partnerdb", "handler_sdk"):
        sources = {p.name for p in (ROOT / ("layer" if package == "partnerdb" else "")
                   / package).glob("*.py")}  # fmt: skip
        assert {f"{package}/{s}" for s in sources} <= names
        assert f"{package}/py.typed" in names
    assert "partnerdb/testing/plugin.py" in names
    assert f"{info}/licenses/LICENSE" in names
    assert not [n for n in names if n.startswith(("tests/", "local/", "bench/"))]
    assert meta["Version"] == __version__
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta["Requires-Python"] == ">=3.11"
    assert set(meta.get_all("Provides-Extra")) == {"xray", "testing"}
    assert any(c == "Programming Language :: Python :: 3.13" for c in meta.get_all("Classifier"))
    urls = meta.get_all("Project-URL")
    assert len(urls) == 4 and all("OWNER-FILLS-IN" in url for url in urls)
    assert "partnerdb = partnerdb.cli:main" in entry_points
    assert "[pytest11]" in entry_points and "partnerdb.testing.plugin" in entry_points


def test_sdist_carries_the_sources_license_and_changelog(dist: Dist) -> None:
    with tarfile.open(dist.sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    for name in ("LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml",
                 "layer/partnerdb/__init__.py", "handler_sdk/__init__.py"):  # fmt: skip
        assert name in names, name
    assert not [n for n in names if n.startswith("tests/")]


def test_license_is_the_full_apache_2_text() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_changelog_names_this_version() -> None:
    assert f"## {__version__}" in (ROOT / "CHANGELOG.md").read_text()


def test_console_script_from_the_clean_venv(clean_venv: Venv) -> None:
    script = clean_venv.root / "bin" / "partnerdb"
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"partnerdb {__version__}"
    module = subprocess.run(
        [str(clean_venv.python), "-m", "partnerdb", "--version"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert module.stdout == done.stdout


def test_cli_without_a_command_prints_help_and_loads_no_extras() -> None:
    code = (
        "import sys; from partnerdb.cli import main\n"
        "code = main([])\n"
        "heavy = ('boto3', 'aws_xray_sdk', 'moto', 'pytest', 'partnerdb.testing')\n"
        "print(code, sorted(m for m in heavy if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "2 []"
    assert "usage: partnerdb" in done.stderr


def test_a_subcommand_plugs_in_from_its_own_module(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "hello_cmd.py").write_text(
        "def register(sub):\n"
        "    p = sub.add_parser('hello')\n"
        "    p.add_argument('--name', default='world')\n"
        "    p.set_defaults(func=lambda args: print('hello', args.name) or 0)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["hello", "--name", "acme"], subcommands=["hello_cmd"]) == 0
    assert capsys.readouterr().out == "hello acme\n"
