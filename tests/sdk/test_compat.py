"""The layer check at import: a missing, incomplete or too old partnerdb is a clear ImportError."""

from __future__ import annotations

import sys

import pytest

from handler_sdk import MIN_PARTNERDB, compat
from tests.sdk.conftest import ROOT, run_python


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("0.1.0", (0, 1, 0)),
        ("1.10.2", (1, 10, 2)),
        ("0.2.0rc1", (0, 2, 0)),
        ("2", (2,)),
        ("", ()),
        ("dev", ()),
    ],
)
def test_version_tuple(version: str, expected: tuple[int, ...]) -> None:
    assert compat.version_tuple(version) == expected


def test_versions_compare_numerically() -> None:
    assert compat.version_tuple("0.10.0") > compat.version_tuple("0.9.9")
    assert compat.check_partnerdb() == compat.PARTNERDB_VERSION
    assert compat.version_tuple(compat.PARTNERDB_VERSION) >= compat.version_tuple(MIN_PARTNERDB)


def test_the_sdk_asks_for_the_layer_of_its_own_minor_release() -> None:
    """The SDK imports names its own release added to partnerdb (e.g. `PRE_REDACTED`, 0.2.0):
    a function bundling it with an older layer must get the check's message, not an
    ImportError of a missing name."""
    import partnerdb

    assert compat.version_tuple(MIN_PARTNERDB)[:2] == compat.version_tuple(
        partnerdb.__version__
    )[:2]


def test_layer_missing() -> None:
    # -S: no site-packages, like a function without the layer: only the function's own code
    done = run_python("import handler_sdk", {"PYTHONPATH": str(ROOT)}, flags=["-S"])
    assert done.returncode == 1
    assert (
        "ImportError: partnerdb not found: attach the partnerdb layer ARN to this function "
        "(Layers)" in done.stderr
    )


def test_layer_incomplete() -> None:
    done = run_python(
        "import handler_sdk", {"PYTHONPATH": f"{ROOT}/layer:{ROOT}"}, flags=["-S"]
    )
    assert done.returncode == 1
    assert "partnerdb is present but its dependency 'botocore' is missing" in done.stderr


def test_layer_too_old() -> None:
    code = (
        "import sys, types\n"
        "old = types.ModuleType('partnerdb'); old.__version__ = '0.1.0'\n"
        "sys.modules['partnerdb'] = old\n"
        "import handler_sdk\n"
    )
    done = run_python(code, {})
    assert done.returncode == 1
    assert (
        f"partnerdb 0.1.0 is older than the {MIN_PARTNERDB} this SDK needs: publish a newer layer "
        "(make layer) and update the function's layer version" in done.stderr
    )


def test_importing_the_sdk_stays_light() -> None:
    done = run_python(
        "import sys, handler_sdk\n"
        "print(sorted(m for m in ('boto3', 'aws_xray_sdk', 'aws_lambda_powertools') "
        "if m in sys.modules))",
        {},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert sys.modules["handler_sdk"].__name__ == "handler_sdk"
