"""When the slow `sam build` check runs.

The template checks (cfn-lint, references, IAM) take a couple of seconds and always run. The
`sam build` check installs aws-sam-cli into build/sam-venv (about 30 s and 340 MB the first
time) and builds the layer for both architectures, so it runs only when asked for:

- `make test-sam` (that is, `pytest tests/sam`, or any path inside tests/sam named on the
  command line) runs it;
- plain `make test` / `pytest` skips it, saying how to run it;
- `PARTNERDB_TEST_SAM=1` runs it anyway, `PARTNERDB_TEST_SAM=0` skips it anyway.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.sam.refcheck import load_template
from tests.sam.templates import PARTNER_ROLE, TEMPLATE

SAM_DIR = Path(__file__).resolve().parent

SAM_BUILD_ENV = "PARTNERDB_TEST_SAM"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sam_build: runs `sam build` offline (make test-sam, or PARTNERDB_TEST_SAM=1)",
    )


def _named_on_command_line(config: pytest.Config) -> bool:
    """True when a path inside tests/sam (or tests/sam itself) was asked for explicitly."""
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        return False
    for arg in config.args:
        path = Path(arg.split("::", 1)[0])
        path = path if path.is_absolute() else Path(config.invocation_params.dir) / path
        if path.resolve().is_relative_to(SAM_DIR):
            return True
    return False


def sam_build_wanted(config: pytest.Config) -> tuple[bool, str]:
    """Whether the sam build check runs in this session, and why not when it does not."""
    flag = os.environ.get(SAM_BUILD_ENV, "").strip()
    if flag == "1":
        return True, ""
    if flag == "0":
        return False, f"{SAM_BUILD_ENV}=0"
    if _named_on_command_line(config):
        return True, ""
    return False, (
        "sam build check (installs aws-sam-cli into build/sam-venv, builds the layer for both "
        f"architectures): run `make test-sam` or set {SAM_BUILD_ENV}=1"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted, reason = sam_build_wanted(config)
    if wanted:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if item.get_closest_marker("sam_build"):
            item.add_marker(skip)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


@pytest.fixture(scope="module")
def partner_template() -> dict[str, Any]:
    return load_template(PARTNER_ROLE)
