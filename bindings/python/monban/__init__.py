"""monban: sign-in for your application, on an SQLite file.

Passwords (argon2id) with the policy's rules, a second factor (a code by mail or an
authenticator app), lockout, password resets, forgotten login IDs, sessions and an audit trail,
run by a Rust library in this process.

    import monban
    policy = monban.Policy.preset("kuroneko")
    with monban.Auth.open("app.db", policy, my_mailer) as auth:
        step = auth.login(monban.LoginRequest(identifier="...", password="..."))

Every failure raises a subclass of `monban.MonbanError` (`monban.LoginFailed`,
`monban.Locked`, ...) carrying its stable `code`. Enums are string enums holding the HTTP API's
strings (`monban.Role.GENERAL == "general"`). Times are aware `datetime`s in UTC. Records compare
by value and have `to_dict()`; they print their secrets (passwords, tokens, codes, mail bodies)
as `[redacted]`, in `to_dict()` too. `monban.aio.Auth` offers the same calls as coroutines for
asyncio.
"""

from __future__ import annotations

import ctypes as _ctypes
import datetime as _datetime
import threading as _threading
from types import TracebackType
from typing import Any, Dict, FrozenSet, List, Optional, Type

from . import _errors
from ._errors import (
    Busy as Busy,
    CertificateTaken as CertificateTaken,
    ChallengeExpired as ChallengeExpired,
    Code as Code,
    Conflict as Conflict,
    CurrentPasswordWrong as CurrentPasswordWrong,
    EmailRequiredForMailOtp as EmailRequiredForMailOtp,
    EmailTaken as EmailTaken,
    FieldNotEditable as FieldNotEditable,
    Forbidden as Forbidden,
    InvalidInput as InvalidInput,
    InvalidRequest as InvalidRequest,
    Locked as Locked,
    LoginFailed as LoginFailed,
    MailFailed as MailFailed,
    MailOtpNotConfigured as MailOtpNotConfigured,
    MonbanError as MonbanError,
    NotEnabled as NotEnabled,
    NotFound as NotFound,
    OtpInvalid as OtpInvalid,
    PasswordChangeRequired as PasswordChangeRequired,
    PasswordMismatch as PasswordMismatch,
    PasswordRejected as PasswordRejected,
    PolicyInvalid as PolicyInvalid,
    ResendLimited as ResendLimited,
    ResetInputInvalid as ResetInputInvalid,
    ResetLinkInvalid as ResetLinkInvalid,
    SameAsAdminTaken as SameAsAdminTaken,
    SessionInvalid as SessionInvalid,
    SessionNotFound as SessionNotFound,
    ShippingNotAllowed as ShippingNotAllowed,
    StoreUnavailable as StoreUnavailable,
    SupportOnly as SupportOnly,
    TenantExists as TenantExists,
    Throttled as Throttled,
    UserIdTaken as UserIdTaken,
)
from ._ffi import monban as _ffi
from ._ffi.monban import (
    AccountKind as AccountKind,
    AuditEvent as AuditEvent,
    AuditFilter as AuditFilter,
    AuditPage as AuditPage,
    Challenge as Challenge,
    ChangeReason as ChangeReason,
    CharClass as CharClass,
    ClientCert as ClientCert,
    Created as Created,
    DeliveryReport as DeliveryReport,
    Factor as Factor,
    ForgotLoginId as ForgotLoginId,
    IdentityClaim as IdentityClaim,
    InternalError as InternalError,
    Lang as Lang,
    LoginMethod as LoginMethod,
    LoginRequest as LoginRequest,
    LoginStep as LoginStep,
    Mailer as Mailer,
    MailKind as MailKind,
    MailMessage as MailMessage,
    NewTenant as NewTenant,
    NewUser as NewUser,
    OutboxEntryView as OutboxEntryView,
    OwnerInfo as OwnerInfo,
    PasswordProblem as PasswordProblem,
    Permission as Permission,
    Policy as Policy,
    ProfileInput as ProfileInput,
    ResetRequest as ResetRequest,
    Role as Role,
    SelfEdit as SelfEdit,
    Session as Session,
    SessionClaims as SessionClaims,
    SessionInfo as SessionInfo,
    SessionScope as SessionScope,
    SweepReport as SweepReport,
    TotpEnrolment as TotpEnrolment,
    TotpSecret as TotpSecret,
    UserEdit as UserEdit,
    UserPage as UserPage,
    UserRef as UserRef,
    UserView as UserView,
    check_email_share as check_email_share,
    check_new_password as check_new_password,
    check_password as check_password,
    display_width as display_width,
    email_key as email_key,
    extract_login_id as extract_login_id,
    extract_secret as extract_secret,
    hash_password as hash_password,
    name_key as name_key,
    names_match as names_match,
    phone_key as phone_key,
    phones_match as phones_match,
    policy_presets as policy_presets,
    totp_code as totp_code,
    totp_enrol as totp_enrol,
    totp_verify as totp_verify,
    verify_password as verify_password,
)

try:
    from importlib.metadata import version as _version

    __version__: str = _version("monban")
    """The installed package's version."""
except Exception:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0.0.0"

# ---- errors: every error the Rust library reports becomes its own exception class ---------------
#
# The generated module turns an error into its `MonbanError.<Variant>` in one place, its error
# converter's `lift`; wrapping it there covers every function, method and constructor. (The name
# is uniffi 0.32's; the tests fail loudly if a uniffi upgrade renames it.)
_converter: Any = getattr(_ffi, "_UniffiFfiConverterTypeMonbanError")
_lift_failed = _converter.lift


def _lift_typed(buf: Any) -> MonbanError:
    return _errors.from_ffi(_lift_failed(buf))


_converter.lift = staticmethod(_lift_typed)

# ---- enums and records ----------------------------------------------------------------------
#
# The enums are `enum.StrEnum`s whose values are the HTTP API's strings (`Role.GENERAL.value ==
# "general"`, `Role("general") is Role.GENERAL`), and every record has `to_dict()`: monban's
# uniffi-bindgen (bindings/bindgen) writes them so into the generated module.

# The variants of the enums with data print their data: `PasswordProblem.TOO_SHORT(min=8)`,
# `LoginStep.SESSION(session=Session { token: [redacted], ... })` (the generated `__str__`).
for _cls in (PasswordProblem, LoginStep):
    for _variant in vars(_cls).values():
        if isinstance(_variant, type) and issubclass(_variant, _cls):
            _variant.__repr__ = _variant.__str__  # type: ignore[method-assign]


SECRET_FIELDS: Dict[str, FrozenSet[str]] = {
    record: frozenset(fields) for record, fields in _ffi.secret_fields().items()
}
"""The fields that hold a secret, by record name (`"Session"`: `{"token"}`): the ones `repr()`,
`str()` and `to_dict()` show as "[redacted]". The Rust library gives the list."""


def to_dict(record: Any, *, secrets: bool = False) -> Dict[str, Any]:
    """`record.to_dict(secrets=secrets)`: a record's fields as a dict, e.g. for JSON (nested
    records as dicts, enums as their HTTP API strings, times as `datetime`s; secrets read
    "[redacted]" unless `secrets=True`)."""
    if not isinstance(record, _ffi._MonbanRecord):
        raise TypeError(f"not a monban record: {type(record).__name__}")
    return record.to_dict(secrets=secrets)


# ---- TOTP in a hot path -------------------------------------------------------------------------

# `Totp.verify` makes one call into the library with plain integers: the symbol of
# `totp_check(totp_id, code, now)` itself, with a call status kept per thread (a call through the
# generated wrapper also clones the object's handle, a second call, and builds a new status).
_totp_check = _ffi._UniffiLib.uniffi_monban_fn_func_totp_check
_call_status = _threading.local()
_U32 = 0xFFFF_FFFF
_I64 = 2**63


def _status() -> Any:
    try:
        return _call_status.ref
    except AttributeError:
        status = _ffi._UniffiRustCallStatus.default()
        _call_status.status = status
        _call_status.ref = _ctypes.byref(status)
        return _call_status.ref


class Totp:
    """An authenticator secret decoded once, for checking codes in a hot path.

    `Totp(policy, secret_base32, last_step=None)` takes the secret as `totp_enrol` gives it and
    the policy's digits, step and window; `verify(code, now)` takes the code as a number and the
    time in Unix seconds. It remembers the step it accepted, so a code works once: store
    `last_step()` with the user and pass it back when you make the object again.
    """

    __slots__ = ("_inner", "_id")

    def __init__(
        self, policy: Policy, secret_base32: str, last_step: Optional[int] = None
    ) -> None:
        self._inner = _ffi.Totp(policy, secret_base32, last_step)
        self._id: int = self._inner.id()

    def verify(self, code: int, now: int) -> bool:
        """Whether `code` (the digits as a number: 012345 is 12345) is right at `now` (Unix
        seconds) within the policy's window and newer than the last step accepted. An accepted
        code's step is remembered: the same code is refused the next time."""
        if type(code) is not int or type(now) is not int:
            raise TypeError("code and now are ints")
        if not -_I64 <= now < _I64:
            raise ValueError(f"now out of range: {now}")
        if not 0 <= code <= _U32:
            return False  # no code has that many digits
        ok = _totp_check(self._id, code, now, _status())
        if _call_status.status.code:  # a panic in Rust: raise it as the generated code does
            try:
                _ffi._uniffi_check_call_status(None, _call_status.status)
            finally:
                _call_status.status.code = 0
        return bool(ok)

    def last_step(self) -> Optional[int]:
        """The step accepted last (store it with the user), if any."""
        return self._inner.last_step()

    def code_at(self, now: int) -> Optional[int]:
        """The code an authenticator app shows at `now` (Unix seconds), as a number; none
        before 1970."""
        return self._inner.code_at(now)

    def __repr__(self) -> str:
        return f"<monban.Totp last_step={self.last_step()!r}>"


# ---- Auth ---------------------------------------------------------------------------------------


class Auth:
    """The sign-in flows on one SQLite file, with a policy and a mailer.

    Open it with `Auth.open(db_path, policy, mailer)` (mail goes to your `Mailer`) or
    `Auth.open_with_outbox(db_path, policy, outbox_dir)` (one `.eml` file per mail). Use it
    from any number of threads. `close()` (or leaving a `with` block) releases the database and
    the worker threads; a closed `Auth` raises `ValueError`.
    """

    __slots__ = ("_inner",)

    def __init__(self, inner: _ffi.Auth) -> None:
        """Wraps an Auth of the generated module; use `Auth.open` instead."""
        self._inner: Optional[_ffi.Auth] = inner

    @classmethod
    def open(
        cls,
        db_path: str,
        policy: Policy,
        mailer: Mailer,
        session_key: Optional[bytes] = None,
    ) -> Auth:
        """Opens (creating and migrating) the SQLite file at `db_path`; mail goes to `mailer`.

        `session_key`: 32 or more random bytes kept across restarts. Without it the key is kept
        in `monban.key` beside the database (created, readable by its owner only), so every
        process on one database accepts the others' sessions and codes.
        """
        return cls(_ffi.Auth.open(db_path, policy, mailer, session_key))

    @classmethod
    def open_with_outbox(
        cls,
        db_path: str,
        policy: Policy,
        outbox_dir: str,
        session_key: Optional[bytes] = None,
    ) -> Auth:
        """Like `open`, with each mail written to `outbox_dir` as one `.eml` file."""
        return cls(_ffi.Auth.open_with_outbox(db_path, policy, outbox_dir, session_key))

    @property
    def _auth(self) -> _ffi.Auth:
        inner = self._inner
        if inner is None:
            raise ValueError("the Auth is closed")
        return inner

    def close(self) -> None:
        """Sends the mails that are due (those the mailer refuses stay queued in the database
        for the next `Auth` on it), then releases the database and the worker threads. Calls in
        flight finish first; later calls raise `ValueError`. Closing twice does nothing."""
        inner = self._inner
        if inner is None:
            return
        try:
            inner.deliver_pending()
        except MonbanError:
            pass  # still queued in the database: nothing is lost
        self._inner = None

    @property
    def closed(self) -> bool:
        """Whether `close()` was called."""
        return self._inner is None

    def __enter__(self) -> Auth:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._inner is None else self._auth.policy_name()
        return f"<monban.Auth {state}>"

    # ---- clock ----

    def policy_name(self) -> str:
        """The policy's name."""
        return self._auth.policy_name()

    def now(self) -> int:
        """Now as the service sees it, in Unix seconds (what `totp_code` and `Totp` take)."""
        return self._auth.now()

    def set_clock_offset(self, seconds: int) -> None:
        """Moves the service's clock `seconds` ahead (tests of expiry, lockout and dormancy);
        0 goes back to the system clock."""
        self._auth.set_clock_offset(seconds)

    # ---- login ----

    def login(self, request: LoginRequest) -> LoginStep:
        """The first step of a login: the password (or a client certificate). Answers a
        challenge for the second factor, or a session."""
        return self._auth.login(request)

    def verify_second_factor(self, challenge: str, code: str) -> Session:
        """The second step: the code from the mail or the authenticator app."""
        return self._auth.verify_second_factor(challenge, code)

    def resend_otp(self, challenge: str) -> _datetime.datetime:
        """Mails a new code, voiding the old one; answers when the new code expires."""
        return self._auth.resend_otp(challenge)

    def whoami(self, token: str) -> UserView:
        """The user the session belongs to."""
        return self._auth.whoami(token)

    def can(self, token: str, permission: Permission) -> bool:
        """Whether the session's user may do `permission`."""
        return self._auth.can(token, permission)

    def logout(self, token: str) -> None:
        """Ends this session only; the user's other sessions go on."""
        self._auth.logout(token)

    def list_sessions(self, token: str) -> List[SessionInfo]:
        """The user's live sessions, most recently used first."""
        return self._auth.list_sessions(token)

    def end_session(self, token: str, session_id: str) -> None:
        """Ends one of the user's own sessions by its ID."""
        self._auth.end_session(token, session_id)

    def end_other_sessions(self, token: str) -> int:
        """Ends every session of the user but this one; answers how many ended."""
        return self._auth.end_other_sessions(token)

    def change_password(
        self, token: str, current: Optional[str] = None, *, new: str, confirm: str
    ) -> Session:
        """Changes the password and answers a full session.

        `current` is the present password for a voluntary change; leave it out when the session
        must change the password (a temporary or expired one). `new` and `confirm` are keyword
        arguments, so a new password can never be passed where the current one goes.
        """
        return self._auth.change_password(token, current, new, confirm)

    def edit_self(self, token: str, edit: SelfEdit) -> UserView:
        """The user's edit of its own profile; absent fields stay."""
        return self._auth.edit_self(token, edit)

    def begin_totp(self, token: str) -> TotpEnrolment:
        """Starts adding an authenticator app: its secret and `otpauth://` URI."""
        return self._auth.begin_totp(token)

    def confirm_totp(self, token: str, code: str) -> None:
        """Confirms the authenticator with a code from it."""
        self._auth.confirm_totp(token, code)

    # ---- admin ----

    def admin_list_users(
        self, token: str, after: Optional[str] = None, limit: int = 100
    ) -> UserPage:
        """The admin's tenant's users, a page at a time (`after`: the previous page's `next`)."""
        return self._auth.admin_list_users(token, after, limit)

    def admin_create_user(self, token: str, user: NewUser) -> Created:
        """Creates a user; its temporary password is mailed, or returned when it has no e-mail."""
        return self._auth.admin_create_user(token, user)

    def admin_edit_user(self, token: str, user_id: str, edit: UserEdit) -> UserView:
        """Edits a user; absent fields stay."""
        return self._auth.admin_edit_user(token, user_id, edit)

    def admin_delete_user(self, token: str, user_id: str) -> None:
        """Deletes a user."""
        self._auth.admin_delete_user(token, user_id)

    def admin_reset_password(self, token: str, user_id: str) -> Optional[str]:
        """Resets a user's password: mailed, or returned when the user has no e-mail."""
        return self._auth.admin_reset_password(token, user_id)

    def admin_reset_authenticator(self, token: str, user_id: str) -> None:
        """Removes a user's authenticator app."""
        self._auth.admin_reset_authenticator(token, user_id)

    def admin_unlock(self, token: str, user_id: str) -> None:
        """Unlocks a locked user."""
        self._auth.admin_unlock(token, user_id)

    def admin_end_sessions(self, token: str, user_id: str) -> int:
        """Ends every session of a general or shipping user; answers how many ended."""
        return self._auth.admin_end_sessions(token, user_id)

    # ---- support ----

    def support_create_tenant(self, tenant: NewTenant) -> Created:
        """Creates a tenant and its admin."""
        return self._auth.support_create_tenant(tenant)

    def support_unlock(self, user: UserRef) -> None:
        """Unlocks any user."""
        self._auth.support_unlock(user)

    def support_reset_password(self, user: UserRef) -> Optional[str]:
        """Resets any user's password: mailed, or returned when the user has no e-mail."""
        return self._auth.support_reset_password(user)

    def support_change_admin_email(self, tenant: str, new_email: str) -> None:
        """Changes a tenant admin's e-mail address."""
        self._auth.support_change_admin_email(tenant, new_email)

    def support_bind_certificate(
        self, user: UserRef, certificate: ClientCert, replace: bool = False
    ) -> None:
        """Binds a client certificate to a user (`replace`: drop the ones bound before)."""
        self._auth.support_bind_certificate(user, certificate, replace)

    def support_list_users(
        self, tenant: str, after: Optional[str] = None, limit: int = 100
    ) -> UserPage:
        """A tenant's users, a page at a time."""
        return self._auth.support_list_users(tenant, after, limit)

    def audit_events(
        self, filter: Optional[AuditFilter] = None, after: Optional[str] = None, limit: int = 100
    ) -> AuditPage:
        """The audit trail, oldest first, a page at a time; `filter` narrows it."""
        return self._auth.audit_events(filter or AuditFilter(), after, limit)

    def sweep_dormant(self) -> SweepReport:
        """Deletes the users dormant for longer than the policy allows."""
        return self._auth.sweep_dormant()

    # ---- recovery ----

    def request_password_reset(self, request: ResetRequest) -> None:
        """Mails a reset link. Answers the same whether or not the user exists."""
        self._auth.request_password_reset(request)

    def open_reset_link(self, token: str) -> None:
        """Opens a reset link: mails a temporary password."""
        self._auth.open_reset_link(token)

    def identity_reset(self, claim: IdentityClaim) -> None:
        """Mails a temporary password when the identity details match the user's."""
        self._auth.identity_reset(claim)

    def forgot_login_id(self, request: ForgotLoginId) -> None:
        """Mails the login ID to the registered address."""
        self._auth.forgot_login_id(request)

    def request_password_notification(self, email: str) -> None:
        """Mails a temporary password to the users registered with `email`."""
        self._auth.request_password_notification(email)

    # ---- the outbox ---------------------------------------------------------------------------

    def deliver_pending(self) -> DeliveryReport:
        """Sends every queued mail that is due now through the mailer (and resolves queued
        recovery requests), after any round the background courier is in. When it returns,
        every mail queued before the call has been tried once."""
        return self._auth.deliver_pending()

    def outbox(
        self, state: Optional[str] = None, after: Optional[str] = None, limit: int = 100
    ) -> List[OutboxEntryView]:
        """The queued (`"pending"`) and given-up (`"failed"`) mails, oldest first, without
        content or recipient."""
        return self._auth.outbox(state, after, limit)

    def retry_delivery(self, id: str) -> OutboxEntryView:
        """Puts a failed mail back in the queue, due now; the audit records it."""
        return self._auth.retry_delivery(id)


