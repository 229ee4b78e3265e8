"""Lambda SnapStart: warm-up before the snapshot, and what a restored copy must not share.

With SnapStart (Python 3.12+, published versions) Lambda runs the function's init once,
snapshots the process and starts every execution environment from a copy of it. Anything
the snapshot holds is shared by every copy: an assumed role's credentials, pooled
connections, the `random` module's state. `register(partners)` registers, through
`snapshot_restore_py` (shipped with the Lambda runtime client):

- before the snapshot: `Partners.before_snapshot()`, warm-up that is safe to share (models
  bound, service models loaded, the STS client built; no credentials, no connection);
- after each restore: `Partners.after_restore()` (assumed credentials dropped, STS clients
  rebuilt on next use, pooled connections closed), `random` reseeded from the OS, then the
  callbacks given as `on_restore` (the handler SDK resets its cold-start flag there).

It does nothing unless the process is initialized for SnapStart
(`AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`, set by Lambda) and `snapshot_restore_py` is
importable, so the same code runs unchanged everywhere else.
"""

from __future__ import annotations

import importlib
import os
import random
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from partnerdb.db import Partners

INITIALIZATION_TYPE_ENV = "AWS_LAMBDA_INITIALIZATION_TYPE"
SNAP_START = "snap-start"
HOOKS_MODULE = "snapshot_restore_py"

_lock = threading.Lock()
_registered: list[Partners] = []
_on_restore: list[Callable[[], None]] = []
_hooks_installed = False


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process is being initialized for a SnapStart snapshot."""
    env = os.environ if environ is None else environ
    return env.get(INITIALIZATION_TYPE_ENV) == SNAP_START


def register(
    partners: Partners,
    *,
    on_restore: Iterable[Callable[[], None]] = (),
    environ: Mapping[str, str] | None = None,
) -> bool:
    """Register the SnapStart hooks for `partners` (once per `Partners`, and each
    `on_restore` callback once); True when the hooks are in place, False when SnapStart is
    not in use here."""
    if not enabled(environ):
        return False
    try:
        hooks: Any = importlib.import_module(HOOKS_MODULE)
    except ImportError:
        return False
    global _hooks_installed
    with _lock:
        if not any(p is partners for p in _registered):
            _registered.append(partners)
        for callback in on_restore:
            if callback not in _on_restore:
                _on_restore.append(callback)
        if not _hooks_installed:
            hooks.register_before_snapshot(before_snapshot)
            hooks.register_after_restore(after_restore)
            _hooks_installed = True
    return True


def before_snapshot() -> None:
    """The before-snapshot hook: warm up every registered `Partners`."""
    with _lock:
        registered = list(_registered)
    for partners in registered:
        partners.before_snapshot()


def after_restore() -> None:
    """The after-restore hook: forget what must not be shared, reseed `random`, then run the
    `on_restore` callbacks."""
    with _lock:
        registered, callbacks = list(_registered), list(_on_restore)
    for partners in registered:
        partners.after_restore()
    random.seed()
    for callback in callbacks:
        callback()
