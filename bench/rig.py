"""The benchmark rig: built layers and functions, a seeded moto, and execution environments.

Every variant runs the way `make demo` runs payments: the partnerdb layer zip built for this
interpreter and unpacked as /opt, the function folder packaged by its own Makefile (as
`sam build` would), and a real `awslambdaric` process behind the local Runtime API
(`emulators.lambda_runner`). Runtime processes start with `python -S`, so nothing comes from the
virtualenv: boto3/botocore/pynamodb come from the partnerdb layer, Powertools from a second
layer directory built here with `pip install --target`.
"""

from __future__ import annotations

import importlib.metadata
import os
import socketserver
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.responder import ITEM
from emulators.lambda_runner import FunctionResult, LambdaFunction
from emulators.moto_server import MotoServer, start_moto
from local import stack
from local.seed import PartnerAccount, account_client, create_role, create_table_for

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "bench"
FUNCTIONS = ROOT / "bench" / "functions"
VARIANTS = ("handwritten", "powertools", "ours")
#: What every variant gets: the partners of `make demo`.
CORE_PARTNERS = stack.DEMO_PARTNERS
#: Ten more partner accounts, for the credential-cache figure.
CACHE_PARTNERS = tuple(
    PartnerAccount(f"cp{i}", f"3000000000{i:02d}", f"cache-partner-{i}-external", f"cp{i}_")
    for i in range(10)
)
PAYMENT_ID = "pay_bench"
#: Lambda sets these; X-Ray stays on loopback (and unsampled invocations send nothing).
LAMBDA_EXTRA_ENV = {
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
    "POWERTOOLS_SERVICE_NAME": "bench",
}
_BUILD_TIMEOUT_S = 300


def event(partner_id: str = "acme") -> dict[str, Any]:
    """The direct-invoke event every variant serves: get one payment of one partner."""
    return {"partnerId": partner_id, "action": "getPayment", "data": {"id": PAYMENT_ID}}


def response_ok(payload: Any) -> bool:
    """Whether a variant's response carries the seeded payment."""
    if not isinstance(payload, dict) or payload.get("success") is not True:
        return False
    data = payload.get("data")
    return isinstance(data, dict) and data.get("id") == PAYMENT_ID and data.get("amount") == 1999


class BenchError(RuntimeError):
    """A variant answered wrongly: its numbers would mean nothing."""


def check(variant: str, result: FunctionResult) -> FunctionResult:
    """Raise unless the invocation returned the seeded payment."""
    if result.is_error or not response_ok(result.payload):
        tail = result.logs[-2000:]
        raise BenchError(f"{variant} answered {result.payload!r}\n--- logs ---\n{tail}")
    return result


def rotations(variants: Sequence[str], rounds: int) -> list[list[str]]:
    """Round-robin orders, the first variant rotating each round (no fixed position bias)."""
    n = len(variants)
    return [[variants[(r + i) % n] for i in range(n)] for r in range(rounds)]


def build_function(name: str) -> Path:
    """Package bench/functions/<name> with its Makefile (`build-<Name>Function`)."""
    target = BUILD / f"fn-{name}"
    subprocess.run(["rm", "-rf", str(target)], check=True)
    subprocess.run(
        [
            "make", "--no-print-directory", "-f", str(FUNCTIONS / name / "Makefile"),
            f"build-{name.capitalize()}Function", f"ARTIFACTS_DIR={target}",
        ],
        check=True, cwd=ROOT, capture_output=True, text=True, timeout=_BUILD_TIMEOUT_S,
    )
    return target


def powertools_layer() -> Path:
    """A layer directory holding aws-lambda-powertools (the venv's version) and its one
    dependency the partnerdb layer lacks (typing_extensions); built once."""
    pins = [
        f"{dist}=={importlib.metadata.version(dist)}"
        for dist in ("aws-lambda-powertools", "typing-extensions")
    ]
    layer = BUILD / ("powertools-layer-" + "-".join(p.split("==")[1] for p in pins))
    stamp = layer / ".installed"
    if not stamp.exists():
        subprocess.run(["rm", "-rf", str(layer)], check=True)
        subprocess.run(
            [
                sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                "--no-deps", "--target", str(layer / "python"), *pins,
            ],
            check=True, capture_output=True, text=True, timeout=_BUILD_TIMEOUT_S,
        )
        stamp.write_text("\n".join(pins) + "\n")
    return layer


def partner_env(partners: Sequence[PartnerAccount]) -> dict[str, str]:
    """The `PARTNER_<ID>_*` variables of `partners`."""
    env: dict[str, str] = {}
    for partner in partners:
        env.update(partner.env())
    return env


def seed(moto: MotoServer, partners: Sequence[PartnerAccount]) -> None:
    """Each partner's role, payments table and the one payment every variant reads."""
    models = stack.load_function("payments", "models")
    for partner in partners:
        create_role(partner, moto.url, trusted_account=stack.HOME_ACCOUNT)
        table = create_table_for(models.Payment, partner, moto.url)
        client = account_client("dynamodb", partner.account_id, moto.url, partner.region)
        client.put_item(
            TableName=table,
            Item={**ITEM, "id": {"S": PAYMENT_ID}},
        )


@dataclass
class Rig:
    """Built artifacts plus a seeded moto; `function()` starts execution environments."""

    moto: MotoServer
    opt: Path
    powertools: Path
    task_roots: dict[str, Path]
    started: list[LambdaFunction] = field(default_factory=list)

    def layer_dirs(self, variant: str) -> list[Path]:
        """/opt of `variant`: the partnerdb layer, plus Powertools for `powertools`."""
        return [self.opt, self.powertools] if variant == "powertools" else [self.opt]

    def env(
        self, partners: Sequence[PartnerAccount] = CORE_PARTNERS, **extra: str
    ) -> dict[str, str]:
        """The function environment of every variant (home credentials, moto, partners)."""
        return {
            **stack.HOME_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.moto.url,
            **LAMBDA_EXTRA_ENV,
            **partner_env(partners),
            **extra,
        }

    def function(
        self,
        variant: str,
        *,
        partners: Sequence[PartnerAccount] = CORE_PARTNERS,
        env: Mapping[str, str] | None = None,
        timeout_s: float = 6.0,
    ) -> LambdaFunction:
        """A started (not yet spawned) execution environment of `variant`."""
        fn = LambdaFunction(
            "app.handler",
            self.task_roots[variant],
            layer_dirs=self.layer_dirs(variant),
            env=self.env(partners, **dict(env or {})),
            timeout_s=timeout_s,
            function_name=f"bench-{variant}",
            init_timeout_s=20.0,
        )
        fn.start()
        self.started.append(fn)
        return fn

    def python_path(self, variant: str) -> list[Path]:
        """`sys.path` of the runtime process before the runtime dir (as the runner sets it)."""
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        layers = list(reversed(self.layer_dirs(variant)))
        versioned = [d / "python" / "lib" / version / "site-packages" for d in layers]
        return [
            self.task_roots[variant],
            *(p for p in versioned if p.is_dir()),
            *(d / "python" for d in layers),
        ]

    def stop_functions(self) -> None:
        while self.started:
            self.started.pop().stop()


@contextmanager
def quiet_resets() -> Iterator[None]:
    """A recycled runtime process resets its keep-alive connections (to the Runtime API and to
    moto): expected here, so servers in this process skip the traceback for a reset connection
    (other errors are still printed). Restored on exit."""
    original = socketserver.BaseServer.handle_error

    def handle_error(self: socketserver.BaseServer, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        original(self, request, client_address)

    socketserver.BaseServer.handle_error = handle_error  # type: ignore[method-assign]
    try:
        yield
    finally:
        socketserver.BaseServer.handle_error = original  # type: ignore[method-assign]


@contextmanager
def open_rig(variants: Sequence[str] = VARIANTS, *, log: Any = print) -> Iterator[Rig]:
    """Build everything, start and seed moto; stop every process it started on exit."""
    os.environ.update(stack.HOME_CREDENTIALS, AWS_REGION="us-east-1")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    log("  building the layer (build_layer.sh, this interpreter) and the functions ...")
    opt = stack.build_layer()
    powertools = powertools_layer()
    task_roots = {name: build_function(name) for name in variants}
    moto = start_moto()
    rig = Rig(moto=moto, opt=opt, powertools=powertools, task_roots=task_roots)
    with quiet_resets():
        try:
            os.environ["AWS_ENDPOINT_URL"] = moto.url
            log(f"  moto on {moto.url}; seeding "
                f"{len(CORE_PARTNERS) + len(CACHE_PARTNERS)} partners")
            seed(moto, (*CORE_PARTNERS, *CACHE_PARTNERS))
            yield rig
        finally:
            rig.stop_functions()
            moto.stop()
            os.environ.pop("AWS_ENDPOINT_URL", None)
