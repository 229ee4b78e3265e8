"""An STS stand-in on 127.0.0.1 that enforces ExternalIds, forwarding the rest to moto.

moto accepts any ExternalId. This behaviour for `emulators.fault_server.FaultServer` answers an
AssumeRole whose ExternalId differs from the one registered for its role with 403 AccessDenied,
as a partner's trust policy would, and forwards every other request (and the matching ones) to
moto. It records every (role ARN, ExternalId accepted?) it saw.
"""

from __future__ import annotations

import threading
from urllib.parse import parse_qs

from emulators.fault_server import Behaviour, Reply, forward_to, sts_error


class CheckedSts:
    """`FaultServer(CheckedSts(moto_url, {role_arn: external_id}))`: STS with ExternalIds."""

    def __init__(self, moto_url: str, expected: dict[str, str] | None = None) -> None:
        self.expected: dict[str, str] = dict(expected or {})
        self.calls: list[tuple[str, bool]] = []
        self._forward: Behaviour = forward_to(moto_url)
        self._refuse: Behaviour = sts_error(403, "AccessDenied")
        self._lock = threading.Lock()

    def __call__(self, path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        form = parse_qs(body.decode("utf-8", "replace"))
        if form.get("Action") == ["AssumeRole"]:
            role = form.get("RoleArn", [""])[0]
            given = form.get("ExternalId", [""])[0]
            wanted = self.expected.get(role)
            accepted = wanted is None or given == wanted
            with self._lock:
                self.calls.append((role, accepted))
            if not accepted:
                return self._refuse(path, headers, body)
        return self._forward(path, headers, body)
