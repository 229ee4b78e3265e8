"""The one exception hierarchy of partnerdb.

Every error says what went wrong and what to do about it. None carries a credential, a
session token or an ExternalId: messages name partners, variables and role ARNs only.
None derives from a botocore exception, so PynamoDB passes them through unwrapped.
"""

from __future__ import annotations


class PartnerDBError(Exception):
    """Base of every error partnerdb raises on purpose."""


class ConfigError(PartnerDBError):
    """The configuration is malformed; the message names the variable or field to fix."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        super().__init__(f"{variable}: {problem}")


class InvalidPartnerId(PartnerDBError):
    """A partner id is not letters, digits and underscore of a sane length."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"invalid partner id: {problem}")


class UnknownPartner(PartnerDBError):
    """No partner of that id is configured; no credentials or DB exist for it."""

    def __init__(self, partner_id: str, registry: str = "") -> None:
        self.partner_id = partner_id
        hint = (
            f"it is not active in registry {registry} (partnerdb partners add / enable)"
            if registry
            else f"set PARTNER_{partner_id.upper()}_ROLE_ARN and "
            f"PARTNER_{partner_id.upper()}_EXTERNAL_ID to serve it"
        )
        super().__init__(f"unknown partner {partner_id!r}: {hint}")


class PartnerRoleError(PartnerDBError):
    """The partner's role could not be assumed; no data was read or written."""

    def __init__(self, partner_id: str, role_arn: str, problem: str) -> None:
        self.partner_id = partner_id
        self.role_arn = role_arn
        super().__init__(f"partner {partner_id!r}: cannot assume {role_arn}: {problem}")


class PartnerRoleRefused(PartnerRoleError):
    """STS refused AssumeRole (trust policy, ExternalId or permissions); retrying won't help."""


class PartnerRoleThrottled(PartnerRoleError):
    """STS throttled AssumeRole past the retries the deadline allowed; retry later."""


class PartnerCredentialsRejected(PartnerDBError):
    """DynamoDB rejected the partner's credentials, and again after the role was assumed anew
    (sessions revoked, a clock step); the partner's role is not assumed again for a back-off.

    Not a `PartnerRoleError`: STS issued the credentials, the partner's account refused them.
    """

    def __init__(self, partner_id: str, problem: str) -> None:
        self.partner_id = partner_id
        super().__init__(f"partner {partner_id!r}: credentials rejected: {problem}")


class DeadlineExceeded(PartnerDBError):
    """The invocation's deadline left no time to start or finish a call.

    The message always starts with "lambda timeout exceeded" so logs and responses can be
    matched on it.
    """

    def __init__(self, detail: str = "") -> None:
        message = "lambda timeout exceeded"
        super().__init__(f"{message}: {detail}" if detail else message)


class ModelNotBindable(PartnerDBError):
    """A model cannot be bound to a partner (for example, it is not a PynamoDB Model)."""


class RegistryError(PartnerDBError):
    """A partner could not be looked up in the partner registry."""

    def __init__(self, partner_id: str, problem: str) -> None:
        self.partner_id = partner_id
        self.problem = problem
        super().__init__(f"partner {partner_id!r}: {problem}")

    def fresh(self) -> RegistryError:
        """The same error as a new object, to raise in place of a cached one: an exception
        object raised again keeps every traceback it went through, and their frames."""
        return type(self)(self.partner_id, self.problem)


class RegistryUnavailable(RegistryError):
    """The registry did not answer (down, throttled, refused, hung) and nothing usable was
    cached; the partner may well exist. Retry later: this is never `UnknownPartner`."""


class RegistryEntryInvalid(RegistryError):
    """The partner's registry entry is malformed; `field` names what to fix.

    The message never holds the ExternalId value.
    """

    def __init__(self, partner_id: str, field: str, problem: str) -> None:
        self.field = field
        self.field_problem = problem
        super().__init__(partner_id, f"registry entry field {field!r} {problem}")

    def fresh(self) -> RegistryEntryInvalid:
        return RegistryEntryInvalid(self.partner_id, self.field, self.field_problem)
