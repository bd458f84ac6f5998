"""The exceptions monban raises: one class per stable error code, all under `MonbanError`.

Catch `monban.MonbanError` for every failure, or one class such as `monban.LoginFailed` for
one code. Each carries the code (`monban.Code`), the message for a person in English and
Japanese, whether the same call may succeed when simply repeated (`retryable`), the input field
an error is about (`field`) and, for `PasswordRejected`, every reason (`problems`). Messages
never contain a password, a code or a token.
"""

from __future__ import annotations

import enum
from typing import Any, Dict, List, Optional, Type

from ._ffi import monban as _ffi


class Code(enum.StrEnum):
    """The stable error codes (the same strings as the HTTP API's `code`)."""
    INVALID_INPUT = "invalid_input"
    """The input is missing, too long or malformed; `field` names it."""
    PASSWORD_MISMATCH = "password_mismatch"
    """The new password and its confirmation differ."""
    PASSWORD_REJECTED = "password_rejected"
    """The new password breaks the policy; `problems` lists every reason."""
    LOGIN_FAILED = "login_failed"
    """The login failed. It never says which input was wrong."""
    LOCKED = "locked"
    """The account is locked after too many failures; an admin or support unlocks it."""
    CURRENT_PASSWORD_WRONG = "current_password_wrong"
    """The current password given for a voluntary change is wrong."""
    MAIL_OTP_NOT_CONFIGURED = "mail_otp_not_configured"
    """Mail one-time codes are chosen but the user has no e-mail address."""
    OTP_INVALID = "otp_invalid"
    """The one-time code is wrong or already used."""
    CHALLENGE_EXPIRED = "challenge_expired"
    """The login challenge has expired or was used up; log in again."""
    RESEND_LIMITED = "resend_limited"
    """A new code was asked for too often."""
    EMAIL_TAKEN = "email_taken"
    """The e-mail address is already used in a way the rules forbid."""
    SAME_AS_ADMIN_TAKEN = "same_as_admin_taken"
    """The tenant already has its one user marked "same as the admin"."""
    EMAIL_REQUIRED_FOR_MAIL_OTP = "email_required_for_mail_otp"
    """Mail one-time codes need an e-mail address."""
    USER_ID_TAKEN = "user_id_taken"
    """The user ID is already used in the tenant."""
    TENANT_EXISTS = "tenant_exists"
    """A tenant with this code already exists."""
    CERTIFICATE_TAKEN = "certificate_taken"
    """The client certificate is already bound to another user."""
    SHIPPING_NOT_ALLOWED = "shipping_not_allowed"
    """Shipping users need a tenant that ships goods."""
    FORBIDDEN = "forbidden"
    """The session's role may not do this."""
    SUPPORT_ONLY = "support_only"
    """Only support staff may do this."""
    FIELD_NOT_EDITABLE = "field_not_editable"
    """This field cannot be changed; `field` names it."""
    NOT_FOUND = "not_found"
    """No such user or tenant."""
    SESSION_NOT_FOUND = "session_not_found"
    """No such live session of this user."""
    PASSWORD_CHANGE_REQUIRED = "password_change_required"
    """The session may only change the password."""
    SESSION_INVALID = "session_invalid"
    """The session token is invalid, expired or ended; log in again."""
    RESET_LINK_INVALID = "reset_link_invalid"
    """The reset link is invalid, expired or already used."""
    RESET_INPUT_INVALID = "reset_input_invalid"
    """The details given for the reset do not match."""
    NOT_ENABLED = "not_enabled"
    """The policy does not enable this feature."""
    POLICY_INVALID = "policy_invalid"
    """The policy is invalid."""
    CONFLICT = "conflict"
    """Someone else changed the same record at the same time. Retryable."""
    BUSY = "busy"
    """The service is busy. Retryable."""
    THROTTLED = "throttled"
    """Too many attempts in a short time. Retryable later."""
    STORE_UNAVAILABLE = "store_unavailable"
    """The database could not be reached. Retryable."""
    MAIL_FAILED = "mail_failed"
    """A mail could not be handed to the mailer."""
    INVALID_REQUEST = "invalid_request"
    """The request could not be read (a bad cursor, for example)."""


class MonbanError(Exception):
    """A failure monban reports, with its stable code; the base of every monban exception."""

    code: Code
    """The stable machine code."""

    def __init__(
        self,
        message: str = "",
        *,
        code: Optional[Code] = None,
        message_ja: str = "",
        retryable: bool = False,
        field: Optional[str] = None,
        problems: Optional[List[_ffi.PasswordProblem]] = None,
    ) -> None:
        if code is not None:
            self.code = code
        super().__init__(f"{self.code.value}: {message}")
        self.message: str = message
        """The message for a person, in English."""
        self.message_en: str = message
        """The message for a person, in English (the same as `message`)."""
        self.message_ja: str = message_ja or message
        """The message for a person, in Japanese."""
        self.retryable: bool = retryable
        """Whether the same call may succeed when repeated unchanged (busy, conflict, ...)."""
        self.field: Optional[str] = field
        """The input field the error is about (`invalid_input`, `field_not_editable`, ...)."""
        self.problems: List[_ffi.PasswordProblem] = list(problems or [])
        """Every reason a new password was refused (`password_rejected`)."""

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code.value!r}, message={self.message!r}, "
            f"retryable={self.retryable!r}, field={self.field!r}, problems={self.problems!r})"
        )


class InvalidInput(MonbanError):
    """The input is missing, too long or malformed; `field` names it."""

    code = Code.INVALID_INPUT

class PasswordMismatch(MonbanError):
    """The new password and its confirmation differ."""

    code = Code.PASSWORD_MISMATCH

class PasswordRejected(MonbanError):
    """The new password breaks the policy; `problems` lists every reason."""

    code = Code.PASSWORD_REJECTED

class LoginFailed(MonbanError):
    """The login failed. It never says which input was wrong."""

    code = Code.LOGIN_FAILED

class Locked(MonbanError):
    """The account is locked after too many failures; an admin or support unlocks it."""

    code = Code.LOCKED

class CurrentPasswordWrong(MonbanError):
    """The current password given for a voluntary change is wrong."""

    code = Code.CURRENT_PASSWORD_WRONG

class MailOtpNotConfigured(MonbanError):
    """Mail one-time codes are chosen but the user has no e-mail address."""

    code = Code.MAIL_OTP_NOT_CONFIGURED

class OtpInvalid(MonbanError):
    """The one-time code is wrong or already used."""

    code = Code.OTP_INVALID

class ChallengeExpired(MonbanError):
    """The login challenge has expired or was used up; log in again."""

    code = Code.CHALLENGE_EXPIRED

class ResendLimited(MonbanError):
    """A new code was asked for too often."""

    code = Code.RESEND_LIMITED

class EmailTaken(MonbanError):
    """The e-mail address is already used in a way the rules forbid."""

    code = Code.EMAIL_TAKEN

class SameAsAdminTaken(MonbanError):
    """The tenant already has its one user marked "same as the admin"."""

    code = Code.SAME_AS_ADMIN_TAKEN

class EmailRequiredForMailOtp(MonbanError):
    """Mail one-time codes need an e-mail address."""

    code = Code.EMAIL_REQUIRED_FOR_MAIL_OTP

class UserIdTaken(MonbanError):
    """The user ID is already used in the tenant."""

    code = Code.USER_ID_TAKEN

class TenantExists(MonbanError):
    """A tenant with this code already exists."""

    code = Code.TENANT_EXISTS

class CertificateTaken(MonbanError):
    """The client certificate is already bound to another user."""

    code = Code.CERTIFICATE_TAKEN

class ShippingNotAllowed(MonbanError):
    """Shipping users need a tenant that ships goods."""

    code = Code.SHIPPING_NOT_ALLOWED

class Forbidden(MonbanError):
    """The session's role may not do this."""

    code = Code.FORBIDDEN

class SupportOnly(MonbanError):
    """Only support staff may do this."""

    code = Code.SUPPORT_ONLY

class FieldNotEditable(MonbanError):
    """This field cannot be changed; `field` names it."""

    code = Code.FIELD_NOT_EDITABLE

class NotFound(MonbanError):
    """No such user or tenant."""

    code = Code.NOT_FOUND

class SessionNotFound(MonbanError):
    """No such live session of this user."""

    code = Code.SESSION_NOT_FOUND

class PasswordChangeRequired(MonbanError):
    """The session may only change the password."""

    code = Code.PASSWORD_CHANGE_REQUIRED

class SessionInvalid(MonbanError):
    """The session token is invalid, expired or ended; log in again."""

    code = Code.SESSION_INVALID

class ResetLinkInvalid(MonbanError):
    """The reset link is invalid, expired or already used."""

    code = Code.RESET_LINK_INVALID

class ResetInputInvalid(MonbanError):
    """The details given for the reset do not match."""

    code = Code.RESET_INPUT_INVALID

class NotEnabled(MonbanError):
    """The policy does not enable this feature."""

    code = Code.NOT_ENABLED

class PolicyInvalid(MonbanError):
    """The policy is invalid."""

    code = Code.POLICY_INVALID

class Conflict(MonbanError):
    """Someone else changed the same record at the same time. Retryable."""

    code = Code.CONFLICT

class Busy(MonbanError):
    """The service is busy. Retryable."""

    code = Code.BUSY

class Throttled(MonbanError):
    """Too many attempts in a short time. Retryable later."""

    code = Code.THROTTLED

class StoreUnavailable(MonbanError):
    """The database could not be reached. Retryable."""

    code = Code.STORE_UNAVAILABLE

class MailFailed(MonbanError):
    """A mail could not be handed to the mailer."""

    code = Code.MAIL_FAILED

class InvalidRequest(MonbanError):
    """The request could not be read (a bad cursor, for example)."""

    code = Code.INVALID_REQUEST


for _cls in [MonbanError, *MonbanError.__subclasses__()]:
    _cls.__module__ = "monban"  # as `monban.LoginFailed` in tracebacks

ERRORS: Dict[Code, Type[MonbanError]] = {
    cls.code: cls for cls in MonbanError.__subclasses__()
}
"""The exception class of each code."""


def from_ffi(e: Any) -> MonbanError:
    """The typed exception for an error of the generated FFI module (its `MonbanError.LoginFailed`,
    ...: one variant per code, with the same fields).

    The wheel ships the Rust library and this layer together, and the tests check that every
    code the library reports has its class here.
    """
    return ERRORS[Code(e.code)](
        e.message_en,
        message_ja=e.message_ja,
        retryable=e.retryable,
        field=e.field,
        problems=e.problems,
    )
