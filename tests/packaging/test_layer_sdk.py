"""The layer carries handler_sdk; a function may still bundle its own copy, which wins, and the
SDK's check of the layer's partnerdb version still runs. Through awslambdaric, as on Lambda."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from emulators.lambda_runner import LambdaFunction
from local.stack import build_function, build_layer
from partnerdb.testing import LocalAWS

ROOT = Path(__file__).resolve().parents[2]
APP = """\
import handler_sdk, partnerdb
from handler_sdk import with_partner_db

@with_partner_db
def handler(event, context, db):
    return {"sdk": handler_sdk.__file__, "partnerdb": partnerdb.__file__}
"""

pytestmark = pytest.mark.slow


def bundled_task_root(tmp_path: Path, min_partnerdb: str | None = None) -> Path:
    """A function folder with app.py and its own copy of handler_sdk."""
    root = tmp_path / "task"
    shutil.copytree(ROOT / "handler_sdk", root / "handler_sdk", ignore=shutil.ignore_patterns(
        "__pycache__"))  # fmt: skip
    (root / "app.py").write_text(APP)
    if min_partnerdb is not None:
        compat = root / "handler_sdk" / "compat.py"
        text = compat.read_text()
        assert 'MIN_PARTNERDB = "' in text
        compat.write_text(
            text.replace(text.split('MIN_PARTNERDB = "')[1].split('"')[0], min_partnerdb, 1)
        )
    return root


def test_a_bundled_sdk_wins_over_the_layers(partnerdb_aws: LocalAWS, tmp_path: Path) -> None:
    partnerdb_aws.add_partner("acme")
    opt = build_layer()
    root = bundled_task_root(tmp_path)
    with LambdaFunction("app.handler", root, env=partnerdb_aws.env(), layer_dirs=[opt]) as fn:
        result = fn.invoke({"partnerId": "acme", "data": {}})
    assert result.payload["success"] is True, result.payload
    assert Path(result.payload["data"]["sdk"]).is_relative_to(root)
    assert Path(result.payload["data"]["partnerdb"]).is_relative_to(opt)


def test_a_bundled_sdk_still_checks_the_layer_version(
    partnerdb_aws: LocalAWS, tmp_path: Path
) -> None:
    opt = build_layer()
    root = bundled_task_root(tmp_path, min_partnerdb="99.0.0")
    with LambdaFunction("app.handler", root, env=partnerdb_aws.env(), layer_dirs=[opt]) as fn:
        result = fn.invoke({"partnerId": "acme", "data": {}})
    assert result.is_error and result.init_error
    assert "older than the 99.0.0 this SDK needs" in str(result.payload)


def test_the_payments_function_uses_the_layers_sdk() -> None:
    artifact = build_function("payments")
    assert (artifact / "payments" / "app.py").is_file()
    assert not (artifact / "handler_sdk").exists()
    assert (build_layer() / "python" / "handler_sdk" / "__init__.py").is_file()
