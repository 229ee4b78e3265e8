"""build_layer.sh: reproducible zips, their contents, bytecode, architectures, the import check."""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from release import zipdeterministic
from tests.layer.builds import PYTHON, ROOT, Build, build, run_build

pytestmark = pytest.mark.slow

CACHE_TAG = "cpython-" + PYTHON.replace(".", "")
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six")
EM_X86_64 = 62
EM_AARCH64 = 183


def top_level(build: Build) -> set[str]:
    """First path component under python/ of every entry (packages, modules, dist-infos)."""
    return {name.split("/")[1] for name in build.names() if name.count("/") >= 1 and name[7:]}


BOTOCORE_DATA = "python/partnerdb/_botocore_data/"


def package_sources(src: Path) -> set[str]:
    """The files of a package folder that must ship, as zip names (the test kit never does)."""
    return {
        f"python/{src.name}/{p.relative_to(src).as_posix()}"
        for p in src.rglob("*")
        if p.is_file()
        and "__pycache__" not in p.parts
        and p.suffix != ".pyc"
        and p.relative_to(src).parts[0] != "testing"
    }


def elf_machine(data: bytes) -> int:
    assert data[:4] == b"\x7fELF"
    return int.from_bytes(data[18:20], "little")


def test_two_builds_give_one_sha256(default_build: Build, default_build_cold_cache: Build) -> None:
    assert default_build.zip_path != default_build_cold_cache.zip_path
    assert default_build.sha256 == default_build_cold_cache.sha256
    assert f"sha256  {default_build.sha256}" in default_build.stdout


def test_entries_are_sorted_with_fixed_times_and_modes(default_build: Build) -> None:
    infos = default_build.infos()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert len(names) == len(set(names))
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0), info.filename
        assert info.create_system == 3
        assert info.extra == b"", info.filename
        mode = info.external_attr >> 16
        if info.is_dir():
            assert mode == stat.S_IFDIR | 0o755, info.filename
        else:
            assert mode == stat.S_IFREG | 0o644, info.filename
            assert info.compress_type == zipfile.ZIP_DEFLATED


def test_build_reports_sizes_and_sha256(default_build: Build) -> None:
    summary = zipdeterministic.summarize(default_build.zip_path)
    assert f"{summary.zipped_bytes / 2**20:.2f} MiB zipped" in default_build.stdout
    assert f"{summary.unzipped_bytes / 2**20:.2f} MiB unzipped" in default_build.stdout
    assert f"CodeSha256 {summary.sha256_b64}" in default_build.stdout
    assert "verified; built in" in default_build.stdout


def test_default_layer_contents(default_build: Build) -> None:
    names = set(default_build.names())
    assert all(name.startswith("python/") for name in names)
    data = {n for n in names if n.startswith(BOTOCORE_DATA)}
    for package in (ROOT / "layer" / "partnerdb", ROOT / "handler_sdk"):
        prefix = f"python/{package.name}/"
        shipped = {n for n in names if n.startswith(prefix) and "__pycache__" not in n}
        assert {n for n in shipped - data if not n.endswith("/")} == package_sources(package)
    assert not [n for n in names if n.startswith("python/partnerdb/testing")]
    assert "python/handler_sdk/py.typed" in names
    # botocore's DynamoDB and STS data, pre-parsed for the layer's botocore
    for name in ("botocore-version", "endpoints.marshal",
                 "dynamodb/2012-08-10/service-2.marshal", "sts/2011-06-15/service-2.marshal"):
        assert BOTOCORE_DATA + name in data, name
    assert "python/partnerdb/py.typed" in names
    assert "python/partnerdb/__init__.py" in names
    packages = top_level(default_build)
    for package in (
        "partnerdb",
        "pynamodb",
        "botocore",
        "boto3",
        "aws_xray_sdk",
        "wrapt",
        "s3transfer",
        "jmespath",
        "urllib3",
        "dateutil",
        "six.py",
    ):
        assert package in packages, package
    assert "bin" not in packages
    # RECORD hashes pip's rewritten bin/ scripts: it depends on the installing interpreter
    assert not [n for n in names if n.endswith(".dist-info/RECORD")]
    assert not [n for n in names if re.search(r"(^|/)tests?/", n)]
    assert not [n for n in names if n.endswith(".pyo")]


def test_pinned_versions_are_what_ships(default_build: Build) -> None:
    pins = {}
    for line in (ROOT / "layer" / "requirements.lock").read_text().splitlines():
        if line[:1].isalnum():
            name, version = line.split()[0].split("==")
            pins[name.lower().replace("-", "_")] = version
    dist_infos = {
        n.split("/")[1] for n in default_build.names() if n.endswith(".dist-info/METADATA")
    }
    shipped = {d.removesuffix(".dist-info").rsplit("-", 1)[0].lower(): d for d in dist_infos}
    shipped_versions = {
        k: v.removesuffix(".dist-info").rsplit("-", 1)[1] for k, v in shipped.items()
    }
    assert shipped_versions == pins


def test_bytecode_only_for_the_target_python(default_build: Build) -> None:
    names = default_build.names()
    pycs = [n for n in names if n.endswith(".pyc")]
    if not default_build.compiled:
        assert pycs == []
        assert "shipping sources only" in default_build.stderr
        return
    assert pycs
    assert all(n.endswith(f".{CACHE_TAG}.pyc") and "/__pycache__/" in n for n in pycs)
    sources = [n for n in names if n.endswith(".py")]
    for source in sources:
        folder, _, module = source.rpartition("/")
        assert f"{folder}/__pycache__/{module[:-3]}.{CACHE_TAG}.pyc" in pycs, source
    # PEP 552 flags: hash-based (bit 0), unchecked (bit 1 clear): no stat of /opt at import.
    flags = int.from_bytes(default_build.read(pycs[0])[4:8], "little")
    assert flags == 0b01


def test_bytecode_names_the_lambda_path(default_build: Build, target_python: str) -> None:
    if not default_build.compiled:
        pytest.skip("no target interpreter: no bytecode")
    pyc = default_build.read(f"python/partnerdb/__pycache__/__init__.{CACHE_TAG}.pyc")
    code = "import marshal, sys; print(marshal.loads(sys.stdin.buffer.read()[16:]).co_filename)"
    out = (
        subprocess.run(
            [target_python, "-I", "-c", code], input=pyc, capture_output=True, check=True
        )
        .stdout.decode()
        .strip()
    )
    assert out == "/opt/python/partnerdb/__init__.py"


def test_import_check_in_a_clean_interpreter(
    default_build: Build, target_python: str, tmp_path: Path
) -> None:
    zipdeterministic.extract(default_build.zip_path, tmp_path)
    layer = tmp_path / "python"
    program = textwrap.dedent(
        """
        import sys
        sys.path.insert(0, sys.argv[1])
        import partnerdb, pynamodb, botocore
        for module in (partnerdb, pynamodb, botocore):
            assert module.__file__.startswith(sys.argv[1]), module.__file__
        assert "aws_xray_sdk" not in sys.modules
        print(partnerdb.__version__)
        """
    )
    result = subprocess.run(
        [target_python, "-I", "-S", "-c", program, str(layer)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    version = re.search(r'"(.+)"', (ROOT / "layer/partnerdb/_version.py").read_text())
    assert version is not None
    assert result.stdout.strip() == version.group(1)
    assert "verify: partnerdb " + version.group(1) in default_build.stdout


def test_the_build_verified_native_imports_and_bytecode(default_build: Build) -> None:
    assert "verify: native (x86_64): imported wrapt C extension" in default_build.stdout
    if default_build.compiled:
        assert "every imported module came precompiled" in default_build.stdout


def test_slim_leaves_the_runtime_sdk_out(slim_build: Build, default_build: Build) -> None:
    assert slim_build.zip_path.name == f"partnerdb-layer-{PYTHON}-x86_64-slim.zip"
    packages = top_level(slim_build)
    for package in RUNTIME_PROVIDED:
        assert not any(
            p == package or p.startswith((f"{package}.", f"{package}-")) for p in packages
        ), package
    assert not any(p.startswith("python_dateutil") for p in packages)
    for package in ("partnerdb", "pynamodb", "aws_xray_sdk", "wrapt"):
        assert package in packages, package
    assert "python/partnerdb/py.typed" in slim_build.names()
    # the runtime's botocore is not known at build time: no pre-parsed data for it
    assert not any(n.startswith(BOTOCORE_DATA) for n in slim_build.names())
    assert slim_build.zip_path.stat().st_size < default_build.zip_path.stat().st_size / 5
    # verified against a stand-in for the runtime's botocore, not against the layer's own
    assert re.search(r"verify: botocore \S+ .*/runtime-[0-9a-f]+/botocore/", slim_build.stdout)


def test_architectures_get_their_own_wrapt(default_build: Build, arm64_build: Build) -> None:
    assert arm64_build.zip_path.name == f"partnerdb-layer-{PYTHON}-arm64.zip"
    tag = PYTHON.replace(".", "")
    for layer, arch, machine in (
        (default_build, "x86_64", EM_X86_64),
        (arm64_build, "aarch64", EM_AARCH64),
    ):
        libraries = [n for n in layer.names() if n.endswith(".so")]
        assert libraries == [f"python/wrapt/_wrappers.cpython-{tag}-{arch}-linux-gnu.so"]
        assert elf_machine(layer.read(libraries[0])) == machine
        wheel = [n for n in layer.names() if re.match(r"python/wrapt-.*\.dist-info/WHEEL$", n)]
        tags = re.findall(r"^Tag: (\S+)$", layer.read(wheel[0]).decode(), re.MULTILINE)
        assert tags
        assert all(t.startswith(f"cp{tag}-") and t.endswith(f"_{arch}") for t in tags), tags
    assert default_build.sha256 != arm64_build.sha256
    # pure-Python imports were checked; the aarch64 extension only by its ELF header
    assert "verify: partnerdb" in arm64_build.stdout
    assert "checked the ELF machine" in arm64_build.stdout


def test_no_target_interpreter_ships_sources_only(
    default_build: Build, tmp_path_factory: pytest.TempPathFactory
) -> None:
    sources_only = build(
        tmp_path_factory.mktemp("layer-nobytecode"), env={"PARTNERDB_TARGET_PYTHON": "none"}
    )
    assert not [n for n in sources_only.names() if n.endswith(".pyc") or "__pycache__" in n]
    assert "shipping sources only" in sources_only.stderr
    assert "verify: partnerdb" in sources_only.stdout


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--arch", "sparc"], "--arch must be x86_64 or arm64"),
        (["--python", "3.9"], "--python must be 3.11, 3.12 or 3.13"),
        (["--bogus"], "unknown argument: --bogus"),
    ],
)
def test_bad_arguments_are_refused(flags: list[str], message: str, tmp_path: Path) -> None:
    result = run_build(*flags, out=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr
    assert not list(tmp_path.glob("*.zip"))


@pytest.mark.parametrize("name", ["build_layer.sh", "release/build_layer.sh"])
def test_script_passes_bash_n_and_shellcheck(name: str) -> None:
    script = str(ROOT / name)
    subprocess.run(["bash", "-n", script], check=True)
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed")
    result = subprocess.run(["shellcheck", script], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_zip_writer_is_deterministic_and_honours_source_date_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    (src / "python" / "pkg").mkdir(parents=True)
    (src / "python" / "pkg" / "b.py").write_text("B = 1\n")
    (src / "python" / "pkg" / "a.py").write_text("A = 1\n")
    (src / "python" / "pkg" / "a.py").chmod(0o600)
    first, second = tmp_path / "1.zip", tmp_path / "2.zip"
    zipdeterministic.write_zip(src, first)
    (src / "python" / "pkg" / "a.py").touch()
    zipdeterministic.write_zip(src, second)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as zf:
        assert zf.namelist() == ["python/", "python/pkg/", "python/pkg/a.py", "python/pkg/b.py"]
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    zipdeterministic.write_zip(src, second)
    with zipfile.ZipFile(second) as zf:
        assert {info.date_time for info in zf.infolist()} == {(2023, 11, 14, 22, 13, 20)}


def run_layer_check(layer: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            str(ROOT / "release" / "layer_check.py"),
            "imports",
            str(layer),
            "--arch",
            "x86_64",
            "--python",
            "3.11",
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def test_verification_fails_loudly_when_partnerdb_imports_xray(tmp_path: Path) -> None:
    (tmp_path / "partnerdb").mkdir()
    (tmp_path / "aws_xray_sdk").mkdir()
    (tmp_path / "aws_xray_sdk" / "__init__.py").write_text("")
    (tmp_path / "partnerdb" / "__init__.py").write_text(
        "import aws_xray_sdk\n__version__ = '0.1.0'\n"
    )
    result = run_layer_check(tmp_path)
    assert result.returncode == 1
    assert "FAILED: importing partnerdb imported aws_xray_sdk" in result.stderr


def test_verification_fails_when_the_layer_lacks_a_package(tmp_path: Path) -> None:
    (tmp_path / "partnerdb").mkdir()
    (tmp_path / "partnerdb" / "__init__.py").write_text("__version__ = '0.1.0'\n")
    result = run_layer_check(tmp_path)
    assert result.returncode == 1
    assert "FAILED: import error" in result.stderr
    assert "pynamodb" in result.stderr
