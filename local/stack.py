"""The whole product on one machine: moto, two partner accounts, the layer and a function.

Used by `make demo`, the runtime tests and the benchmarks, so all three run the same thing:
the layer zip that `build_layer.sh` builds (for this interpreter, unpacked as Lambda's /opt),
the function folder that `sam build` would package (functions/<name>/Makefile), and the real
awslambdaric runtime client behind the local Runtime API.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import platform
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from emulators.lambda_runner import LambdaFunction
from emulators.moto_server import MotoServer
from local.seed import PartnerAccount, create_role, create_table_for

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "local"
HOME_ACCOUNT = "123456789012"
#: The function's own credentials; moto accepts any, partner data never sees them.
HOME_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIALOCALFUNCTION001",
    "AWS_SECRET_ACCESS_KEY": "local-function-secret-do-not-log",
    "AWS_SESSION_TOKEN": "local-function-session-token-do-not-log",
}
DEMO_PARTNERS = (
    PartnerAccount("acme", "111111111111", "acme-7Hq2-external", table_prefix="acme_"),
    PartnerAccount("globex", "222222222222", "globex-Zp81-external", table_prefix="globex_"),
)


def local_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def local_arch() -> str:
    return "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"


def build_layer(*, slim: bool = False, quiet: bool = True) -> Path:
    """Build the layer zip for this interpreter and unpack it; return the /opt equivalent."""
    python, arch = local_python(), local_arch()
    out = BUILD / "zips"
    cmd = [str(ROOT / "build_layer.sh"), "--arch", arch, "--python", python, "--out", str(out)]
    if slim:
        cmd.append("--slim")
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=quiet, text=True)
    name = f"partnerdb-layer-{python}-{arch}{'-slim' if slim else ''}.zip"
    zip_path = out / name
    digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()[:16]
    opt = BUILD / f"opt-{digest}"
    if not (opt / "python").is_dir():
        tmp = opt.with_name(opt.name + ".tmp")
        subprocess.run(["rm", "-rf", str(tmp)], check=True)
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(tmp)
        tmp.rename(opt)
    return opt


def build_function(name: str = "payments") -> Path:
    """Package functions/<name> as `sam build` does; return the task root."""
    target = BUILD / f"fn-{name}"
    subprocess.run(["rm", "-rf", str(target)], check=True)
    subprocess.run(
        [
            "make", "--no-print-directory", "-f", str(ROOT / "functions" / name / "Makefile"),
            f"build-{name.capitalize()}Function", f"ARTIFACTS_DIR={target}",
        ],
        check=True, cwd=ROOT, capture_output=True, text=True,
    )
    return target


def load_function(name: str, module: str = "app") -> ModuleType:
    """`functions/<name>/<module>.py`, imported as `functions.<name>.<module>`.

    The function's own modules (models, validate) come with it through its package's relative
    imports, as on Lambda, where the folder is the `<name>` package at the task root. Importing
    `app` runs its module-level code (the decorator's default `Partners`) once per process.
    """
    return importlib.import_module(f"functions.{name}.{module}")


def seed_partners(
    moto: MotoServer, partners: tuple[PartnerAccount, ...], models: tuple[Any, ...]
) -> None:
    """Create each partner's role and tables in its own account."""
    for partner in partners:
        create_role(partner, moto.url, trusted_account=HOME_ACCOUNT)
        for model in models:
            create_table_for(model, partner, moto.url)


@dataclass
class Stack:
    """A seeded moto, a built layer and function; `function()` starts execution environments."""

    moto: MotoServer
    opt: Path
    task_root: Path
    partners: tuple[PartnerAccount, ...] = DEMO_PARTNERS
    started: list[LambdaFunction] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        env = {**HOME_CREDENTIALS, "AWS_ENDPOINT_URL": self.moto.url}
        if os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"):  # DynamoDB Local (make test-ddblocal)
            env["AWS_ENDPOINT_URL_DYNAMODB"] = os.environ["AWS_ENDPOINT_URL_DYNAMODB"]
        for partner in self.partners:
            env.update(partner.env())
        env.update(extra)
        return env

    def function(
        self,
        *,
        timeout_s: float = 6.0,
        env: Mapping[str, str] | None = None,
        handler: str = "payments.app.handler",
        **kwargs: Any,
    ) -> LambdaFunction:
        fn = LambdaFunction(
            handler,
            self.task_root,
            layer_dirs=[self.opt],
            env=self.env(**dict(env or {})),
            timeout_s=timeout_s,
            function_name="payments",
            **kwargs,
        )
        fn.start()
        self.started.append(fn)
        return fn

    def stop_functions(self) -> None:
        while self.started:
            self.started.pop().stop()
