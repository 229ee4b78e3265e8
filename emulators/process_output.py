"""A runtime process's output: read from its pipe on a thread into a bounded buffer.

`LogBuffer` keeps everything a function's runtime processes printed, in order, addressed by
absolute offsets (so one invocation's slice can be cut out); `OutputReader` copies one
process's stdout+stderr pipe into it.
"""

from __future__ import annotations

import os
import select
import threading
import time
from typing import IO

MAX_LOG_BYTES = 32 * 1024 * 1024  # older output is dropped beyond this


class LogBuffer:
    """All output of a function's runtime processes, in order, addressed by absolute offsets."""

    def __init__(self, max_bytes: int = MAX_LOG_BYTES) -> None:
        self._lock = threading.Lock()
        self._data = bytearray()
        self._dropped = 0  # bytes trimmed from the front
        self._max_bytes = max_bytes

    def append(self, chunk: bytes) -> None:
        with self._lock:
            self._data += chunk
            excess = len(self._data) - self._max_bytes
            if excess > 0:
                del self._data[:excess]
                self._dropped += excess

    def size(self) -> int:
        with self._lock:
            return self._dropped + len(self._data)

    def text(self, start: int = 0, end: int | None = None) -> str:
        with self._lock:
            lo = max(0, start - self._dropped)
            hi = len(self._data) if end is None else max(lo, end - self._dropped)
            return self._data[lo:hi].decode("utf-8", "replace")


class OutputReader:
    """Copies a runtime process's stdout+stderr pipe into a `LogBuffer` on a thread.

    `drain()` also reads on the caller's thread, under the same lock: once the runtime has
    answered an invocation, a drain leaves everything it printed before answering in the buffer.
    """

    _MAX_POLLS = 10_000_000  # about 11 days of idle 0.1 s polls; ends earlier at EOF or close()

    def __init__(self, stream: IO[bytes], sink: LogBuffer) -> None:
        self._stream = stream
        self._fd = stream.fileno()
        os.set_blocking(self._fd, False)
        self._sink = sink
        self._lock = threading.Lock()
        self._eof = False
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lambda-output", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for _ in range(self._MAX_POLLS):
            if self._closing.is_set() or self._eof:
                return
            try:
                readable, _, _ = select.select([self._fd], [], [], 0.1)
            except (OSError, ValueError):
                return
            if readable:
                self.drain()

    def drain(self) -> None:
        """Move whatever the pipe holds now into the buffer, without blocking."""
        with self._lock:
            for _ in range(1024):
                if self._eof:
                    return
                try:
                    chunk = os.read(self._fd, 65536)
                except BlockingIOError:
                    return
                except OSError:
                    self._eof = True
                    return
                if not chunk:
                    self._eof = True
                    return
                self._sink.append(chunk)

    def close(self, timeout_s: float = 2.0) -> None:
        """Read to end of file (the process is gone), bounded by `timeout_s`, and release."""
        give_up = time.monotonic() + timeout_s
        for _ in range(int(timeout_s / 0.01) + 1):
            self.drain()
            if self._eof or time.monotonic() >= give_up:
                break
            time.sleep(0.01)
        self._closing.set()
        self._thread.join(timeout=1.0)
        with self._lock:
            self._eof = True
            self._stream.close()
