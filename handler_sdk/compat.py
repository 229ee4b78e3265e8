"""The layer check: `partnerdb` must be importable and at least `MIN_PARTNERDB`.

The SDK ships inside each function while `partnerdb` comes from the layer, so a function can
meet a missing or stale layer. This module runs the check when `handler_sdk` is imported and
turns both cases into an ImportError that says what to do (a Lambda init error, not a request
failure).
"""

from __future__ import annotations

import importlib

MIN_PARTNERDB = "0.2.0"


def version_tuple(version: str) -> tuple[int, ...]:
    """`"1.2.3rc1"` -> `(1, 2, 3)`: the leading digits of each dotted part, compared as ints."""
    parts: list[int] = []
    for part in version.split("."):
        digits = ""
        for char in part:
            if not char.isdigit():
                break
            digits += char
        if not digits:
            break
        parts.append(int(digits))
        if len(digits) < len(part):
            break
    return tuple(parts)


def check_partnerdb(minimum: str = MIN_PARTNERDB) -> str:
    """Import `partnerdb` and return its version, or raise an ImportError saying what to fix."""
    try:
        partnerdb = importlib.import_module("partnerdb")
    except ImportError as err:
        if err.name == "partnerdb" or err.name is None:
            raise ImportError(
                "partnerdb not found: attach the partnerdb layer ARN to this function (Layers) "
                "or install partnerdb for local runs; handler_sdk ships with the function, "
                "partnerdb only with the layer"
            ) from err
        raise ImportError(
            f"partnerdb is present but its dependency {err.name!r} is missing: the layer is "
            "incomplete; rebuild and publish it (make layer) and update the function's layer "
            "version"
        ) from err
    version = str(getattr(partnerdb, "__version__", "0"))
    if version_tuple(version) < version_tuple(minimum):
        raise ImportError(
            f"partnerdb {version} is older than the {minimum} this SDK needs: publish a newer "
            "layer (make layer) and update the function's layer version"
        )
    return version


PARTNERDB_VERSION = check_partnerdb()
