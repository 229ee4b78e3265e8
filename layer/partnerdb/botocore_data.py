"""botocore's data for the services partnerdb calls, pre-parsed when the layer is built.

A fresh botocore session pays about 45 ms for its first DynamoDB client before any request:
it lists the ~450 service directories of botocore/data twice (once per model type), parses
the 1.2 MB endpoints.json and the 0.5 MB DynamoDB model with an OrderedDict per object. The
layer build (`build_layer.sh`, through `write()`) stores what those loads return for the
services in `SERVICES`, as plain dicts in marshal files, with endpoints.json cut down to those
services (their entries in every partition are kept whole). At run time `install()` gives a
session a botocore `Loader` whose only search path is that directory, through botocore's own
extension points (`extra_search_paths`, `file_loader`, `include_default_search_paths`, and
the session's `data_loader` component): the same data in about 2 ms.

The data is used only when it was written from the very botocore that is running (a layer
built with `--slim` runs on the runtime's botocore: it ships none), when `AWS_DATA_PATH` is
unset and no ~/.aws/models exists (botocore would read those first). Otherwise botocore loads
its JSON as usual. Clients of other services must not use a session with this loader.
"""

from __future__ import annotations

import gzip
import json
import marshal
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import botocore
from botocore.loaders import Loader

#: the services partnerdb builds clients for (partner DynamoDB, home STS)
SERVICES = ("dynamodb", "sts")
#: botocore/data files outside the service folders that clients of SERVICES read
TOP_LEVEL = ("endpoints", "partitions", "sdk-default-configuration", "_retry")
DATA_DIR = Path(__file__).resolve().parent / "_botocore_data"
VERSION_FILE = "botocore-version"
SUFFIX = ".marshal"


class MarshalFileLoader:
    """botocore's `file_loader` interface (`exists`, `load_file`) over `<path>.marshal`."""

    def exists(self, file_path: str) -> bool:
        return os.path.isfile(file_path + SUFFIX)

    def load_file(self, file_path: str) -> Any:
        try:
            with open(file_path + SUFFIX, "rb") as fp:
                return marshal.load(fp)
        except FileNotFoundError:
            return None


class PreparedLoader(Loader):  # type: ignore[misc]
    """A botocore Loader over the pre-parsed directory only.

    `is_builtin_path` is true for it: the files are botocore's bundled data, converted, and
    botocore treats bundled endpoint data differently from a user's own endpoints.json.
    """

    def __init__(self, root: Path) -> None:
        super().__init__(
            extra_search_paths=[str(root)],
            file_loader=MarshalFileLoader(),
            include_default_search_paths=False,
        )
        self._root = str(root) + os.sep

    def is_builtin_path(self, path: str) -> bool:
        return str(path).startswith(self._root)


def prepared_loader(root: Path = DATA_DIR) -> PreparedLoader | None:
    """A loader over `root` when its data fits the running botocore, else None."""
    if os.environ.get("AWS_DATA_PATH") or Path(Loader.CUSTOMER_DATA_PATH).exists():
        return None
    try:
        written_for = (root / VERSION_FILE).read_text().strip()
    except OSError:
        return None
    if written_for != botocore.__version__:
        return None
    return PreparedLoader(root)


def install(session: Any, root: Path | None = None) -> frozenset[str]:
    """Make `session` load from the pre-parsed data in `root` (default: the layer's); return
    the services it covers, none when it is not used. Call before the session builds a client.
    """
    loader = prepared_loader(root or DATA_DIR)
    if loader is None:
        return frozenset()
    session.register_component("data_loader", loader)
    return frozenset(SERVICES)


def _read_json(path: Path) -> Any:
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    return json.loads(raw.decode("utf-8"))


def _stem(name: str) -> str | None:
    for ext in (".json.gz", ".json"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return None


def _trimmed_endpoints(endpoints: dict[str, Any]) -> dict[str, Any]:
    """endpoints.json with only SERVICES in each partition (everything else kept)."""
    partitions = []
    for partition in endpoints.get("partitions", []):
        services = partition.get("services", {})
        partitions.append(
            {**partition, "services": {k: v for k, v in services.items() if k in SERVICES}}
        )
    return {**endpoints, "partitions": partitions}


def write(target: Path, source: Path | None = None) -> list[str]:
    """Write the pre-parsed data of `source` (botocore's bundled data) into `target`.

    Every file of each service's API version folders is converted, so botocore picks the
    same version and paginators, waiters and any extras stay available. Returns the written
    names, relative to `target`.
    """
    data = Path(source or Loader.BUILTIN_DATA_PATH)
    written: list[str] = []

    def put(name: str, value: Any) -> None:
        out = target / (name + SUFFIX)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(marshal.dumps(value))
        written.append(name + SUFFIX)

    target.mkdir(parents=True, exist_ok=True)
    for top in TOP_LEVEL:
        found = [p for p in (data / f"{top}.json", data / f"{top}.json.gz") if p.is_file()]
        if not found:
            raise FileNotFoundError(f"botocore data {top}.json not found in {data}")
        value = _read_json(found[0])
        put(top, _trimmed_endpoints(value) if top == "endpoints" else value)
    for service in SERVICES:
        versions = sorted(p for p in (data / service).iterdir() if p.is_dir())
        if not versions:
            raise FileNotFoundError(f"no API version of {service} in {data}")
        for folder in versions:
            for path in sorted(folder.iterdir()):
                stem = _stem(path.name)
                if stem is not None:
                    put(f"{service}/{folder.name}/{stem}", _read_json(path))
    (target / VERSION_FILE).write_text(botocore.__version__ + "\n")
    written.append(VERSION_FILE)
    return written


def main(argv: Sequence[str]) -> int:
    """`python -m partnerdb.botocore_data TARGET`: write the data for the importable botocore."""
    if len(argv) != 1:
        print("usage: python -m partnerdb.botocore_data TARGET_DIR", file=sys.stderr)
        return 2
    names = write(Path(argv[0]))
    print(f"botocore {botocore.__version__}: {len(names)} pre-parsed files in {argv[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
