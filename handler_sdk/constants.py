"""Every environment variable handler_sdk reads, and the defaults of its options, in one place.

partnerdb's own variables (partners, client settings) are in `partnerdb.constants`.
"""

from __future__ import annotations

from partnerdb.constants import DEADLINE_BUFFER_MS, FUNCTION_NAME_ENV

#: `true`/`false`: force tracing on or off (default: on in Lambda).
TRACING_ENV = "PARTNERDB_TRACING"
#: Powertools' switch, honoured so one setting turns all tracing off.
POWERTOOLS_TRACE_DISABLED_ENV = "POWERTOOLS_TRACE_DISABLED"
#: The invocation's X-Ray trace header; awslambdaric sets it before each invocation.
TRACE_HEADER_ENV = "_X_AMZN_TRACE_ID"
#: Set by Lambda; tracing is on by default when it is present.
LAMBDA_ENV = FUNCTION_NAME_ENV

#: `with_partner_db(buffer_ms=...)`: stop starting DB work this long before the deadline.
DEFAULT_BUFFER_MS = DEADLINE_BUFFER_MS

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})
