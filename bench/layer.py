"""Figure 5: the layer's size, zipped and unzipped, default and `--slim`.

Builds both with `./build_layer.sh --python 3.12 [--slim] --out build/bench/layers` (cached
wheels, so no network after the first build) and reads the zips: zipped bytes, the sum of
the entries' uncompressed sizes (what counts against Lambda's 250 MB), and the unzipped
bytes per top-level package under python/.
"""

from __future__ import annotations

import subprocess
import zipfile
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench.worker import ROOT

LAYERS = ROOT / "build" / "bench" / "layers"
PYTHON = "3.12"
ARCH = "x86_64"
MIB = 1024 * 1024
TOP_PACKAGES = 6
_BUILD_TIMEOUT_S = 600


def _describe(zip_path: Any) -> dict[str, Any]:
    with zipfile.ZipFile(zip_path) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
    per_package: Counter[str] = Counter()
    for info in infos:
        parts = info.filename.split("/")
        per_package[parts[1] if len(parts) > 2 else parts[-1]] += info.file_size
    return {
        "zip": str(zip_path.relative_to(ROOT)),
        "files": len(infos),
        "zipped_bytes": zip_path.stat().st_size,
        "unzipped_bytes": sum(i.file_size for i in infos),
        "zipped_mib": round(zip_path.stat().st_size / MIB, 2),
        "unzipped_mib": round(sum(i.file_size for i in infos) / MIB, 2),
        "top_packages_unzipped_mib": {
            name: round(size / MIB, 2) for name, size in per_package.most_common(TOP_PACKAGES)
        },
    }


def run_layer(log: Callable[[str], None] = print) -> dict[str, Any]:
    """Build the default and slim layers for Python 3.12 / x86_64 and describe both zips."""
    out: dict[str, Any] = {"python": PYTHON, "arch": ARCH}
    for slim in (False, True):
        cmd = ["./build_layer.sh", "--python", PYTHON, "--arch", ARCH, "--out", str(LAYERS)]
        done = subprocess.run(
            [*cmd, *(["--slim"] if slim else [])],
            cwd=ROOT, capture_output=True, text=True, timeout=_BUILD_TIMEOUT_S,
        )
        if done.returncode != 0:
            raise RuntimeError(f"build_layer.sh failed:\n{done.stderr[-3000:]}")
        name = f"partnerdb-layer-{PYTHON}-{ARCH}{'-slim' if slim else ''}.zip"
        key = "slim" if slim else "default"
        out[key] = _describe(LAYERS / name)
        out[key]["build_log_size_line"] = next(
            (line for line in done.stdout.splitlines() if " size " in line), ""
        )
        log(f"    layer {key}: {out[key]['zipped_mib']} MiB zipped, "
            f"{out[key]['unzipped_mib']} MiB unzipped")
    return out
