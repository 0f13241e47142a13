"""Error codes of the Portal Migration Service (seed 000, section 9.1).

A task raises ``MigrationError``; the Airflow layer turns ``permanent`` errors
into a failure without retries and pushes ``code``/``message`` to XCom for the portal.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    SOURCE_UNREACHABLE = "SOURCE_UNREACHABLE"
    NOT_WORDPRESS = "NOT_WORDPRESS"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    EXPORT_FAILED = "EXPORT_FAILED"
    IMPORT_FAILED = "IMPORT_FAILED"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    # Not in the seed's table, needed by an Airflow-run service:
    SOURCE_REFUSED = "SOURCE_REFUSED"  # SSRF guard: private/loopback/link-local address
    INVALID_CONF = "INVALID_CONF"
    PROVISION_FAILED = "PROVISION_FAILED"
    VERIFICATION_FAILED = "VERIFICATION_FAILED"


# What the portal shows (seed 9.1 "User Message").
USER_MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.SOURCE_UNREACHABLE: "Unable to reach the source site. Please verify the URL.",
    ErrorCode.NOT_WORDPRESS: "The source site does not appear to be a WordPress site.",
    ErrorCode.INVALID_CREDENTIALS: (
        "Unable to authenticate with the source site. Please check your credentials."
    ),
    ErrorCode.EXPORT_FAILED: "Failed to export data from source. Please try again.",
    ErrorCode.IMPORT_FAILED: "Failed to import data to target site. Please contact support.",
    ErrorCode.QUOTA_EXCEEDED: "You have reached your migration limit. Please upgrade your plan.",
    ErrorCode.SOURCE_REFUSED: "The source address is not allowed (private or internal network).",
    ErrorCode.INVALID_CONF: "The migration request is invalid.",
    ErrorCode.PROVISION_FAILED: "The target site could not be prepared.",
    ErrorCode.VERIFICATION_FAILED: "The migrated site differs from the source; see the report.",
}


class MigrationError(Exception):
    """A failure with a seed error code.

    ``permanent`` errors (bad URL, not WordPress, wrong password) fail fast: retrying
    cannot help. Transient ones (connection dropped mid-transfer) are retried.
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        permanent: bool = True,
        details: dict[str, Any] | None = None,
        user_message: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = ErrorCode(code)
        self.message = message
        self.permanent = permanent
        self.details = details or {}
        # What the portal shows when the code's default would send the user the wrong way.
        self.user_message = user_message or USER_MESSAGES[self.code]

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": str(self.code),
            "message": self.message,
            "user_message": self.user_message,
            "permanent": self.permanent,
            "details": self.details,
        }
