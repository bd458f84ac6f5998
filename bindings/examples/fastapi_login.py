"""A FastAPI app that signs users in with monban: password, then a one-time code by mail.

    POST /login            {tenant, identifier, password, access_key} -> a challenge or a session
    POST /login/verify     {challenge, code}                          -> a session
    POST /password         {current?, new, confirm}  (Bearer token)   -> a new session
    GET  /me               (Bearer token)                             -> the user
    POST /logout           (Bearer token)

Mail goes through a Python `Mailer`; this one keeps the mails in memory (`OutboxMailer`), where
a real app would hand them to its mail service. Errors answer JSON `{code, message, field}`
with the HTTP status the HTTP API uses for that code.

Run it: `uvicorn --factory fastapi_login:app_from_env`, with MONBAN_DB (default monban.db) and
MONBAN_POLICY (default kuroneko) set. The test is bindings/tests/python/test_fastapi_example.py.
"""

from __future__ import annotations

import os
import threading
from contextlib import asynccontextmanager
from typing import AsyncGenerator, Dict, List, Optional, Union

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

import monban
import monban.aio


class OutboxMailer(monban.Mailer):
    """Keeps every mail in memory. monban calls `send` on a worker thread, hence the lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self.mails: List[monban.MailMessage] = []

    def send(self, mail: monban.MailMessage) -> None:
        with self._lock:
            self.mails.append(mail)
            self._arrived.notify_all()

    def last_to(self, address: str) -> Optional[monban.MailMessage]:
        with self._lock:
            return next((m for m in reversed(self.mails) if m.to == address), None)

    def wait_for(self, address: str, count: int, timeout: float = 10.0) -> monban.MailMessage:
        """The newest mail to `address` once `count` have arrived: monban's courier sends
        mails just after the request that queued them."""
        with self._arrived:
            arrived = self._arrived.wait_for(
                lambda: sum(m.to == address for m in self.mails) >= count, timeout
            )
            if not arrived:
                raise TimeoutError(f"{count} mails to {address} did not arrive")
            return next(m for m in reversed(self.mails) if m.to == address)


# The HTTP status of each code, as monban's own HTTP server answers (docs/errors.md).
STATUS: Dict[monban.Code, int] = {
    monban.Code.INVALID_REQUEST: 400,
    monban.Code.LOGIN_FAILED: 401,
    monban.Code.SESSION_INVALID: 401,
    monban.Code.CHALLENGE_EXPIRED: 401,
    monban.Code.OTP_INVALID: 401,
    monban.Code.FORBIDDEN: 403,
    monban.Code.SUPPORT_ONLY: 403,
    monban.Code.PASSWORD_CHANGE_REQUIRED: 403,
    monban.Code.MAIL_OTP_NOT_CONFIGURED: 403,
    monban.Code.NOT_FOUND: 404,
    monban.Code.SESSION_NOT_FOUND: 404,
    monban.Code.NOT_ENABLED: 404,
    monban.Code.RESET_LINK_INVALID: 410,
    monban.Code.LOCKED: 423,
    monban.Code.RESEND_LIMITED: 429,
    monban.Code.THROTTLED: 429,
    monban.Code.POLICY_INVALID: 500,
    monban.Code.BUSY: 503,
    monban.Code.STORE_UNAVAILABLE: 503,
    monban.Code.MAIL_FAILED: 503,
}
for _code in (
    monban.Code.EMAIL_TAKEN, monban.Code.SAME_AS_ADMIN_TAKEN, monban.Code.USER_ID_TAKEN,
    monban.Code.TENANT_EXISTS, monban.Code.CERTIFICATE_TAKEN, monban.Code.CONFLICT,
):
    STATUS[_code] = 409


class LoginBody(BaseModel):
    tenant: Optional[str] = None
    identifier: str
    password: str
    access_key: Optional[str] = None


class VerifyBody(BaseModel):
    challenge: str
    code: str


class PasswordBody(BaseModel):
    current: Optional[str] = None
    new: str
    confirm: str


class SessionOut(BaseModel):
    token: str
    must_change_password: Optional[monban.ChangeReason]  # a string enum: "temporary" in JSON
    expires_at: str


class ChallengeOut(BaseModel):
    challenge: str
    method: monban.LoginMethod  # "mail_otp" or "totp" in JSON
    expires_at: str


def session_out(session: monban.Session) -> SessionOut:
    return SessionOut(
        token=session.token,
        must_change_password=session.must_change_password,
        expires_at=session.claims.expires_at.isoformat(),
    )


def create_app(db_path: str, policy: monban.Policy, mailer: monban.Mailer) -> FastAPI:
    """The app on the SQLite file `db_path`; monban is opened at startup, closed at shutdown."""
    auth_holder: Dict[str, monban.aio.Auth] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncGenerator[None, None]:
        async with await monban.aio.Auth.open(db_path, policy, mailer) as auth:
            auth_holder["auth"] = auth
            yield

    app = FastAPI(title="monban login example", lifespan=lifespan)

    def get_auth() -> monban.aio.Auth:
        return auth_holder["auth"]

    def bearer(authorization: str = Header(default="")) -> str:
        return authorization.removeprefix("Bearer ").strip()

    @app.exception_handler(monban.MonbanError)
    async def monban_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, monban.MonbanError)
        return JSONResponse(
            status_code=STATUS.get(exc.code, 422),
            content={"code": exc.code.value, "message": exc.message, "field": exc.field},
        )

    @app.post("/login", response_model=None)
    async def login(
        body: LoginBody, auth: monban.aio.Auth = Depends(get_auth)
    ) -> Union[ChallengeOut, SessionOut]:
        step = await auth.login(
            monban.LoginRequest(
                tenant=body.tenant,
                identifier=body.identifier,
                password=body.password,
                access_key=body.access_key,
            )
        )
        if isinstance(step, monban.LoginStep.SECOND_FACTOR):
            return ChallengeOut(
                challenge=step.challenge.token,
                method=step.challenge.method,
                expires_at=step.challenge.expires_at.isoformat(),
            )
        assert isinstance(step, monban.LoginStep.SESSION)
        return session_out(step.session)

    @app.post("/login/verify")
    async def verify(body: VerifyBody, auth: monban.aio.Auth = Depends(get_auth)) -> SessionOut:
        return session_out(await auth.verify_second_factor(body.challenge, body.code))

    @app.post("/password")
    async def change_password(
        body: PasswordBody,
        token: str = Depends(bearer),
        auth: monban.aio.Auth = Depends(get_auth),
    ) -> SessionOut:
        session = await auth.change_password(
            token, body.current, new=body.new, confirm=body.confirm
        )
        return session_out(session)

    @app.get("/me")
    async def me(
        token: str = Depends(bearer), auth: monban.aio.Auth = Depends(get_auth)
    ) -> Dict[str, object]:
        return (await auth.whoami(token)).to_dict()

    @app.post("/logout", status_code=204)
    async def logout(
        token: str = Depends(bearer), auth: monban.aio.Auth = Depends(get_auth)
    ) -> None:
        await auth.logout(token)

    return app


def app_from_env() -> FastAPI:
    """The app for `uvicorn --factory fastapi_login:app_from_env`."""
    policy = monban.Policy.preset(os.environ.get("MONBAN_POLICY", "kuroneko"))
    return create_app(os.environ.get("MONBAN_DB", "monban.db"), policy, OutboxMailer())
