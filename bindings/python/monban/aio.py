"""monban for asyncio: `monban.aio.Auth` runs each call on a worker thread.

    import monban, monban.aio
    async with monban.aio.Auth.open("app.db", policy, mailer) as auth:
        step = await auth.login(monban.LoginRequest(identifier="...", password="..."))

Every method of `monban.Auth` is here as a coroutine with the same arguments and the same
exceptions (but `policy_name`, `now` and `set_clock_offset`, which answer at once). While one
call hashes a password or waits for the database, the event loop goes on serving other tasks.
Calls run on the loop's default executor, or on the `executor` you give. A Python `Mailer` is
called on a worker thread, so it must not touch the event loop's objects.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import functools
from types import TracebackType
from typing import Callable, List, Optional, Type, TypeVar

import monban
from monban import (
    AuditFilter,
    AuditPage,
    ClientCert,
    Created,
    DeliveryReport,
    ForgotLoginId,
    IdentityClaim,
    LoginRequest,
    LoginStep,
    Mailer,
    NewTenant,
    NewUser,
    OutboxEntryView,
    Permission,
    Policy,
    ResetRequest,
    SelfEdit,
    Session,
    SessionInfo,
    SweepReport,
    TotpEnrolment,
    UserEdit,
    UserPage,
    UserRef,
    UserView,
)

T = TypeVar("T")


class Auth:
    """`monban.Auth` with coroutine methods; see the module's docstring."""

    __slots__ = ("sync", "_executor")

    def __init__(
        self, sync: monban.Auth, executor: Optional[concurrent.futures.Executor] = None
    ) -> None:
        """Wraps an open `monban.Auth`."""
        self.sync: monban.Auth = sync
        """The blocking `monban.Auth` underneath."""
        self._executor = executor

    @classmethod
    async def open(
        cls,
        db_path: str,
        policy: Policy,
        mailer: Mailer,
        session_key: Optional[bytes] = None,
        *,
        executor: Optional[concurrent.futures.Executor] = None,
    ) -> Auth:
        """`monban.Auth.open`, off the event loop."""
        sync = await _call(executor, monban.Auth.open, db_path, policy, mailer, session_key)
        return cls(sync, executor)

    @classmethod
    async def open_with_outbox(
        cls,
        db_path: str,
        policy: Policy,
        outbox_dir: str,
        session_key: Optional[bytes] = None,
        *,
        executor: Optional[concurrent.futures.Executor] = None,
    ) -> Auth:
        """`monban.Auth.open_with_outbox`, off the event loop."""
        sync = await _call(
            executor, monban.Auth.open_with_outbox, db_path, policy, outbox_dir, session_key
        )
        return cls(sync, executor)

    def close(self) -> None:
        """Closes the `monban.Auth` underneath."""
        self.sync.close()

    async def __aenter__(self) -> Auth:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<monban.aio.Auth of {self.sync!r}>"

    def policy_name(self) -> str:
        """The policy's name (answers at once, no thread needed)."""
        return self.sync.policy_name()

    def now(self) -> int:
        """Now as the service sees it, in Unix seconds (answers at once)."""
        return self.sync.now()

    def set_clock_offset(self, seconds: int) -> None:
        """Moves the service's clock `seconds` ahead (tests); 0 goes back to the system clock."""
        self.sync.set_clock_offset(seconds)

    async def login(self, request: LoginRequest) -> LoginStep:
        """The first step of a login: the password (or a client certificate). Answers a"""
        return await _call(self._executor, self.sync.login, request)

    async def verify_second_factor(self, challenge: str, code: str) -> Session:
        """The second step: the code from the mail or the authenticator app."""
        return await _call(self._executor, self.sync.verify_second_factor, challenge, code)

    async def resend_otp(self, challenge: str) -> datetime.datetime:
        """Mails a new code, voiding the old one; answers when the new code expires."""
        return await _call(self._executor, self.sync.resend_otp, challenge)

    async def whoami(self, token: str) -> UserView:
        """The user the session belongs to."""
        return await _call(self._executor, self.sync.whoami, token)

    async def can(self, token: str, permission: Permission) -> bool:
        """Whether the session's user may do `permission`."""
        return await _call(self._executor, self.sync.can, token, permission)

    async def logout(self, token: str) -> None:
        """Ends this session only; the user's other sessions go on."""
        return await _call(self._executor, self.sync.logout, token)

    async def list_sessions(self, token: str) -> List[SessionInfo]:
        """The user's live sessions, most recently used first."""
        return await _call(self._executor, self.sync.list_sessions, token)

    async def end_session(self, token: str, session_id: str) -> None:
        """Ends one of the user's own sessions by its ID."""
        return await _call(self._executor, self.sync.end_session, token, session_id)

    async def end_other_sessions(self, token: str) -> int:
        """Ends every session of the user but this one; answers how many ended."""
        return await _call(self._executor, self.sync.end_other_sessions, token)

    async def change_password(
        self, token: str, current: Optional[str] = None, *, new: str, confirm: str
    ) -> Session:
        """Changes the password and answers a full session."""
        change = functools.partial(self.sync.change_password, new=new, confirm=confirm)
        return await _call(self._executor, change, token, current)

    async def edit_self(self, token: str, edit: SelfEdit) -> UserView:
        """The user's edit of its own profile; absent fields stay."""
        return await _call(self._executor, self.sync.edit_self, token, edit)

    async def begin_totp(self, token: str) -> TotpEnrolment:
        """Starts adding an authenticator app: its secret and `otpauth://` URI."""
        return await _call(self._executor, self.sync.begin_totp, token)

    async def confirm_totp(self, token: str, code: str) -> None:
        """Confirms the authenticator with a code from it."""
        return await _call(self._executor, self.sync.confirm_totp, token, code)

    async def admin_list_users(
        self, token: str, after: Optional[str] = None, limit: int = 100
    ) -> UserPage:
        """The admin's tenant's users, a page at a time (`after`: the previous page's `next`)."""
        return await _call(self._executor, self.sync.admin_list_users, token, after, limit)

    async def admin_create_user(self, token: str, user: NewUser) -> Created:
        """Creates a user; its temporary password is mailed, or returned when it has no e-mail."""
        return await _call(self._executor, self.sync.admin_create_user, token, user)

    async def admin_edit_user(self, token: str, user_id: str, edit: UserEdit) -> UserView:
        """Edits a user; absent fields stay."""
        return await _call(self._executor, self.sync.admin_edit_user, token, user_id, edit)

    async def admin_delete_user(self, token: str, user_id: str) -> None:
        """Deletes a user."""
        return await _call(self._executor, self.sync.admin_delete_user, token, user_id)

    async def admin_reset_password(self, token: str, user_id: str) -> Optional[str]:
        """Resets a user's password: mailed, or returned when the user has no e-mail."""
        return await _call(self._executor, self.sync.admin_reset_password, token, user_id)

    async def admin_reset_authenticator(self, token: str, user_id: str) -> None:
        """Removes a user's authenticator app."""
        return await _call(self._executor, self.sync.admin_reset_authenticator, token, user_id)

    async def admin_unlock(self, token: str, user_id: str) -> None:
        """Unlocks a locked user."""
        return await _call(self._executor, self.sync.admin_unlock, token, user_id)

    async def admin_end_sessions(self, token: str, user_id: str) -> int:
        """Ends every session of a general or shipping user; answers how many ended."""
        return await _call(self._executor, self.sync.admin_end_sessions, token, user_id)

    async def support_create_tenant(self, tenant: NewTenant) -> Created:
        """Creates a tenant and its admin."""
        return await _call(self._executor, self.sync.support_create_tenant, tenant)

    async def support_unlock(self, user: UserRef) -> None:
        """Unlocks any user."""
        return await _call(self._executor, self.sync.support_unlock, user)

    async def support_reset_password(self, user: UserRef) -> Optional[str]:
        """Resets any user's password: mailed, or returned when the user has no e-mail."""
        return await _call(self._executor, self.sync.support_reset_password, user)

    async def support_change_admin_email(self, tenant: str, new_email: str) -> None:
        """Changes a tenant admin's e-mail address."""
        change = self.sync.support_change_admin_email
        return await _call(self._executor, change, tenant, new_email)

    async def support_bind_certificate(
        self, user: UserRef, certificate: ClientCert, replace: bool = False
    ) -> None:
        """Binds a client certificate to a user (`replace`: drop the ones bound before)."""
        bind = self.sync.support_bind_certificate
        return await _call(self._executor, bind, user, certificate, replace)

    async def support_list_users(
        self, tenant: str, after: Optional[str] = None, limit: int = 100
    ) -> UserPage:
        """A tenant's users, a page at a time."""
        return await _call(self._executor, self.sync.support_list_users, tenant, after, limit)

    async def audit_events(
        self, filter: Optional[AuditFilter] = None, after: Optional[str] = None, limit: int = 100
    ) -> AuditPage:
        """The audit trail, oldest first, a page at a time; `filter` narrows it."""
        return await _call(self._executor, self.sync.audit_events, filter, after, limit)

    async def sweep_dormant(self) -> SweepReport:
        """Deletes the users dormant for longer than the policy allows."""
        return await _call(self._executor, self.sync.sweep_dormant)

    async def request_password_reset(self, request: ResetRequest) -> None:
        """Mails a reset link. Answers the same whether or not the user exists."""
        return await _call(self._executor, self.sync.request_password_reset, request)

    async def open_reset_link(self, token: str) -> None:
        """Opens a reset link: mails a temporary password."""
        return await _call(self._executor, self.sync.open_reset_link, token)

    async def identity_reset(self, claim: IdentityClaim) -> None:
        """Mails a temporary password when the identity details match the user's."""
        return await _call(self._executor, self.sync.identity_reset, claim)

    async def forgot_login_id(self, request: ForgotLoginId) -> None:
        """Mails the login ID to the registered address."""
        return await _call(self._executor, self.sync.forgot_login_id, request)

    async def deliver_pending(self) -> DeliveryReport:
        """Sends the queued mails that are due now (see `monban.Auth.deliver_pending`)."""
        return await _call(self._executor, self.sync.deliver_pending)

    async def outbox(
        self, state: Optional[str] = None, after: Optional[str] = None, limit: int = 100
    ) -> List[OutboxEntryView]:
        """The queued and failed mails, without content or recipient."""
        return await _call(self._executor, self.sync.outbox, state, after, limit)

    async def retry_delivery(self, id: str) -> OutboxEntryView:
        """Puts a failed mail back in the queue, due now."""
        return await _call(self._executor, self.sync.retry_delivery, id)

    async def request_password_notification(self, email: str) -> None:
        """Mails a temporary password to the users registered with `email`."""
        return await _call(self._executor, self.sync.request_password_notification, email)


async def _call(
    executor: Optional[concurrent.futures.Executor], fn: Callable[..., T], *args: object
) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, functools.partial(fn, *args))
