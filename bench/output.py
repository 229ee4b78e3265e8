"""What a benchmark run leaves behind: the machine it ran on, latest.json and latest.md."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from bench.stats import DASH
from bench.worker import ROOT


def machine() -> dict[str, Any]:
    """CPU, cores, interpreter, library versions and the git commit of this run."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")),
                       cpu)
    except OSError:
        pass

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=30)
        return done.stdout.strip()

    versions = {}
    for dist in ("botocore", "boto3", "pynamodb", "aws-xray-sdk", "aws-lambda-powertools",
                 "awslambdaric", "moto"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "absent"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "versions": versions,
        "git_commit": git("rev-parse", "HEAD"),
        "git_describe": git("describe", "--always", "--dirty"),
    }


def write(results: dict[str, Any], out_dir: Path, table_text: str, notes_text: list[str]) -> None:
    """latest.json and latest.md in `out_dir` (written whole, then renamed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(results, indent=1, sort_keys=False) + "\n"
    tmp = out_dir / "latest.json.tmp"
    tmp.write_text(payload)
    tmp.replace(out_dir / "latest.json")
    m = results["machine"]
    md = [
        "# partnerdb benchmarks",
        "",
        f"{results['finished_at']} · {m['cpu']} · {m['cores']} cores · {m['python']} · "
        f"botocore {m['versions']['botocore']} · pynamodb {m['versions']['pynamodb']} · "
        f"commit `{m['git_describe']}` · {results['mode']} run, "
        f"{results['duration_s']:.0f} s · load average {results['load_average']}",
        "",
        f"Values are median [min{DASH}max]. Reproduce with `make bench`; see bench/README.md.",
        "",
        table_text,
        "",
        "## Notes",
        "",
        *(f"- {line}" for line in notes_text),
        "",
    ]
    tmp = out_dir / "latest.md.tmp"
    tmp.write_text("\n".join(md))
    tmp.replace(out_dir / "latest.md")
