"""Keep secrets out of logs, including botocore's own DEBUG lines.

At DEBUG, botocore logs request parameters (the ExternalId), response bodies (the assumed
role's secret key and session token) and signed headers. partnerdb registers every secret it
handles here (issued credentials while their session lives, ExternalIds of configured
partners), and a logging filter rewrites every record it sees, formatted and redacted, before
a handler writes it. Records below the loggers' level never reach it.
"""

from __future__ import annotations

import logging
import os
import re
import threading

REDACTED = "***"
#: A record carrying this attribute as True was built from values its writer already redacted
#: (handler_sdk's invocation and record lines): the filter passes it on untouched instead of
#: formatting and scanning the whole line a second time.
PRE_REDACTED = "partnerdb_redacted"
_FIELDS = re.compile(
    # The lookahead (every name's first letter) lets the engine skip most positions fast.
    r"(?i)(?=[acestx])(SecretAccessKey|SessionToken|ExternalId|aws_secret_access_key"
    r"|aws_session_token|X-Amz-Security-Token|secret_key|token|AccessKeyId|aws_access_key_id|access_key"
    r"|X-Amz-Credential|Credential)"
    r"((?:['\"]?\s*[:=]\s*b?)|>)"
    # a quoted value runs to its closing quote (an ExternalId may hold , : / = + @), a bare
    # one to the first separator
    r"(['\"])?((?(3)[^'\"\n]+|[^'\"\s,&}<]+))"
)

def _redacted_field(match: re.Match[str]) -> str:
    """A `_FIELDS` match with its value replaced (the value's opening quote kept)."""
    name, separator, quote = match.group(1, 2, 3)
    return f"{name}{separator}{quote or ''}{REDACTED}"


#: A registry entry's `external_id` as botocore logs the GetItem / GetParameter response body,
#: before partnerdb has parsed it: `"external_id": {"S": "..."}` (DynamoDB) or, inside the
#: parameter's JSON-escaped value, `\"external_id\": \"...\"` (SSM), escaped once more
#: when botocore logs the body as a bytes repr.
_ENTRY_FIELD = re.compile(
    r"(?i)(external_id)"
    r"(\\*['\"]?\s*[:=]\s*(?:\{\s*\\*['\"]S\\*['\"]\s*:\s*)?b?\\*['\"]?)"
    r"([^'\"\s&}<\\]+)"
)
#: Every name `_FIELDS` matches contains one of these (lower case): a cheap test first.
_FIELD_WORDS = ("secret", "token", "externalid", "access", "credential")
#: Access key ids wherever they stand (long-term AKIA..., temporary ASIA...).
_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{12,}\b")
_LOGGER_PREFIXES = ("botocore", "pynamodb", "urllib3", "aws_xray_sdk")
_MIN_SECRET = 6
#: Short texts found clean are remembered until the secrets change (an invocation line's
#: action is the same text invocation after invocation): at most this many, this long.
_CLEAN_KEPT = 1024
_CLEAN_LONGEST = 256


#: Runs of letters and digits. A secret is indexed by `_KEY` characters of one of its runs,
#: and a record is searched through its own runs (two dict lookups each), so the cost of a
#: record depends on its length, not on how many secrets are registered.
_KEY = 6
_RUN = re.compile(rf"[A-Za-z0-9]{{{_KEY},}}")


def _anchors(secret: str) -> tuple[str | None, str | None]:
    """(head, tail): the secret is in a text only if one of the text's runs starts with
    `head` or ends with `tail`.

    An inner run of the secret shows as a whole run of the text, so its head is enough; a
    run at the secret's end may be glued to text after it (head), one at its start to text
    before it (tail). A secret of letters and digits only gets both (glued on one side).
    None, None: no run long enough, the secret is searched in every record.
    """
    runs = list(_RUN.finditer(secret))
    if not runs:
        return None, None
    inner = [m for m in runs if m.start() > 0 and m.end() < len(secret)]
    best = max(inner or runs, key=lambda m: len(m.group()))
    run = best.group()
    if best.start() == 0 and best.end() == len(secret):
        return run[:_KEY], run[-_KEY:]
    if best.start() == 0:
        return None, run[-_KEY:]
    return run[:_KEY], None


class SecretRedactor(logging.Filter):
    """A filter that replaces known secrets and secret-looking fields with `***`.

    Secrets are counted references: the same value registered twice (two partners sharing an
    ExternalId, a refresh that returns the same key) stays until discarded twice. It never
    fails open: a record that cannot be formatted or redacted becomes one redacted line, and
    the record handed on carries no arguments or exception to format again.
    """

    def __init__(self) -> None:
        super().__init__("partnerdb.redact")
        self._counts: dict[str, int] = {}
        self._by_head: dict[str, frozenset[str]] = {}
        self._by_tail: dict[str, frozenset[str]] = {}
        self._unanchored: frozenset[str] = frozenset()
        #: short texts found clean since the secrets last changed (replaced, never emptied in
        #: place: a reader still holding the old dict only ever adds to a discarded one)
        self._clean: dict[str, bool] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many distinct secrets are registered."""
        return len(self._counts)

    @property
    def clean_texts_kept(self) -> int:
        """How many short texts are remembered as holding no secret."""
        return len(self._clean)

    def add(self, *secrets: str | None) -> None:
        with self._lock:
            for secret in secrets:
                if not secret or len(secret) < _MIN_SECRET:
                    continue
                count = self._counts.get(secret, 0)
                self._counts[secret] = count + 1
                if count == 0:
                    self._index(secret, add=True)

    def discard(self, *secrets: str | None) -> None:
        with self._lock:
            for secret in secrets:
                count = self._counts.get(secret or "", 0)
                if count > 1:
                    self._counts[secret or ""] = count - 1
                elif count == 1:
                    del self._counts[secret or ""]
                    self._index(secret or "", add=False)

    def _index(self, secret: str, *, add: bool) -> None:
        """Update the lookup tables (under the lock); readers see whole frozensets."""
        head, tail = _anchors(secret)
        if head is None and tail is None:
            self._unanchored = (
                self._unanchored | {secret} if add else self._unanchored - {secret}
            )
        for table, key in ((self._by_head, head), (self._by_tail, tail)):
            if key is None:
                continue
            group = table.get(key, frozenset())
            group = group | {secret} if add else group - {secret}
            if group:
                table[key] = group
            else:
                table.pop(key, None)
        self._clean = {}  # after the tables: a text checked against them may be kept again

    def redact(self, text: str) -> str:
        clean = self._clean  # before the tables are read (see `_index`)
        if text in clean:
            return text
        redacted = self._redact(text)
        if redacted == text and len(text) <= _CLEAN_LONGEST and len(clean) < _CLEAN_KEPT:
            clean[text] = True
        return redacted

    def _redact(self, text: str) -> str:
        found = set(self._unanchored)
        by_head, by_tail = self._by_head, self._by_tail
        if by_head or by_tail:
            for run in _RUN.findall(text):
                group = by_head.get(run[:_KEY])
                if group:
                    found.update(group)
                group = by_tail.get(run[-_KEY:])
                if group:
                    found.update(group)
        for secret in sorted(found, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, REDACTED)
        lower = text.lower()
        if any(word in lower for word in _FIELD_WORDS):
            text = _FIELDS.sub(_redacted_field, text)
        if "external_id" in lower:
            text = _ENTRY_FIELD.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
        if "AKIA" in text or "ASIA" in text:
            text = _ACCESS_KEY_ID.sub(REDACTED, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if record.__dict__.get(PRE_REDACTED) is True:
            return True
        try:
            self._rewrite(record)
        except Exception:
            record.msg = f"{REDACTED} (a log record was withheld: it could not be redacted)"
            record.args = ()
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True

    def _rewrite(self, record: logging.LogRecord) -> None:
        """Leave `record` safe to format: a message with arguments becomes the formatted,
        redacted text with no arguments left (so no handler formats, and fails on, anything
        again); an exception or stack whose text holds a secret is folded into it, redacted.
        A message without arguments and without secrets is left as it is (a dict stays a
        dict for structured loggers)."""
        formatted = True
        try:
            message = record.getMessage()
        except Exception:
            message = f"unformattable log record: {record.msg!r} % {record.args!r}"
            formatted = False
        clean = self.redact(message)
        rewrite = not formatted or clean != message or bool(record.args)
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            clean_exc = self.redact(text)
            if clean_exc != text:
                clean, rewrite = f"{clean}\n{clean_exc}", True
                record.exc_info, record.exc_text = None, None
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        if rewrite:
            record.msg, record.args = clean, ()


REDACTOR = SecretRedactor()


def redact_secrets(text: str) -> str:
    """`text` with every secret partnerdb knows of (and secret-looking fields) replaced."""
    return REDACTOR.redact(text)


def install_redaction() -> None:
    """Attach the redactor to the root logger's handlers and to the AWS libraries' loggers.

    Call after logging is configured (the Lambda runtime configures it before the handler
    module is imported). Idempotent.
    """
    env = os.environ
    REDACTOR.add(
        env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY"), env.get("AWS_SESSION_TOKEN")
    )
    targets: list[logging.Filterer] = list(logging.getLogger().handlers)
    targets.append(logging.getLogger())
    for name in list(logging.root.manager.loggerDict):
        if name.startswith(_LOGGER_PREFIXES):
            targets.append(logging.getLogger(name))
    for target in targets:
        if REDACTOR not in target.filters:
            target.addFilter(REDACTOR)
