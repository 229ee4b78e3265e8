"""Layer builds for tests/layer: each variant is built once per session into a temporary folder.

Builds fetch wheels through pip (PyPI) into build/cache, shared with `make layer-build`, so only
the first build on a machine downloads. One build uses a fresh, empty cache, to show that the zip
does not depend on what the cache held.
"""

from __future__ import annotations

import sys

import pytest

from tests.layer.builds import PYTHON, Build, build, find_python


@pytest.fixture(scope="session")
def default_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """python 3.12, x86_64, boto3 and botocore bundled (the default)."""
    return build(tmp_path_factory.mktemp("layer-default"))


@pytest.fixture(scope="session")
def default_build_cold_cache(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """The same default build, from an empty wheel cache, into another folder."""
    cache = tmp_path_factory.mktemp("layer-cache")
    return build(
        tmp_path_factory.mktemp("layer-default-again"),
        env={"PARTNERDB_LAYER_CACHE": str(cache)},
    )


@pytest.fixture(scope="session")
def slim_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    return build(tmp_path_factory.mktemp("layer-slim"), ["--slim"])


@pytest.fixture(scope="session")
def arm64_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    return build(tmp_path_factory.mktemp("layer-arm64"), ["--arch", "arm64"])


@pytest.fixture(scope="session")
def target_python() -> str:
    """The layer's target interpreter, else this one (pure-Python imports still work)."""
    return find_python(PYTHON) or sys.executable
