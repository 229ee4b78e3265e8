"""Figure 1c: the handler's import under the Lambda runtime's own Python (3.12).

The cold-start figures run on this virtualenv's interpreter. Lambda's python3.12 runtime
imports with CPython 3.12, whose import of botocore is slower, and the layer ships 3.12
bytecode. When a python3.12 is on this machine (PATH or pyenv), the layer is built for it
(`./build_layer.sh --python 3.12`, the bytecode the zip ships) and `import app` is timed in
fresh `python3.12 -S` processes for `handwritten` and `ours`, interleaved, exactly as the
3.11 import row (after importing the runtime client, with the runtime's environment), plus
the time of `register_models` alone. `powertools` is left out: its layer directory holds
bytecode for this virtualenv's interpreter only. No python3.12: the figure is skipped.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.cold import PREBIND_PROBE, probe, probe_env
from bench.rig import BUILD, Rig, rotations
from bench.stats import Summary
from bench.worker import ROOT
from emulators.runtime_link import link_runtime

VERSION = "3.12"
VARIANTS = ("handwritten", "ours")
_BUILD_TIMEOUT_S = 600


def find_python(version: str = VERSION) -> str | None:
    """The real executable of a python<version> on PATH or under pyenv (a pyenv shim that
    refuses to run is skipped), if any."""
    candidates = [shutil.which(f"python{version}")]
    for root in (os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv")), "/root/.pyenv"):
        candidates += sorted(glob.glob(f"{root}/versions/{version}*/bin/python{version}"),
                             reverse=True)
    for candidate in candidates:
        if not candidate:
            continue
        done = subprocess.run(
            [candidate, "-I", "-c", "import sys; print(sys.executable, sys.version_info[:2])"],
            capture_output=True, text=True, timeout=30,
        )
        executable, _, found = done.stdout.strip().partition(" ")
        if done.returncode == 0 and found == str(tuple(int(x) for x in version.split("."))):
            return executable
    return None


def layer_for(python: str) -> Path:
    """The partnerdb layer built for `python`'s version, unpacked (the /opt it would get)."""
    out = BUILD / "layers"
    subprocess.run(
        [str(ROOT / "build_layer.sh"), "--python", VERSION, "--out", str(out)],
        check=True, cwd=ROOT, capture_output=True, text=True, timeout=_BUILD_TIMEOUT_S,
        env={**os.environ, "PARTNERDB_TARGET_PYTHON": python},
    )
    zip_path = out / f"partnerdb-layer-{VERSION}-x86_64.zip"
    opt = BUILD / f"opt{VERSION}-{hashlib.sha256(zip_path.read_bytes()).hexdigest()[:16]}"
    if not (opt / "python").is_dir():
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(opt)
    return opt


def run_py312(rig: Rig, samples: int, log: Callable[[str], None] = print) -> dict[str, Any]:
    """`import app` (and `register_models`) under python3.12, handwritten vs ours."""
    python = find_python()
    if python is None:
        log("    python3.12: not on this machine, figure skipped")
        return {"skipped": "no python3.12 on this machine"}
    version = subprocess.run([python, "-V"], capture_output=True, text=True).stdout.strip()
    opt = layer_for(python)
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    register: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-py312-") as tmp:
        runtime_dir = Path(tmp) / "runtime"
        link_runtime(runtime_dir)
        envs = {}
        for variant in VARIANTS:
            env = probe_env(rig, variant, runtime_dir)
            env["PYTHONPATH"] = os.pathsep.join(
                str(p) for p in (rig.task_roots[variant], opt / "python", runtime_dir))
            env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_python{VERSION}"
            envs[variant] = env
        for variant in VARIANTS:  # page cache
            probe(envs[variant], rig.task_roots[variant], python=python)
        for order in rotations(VARIANTS, samples):
            for variant in order:
                done = probe(envs[variant], rig.task_roots[variant], python=python)
                times[variant].append(float(done.stdout.split("IMPORT_MS", 1)[1].split()[0]))
            done = probe(envs["ours"], rig.task_roots["ours"], code=PREBIND_PROBE,
                         python=python)
            register.append(float(done.stdout.split("IMPORT_MS", 1)[1].split()[0]))
    log(f"    {version}: {samples} fresh processes per variant")
    return {
        "python": version,
        "samples": samples,
        "register_models_ms": Summary.of(register).to_json(),
        "variants": {
            v: {"import_ms": {"summary": Summary.of(times[v]).to_json(),
                              "samples": [round(t, 3) for t in times[v]]}}
            for v in VARIANTS
        },
    }
