"""Keep secrets out of logs, including botocore's own DEBUG lines.

At DEBUG, botocore logs request parameters (the ExternalId), response bodies (the assumed
role's secret key and session token) and signed headers. partnerdb registers every secret it
handles here, and a logging filter rewrites any record that contains one, or that carries a
secret-looking field, before a handler writes it. With DEBUG off the filter never runs.
"""

from __future__ import annotations

import logging
import os
import re
import threading

REDACTED = "***"
_FIELDS = re.compile(
    r"(?i)(SecretAccessKey|SessionToken|ExternalId|aws_secret_access_key|aws_session_token"
    r"|X-Amz-Security-Token|secret_key|token|AccessKeyId|aws_access_key_id|access_key"
    r"|X-Amz-Credential|Credential)"
    r"((?:['\"]?\s*[:=]\s*b?['\"]?)|>)"
    r"([^'\"\s,&}<]+)"
)
#: A registry entry's `external_id` as botocore logs the GetItem / GetParameter response body,
#: before partnerdb has parsed it: `"external_id": {"S": "..."}` (DynamoDB) or, inside the
#: parameter's JSON-escaped value, `\"external_id\": \"...\"` (SSM), escaped once more
#: when botocore logs the body as a bytes repr.
_ENTRY_FIELD = re.compile(
    r"(?i)(external_id)"
    r"(\\*['\"]?\s*[:=]\s*(?:\{\s*\\*['\"]S\\*['\"]\s*:\s*)?b?\\*['\"]?)"
    r"([^'\"\s&}<\\]+)"
)
#: Access key ids wherever they stand (long-term AKIA..., temporary ASIA...).
_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{12,}\b")
_LOGGER_PREFIXES = ("botocore", "pynamodb", "urllib3", "aws_xray_sdk")
_MIN_SECRET = 6


class SecretRedactor(logging.Filter):
    """A filter that replaces known secrets and secret-looking fields with `***`."""

    def __init__(self) -> None:
        super().__init__("partnerdb.redact")
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, *secrets: str | None) -> None:
        with self._lock:
            self._secrets.update(s for s in secrets if s and len(s) >= _MIN_SECRET)

    def discard(self, *secrets: str | None) -> None:
        with self._lock:
            self._secrets.difference_update(s for s in secrets if s)

    def redact(self, text: str) -> str:
        for secret in self._secrets.copy():
            if secret in text:
                text = text.replace(secret, REDACTED)
        text = _FIELDS.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
        text = _ENTRY_FIELD.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
        return _ACCESS_KEY_ID.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            clean_exc = self.redact(text)
            if clean_exc != text:
                record.exc_info, record.exc_text = None, None
                record.msg = f"{record.msg}\n{clean_exc}"
        return True


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
