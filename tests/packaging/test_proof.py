"""Proof, as a user would do it: a ten-line handler runs through the real Lambda runtime client
(awslambdaric behind the local Runtime API) with partnerdb from a clean virtualenv where only
the wheel was installed, and again with nothing but the layer zip (as Lambda's /opt)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emulators.lambda_runner import LambdaFunction
from local.stack import build_layer
from partnerdb.testing import LocalAWS
from tests.packaging.conftest import Venv

HANDLER = '''\
from handler_sdk import with_partner_db
from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

class Note(Model):
    class Meta:
        table_name = "notes"
    id = UnicodeAttribute(hash_key=True)
    text = UnicodeAttribute()

@with_partner_db(models=[Note])
def handler(event, context, db):
    db.model(Note)(id=event["data"]["id"], text="hello").save()
    return {"partner": db.partner_id, "sdk": __import__("handler_sdk").__file__}
'''

pytestmark = pytest.mark.slow


def task_root(tmp_path: Path) -> Path:
    root = tmp_path / "task"
    root.mkdir()
    (root / "app.py").write_text(HANDLER)
    return root


def invoke_and_check(aws: LocalAWS, fn: LambdaFunction, where: Path) -> None:
    """One call per partner: each note lands in its own partner's account only."""
    acme, globex = aws.partners["acme"], aws.partners["globex"]
    result = fn.invoke({"partnerId": "acme", "data": {"id": "n-1"}})
    assert not result.is_error, result.payload
    payload: dict[str, Any] = result.payload
    assert payload["success"] is True, payload
    assert payload["data"]["partner"] == "acme"
    assert Path(payload["data"]["sdk"]).is_relative_to(where)
    assert fn.invoke({"partnerId": "globex", "data": {"id": "n-2"}}).payload["success"]
    assert [item["id"]["S"] for item in acme.raw_items("notes")] == ["n-1"]
    assert [item["id"]["S"] for item in globex.raw_items("notes")] == ["n-2"]


@pytest.fixture
def aws(partnerdb_aws: LocalAWS) -> LocalAWS:
    """Two partner accounts with the handler's table (created from the same schema)."""
    from pynamodb.attributes import UnicodeAttribute
    from pynamodb.models import Model

    class Note(Model):
        class Meta:
            table_name = "notes"

        id = UnicodeAttribute(hash_key=True)
        text = UnicodeAttribute()

    partnerdb_aws.add_partner("acme", models=[Note])
    partnerdb_aws.add_partner("globex", models=[Note])
    return partnerdb_aws


def test_wheel_in_a_clean_venv_runs_a_handler_through_the_runtime(
    aws: LocalAWS, clean_venv: Venv, tmp_path: Path
) -> None:
    root = task_root(tmp_path)
    with LambdaFunction(
        "app.handler", root, env=aws.env(), extra_paths=[clean_venv.site_packages]
    ) as fn:
        invoke_and_check(aws, fn, clean_venv.site_packages)


def test_layer_zip_alone_runs_the_same_handler(aws: LocalAWS, tmp_path: Path) -> None:
    opt = build_layer()  # this interpreter's version and architecture, unpacked as /opt
    root = task_root(tmp_path)
    with LambdaFunction("app.handler", root, env=aws.env(), layer_dirs=[opt]) as fn:
        invoke_and_check(aws, fn, opt / "python")
