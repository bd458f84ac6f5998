"""The Python layer: one exception class per code, enums from the HTTP API's strings, datetimes,
records as dicts, `Auth` as a context manager, docstrings in plain words, and asyncio."""

import asyncio
import datetime
import enum
import gc
import inspect
import json
import os
import re
import time
import weakref

import pytest

import monban
import monban.aio
from monban._ffi import monban as _ffi
from conftest import Inbox, open_auth

TENANT = "999999999"
ACCESS_KEY = "7777777"
ADMIN_MAIL = "123@a.com"
DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "docs", "errors.md")
# Codes only the HTTP server answers (routing, limits); the library never raises them.
HTTP_ONLY = {
    "unauthorized", "route_not_found", "method_not_allowed", "request_timeout",
    "payload_too_large", "internal",
}


def new_tenant() -> monban.NewTenant:
    return monban.NewTenant(
        code=TENANT, name="黒猫堂", access_key=ACCESS_KEY,
        admin=monban.ProfileInput(name="黒猫 太郎", email=ADMIN_MAIL), welcome_mail=True,
    )


def wrong_login(password: str = "wrong-password") -> monban.LoginRequest:
    return monban.LoginRequest(
        tenant=TENANT, identifier=TENANT, password=password, access_key=ACCESS_KEY
    )


# ---- errors -----------------------------------------------------------------------------------


def test_every_documented_code_has_its_class():
    with open(DOCS, encoding="utf-8") as f:
        table = f.read().split("<!-- generated:statuses -->")[1].split("<!-- /generated -->")[0]
    documented = set(re.findall(r"`([a-z_]+)`", table)) - HTTP_ONLY
    assert documented == {c.value for c in monban.Code}
    for code in monban.Code:
        cls = monban._errors.ERRORS[code]
        assert issubclass(cls, monban.MonbanError) and cls is not monban.MonbanError
        assert cls.code is code and cls.__module__ == "monban"
        assert getattr(monban, cls.__name__) is cls
    assert monban.Code("login_failed") is monban.Code.LOGIN_FAILED
    assert str(monban.Code.LOCKED) == "locked" and monban.Code.LOCKED == "locked"


def test_a_failed_login_raises_login_failed_and_five_lock(tmp_path, inbox):
    with open_auth(tmp_path, "kuroneko", inbox) as auth:
        auth.support_create_tenant(new_tenant())
        for i in range(5):
            with pytest.raises(monban.LoginFailed) as e:
                auth.login(wrong_login(f"secret-{i}-pw"))
            err = e.value
            assert err.code is monban.Code.LOGIN_FAILED
            assert not err.retryable and err.field is None and err.problems == []
            assert err.message and err.message_ja and err.message_en == err.message
            assert str(err) == f"login_failed: {err.message}"
            assert "secret-" not in repr(err) and "secret-" not in str(err)
        temp = inbox.secret(ADMIN_MAIL, monban.MailKind.USER_REGISTERED)
        with pytest.raises(monban.Locked) as e:  # even the right password, now
            auth.login(wrong_login(temp))
        assert e.value.code == "locked" and not e.value.retryable
        with pytest.raises(monban.MonbanError):  # the base class catches every code
            auth.login(wrong_login())


def test_fields_problems_and_retryable(tmp_path, inbox):
    policy = monban.Policy.preset("kuroneko")
    with pytest.raises(monban.PasswordRejected) as e:
        monban.check_new_password(policy, "short", "short")
    too_short = [p for p in e.value.problems if p.is_TOO_SHORT()]
    assert too_short and too_short[0].min == 8
    assert "TOO_SHORT(min=8)" in repr(e.value.problems)
    assert "short" not in e.value.message
    with pytest.raises(monban.PasswordMismatch):
        monban.check_new_password(policy, "Kuro2025neko", "Kuro2025nekx")
    problems = monban.check_password(policy, "abc")
    assert repr(problems[0]) == "PasswordProblem.TOO_SHORT(min=8)"
    with open_auth(tmp_path, "kuroneko", inbox) as auth:
        auth.support_create_tenant(new_tenant())
        with pytest.raises(monban.TenantExists) as e:
            auth.support_create_tenant(new_tenant())
        assert not e.value.retryable
        with pytest.raises(monban.InvalidInput) as e:
            auth.support_change_admin_email(TENANT, "not an address")
        assert e.value.field == "email" and not e.value.retryable
        with pytest.raises(monban.SessionInvalid):
            auth.whoami("not-a-token")
        # A mail server that fails fails no call: the mail waits in the queue (M-4).
        auth.deliver_pending()  # the earlier mails are out: only the next one waits
        inbox.fail = True
        auth.request_password_reset(
            monban.ResetRequest(tenant=TENANT, user_id=TENANT, access_key=ACCESS_KEY)
        )
        auth.deliver_pending()  # after the background courier's round, if it came first
        [queued] = auth.outbox(state="pending")
        assert queued.attempts >= 1 and queued.last_error
        assert queued.queued_at.tzinfo is not None


# ---- enums, times, records --------------------------------------------------------------------


def string_enums():
    """Every enum class the package exposes, by name."""
    return {
        name: obj for name, obj in vars(monban).items()
        if isinstance(obj, type) and issubclass(obj, enum.Enum)
    }


def test_every_enum_is_a_string_enum_with_the_rust_strings():
    """Each enum's values are the HTTP API's strings as the Rust library gives them (the core's
    serde names), member for member, in order; `Code` holds the library's error codes."""
    enums = string_enums()
    wire = _ffi.wire_names()
    assert set(enums) == set(wire) | {"Code"}
    for name, cls in enums.items():
        assert issubclass(cls, enum.StrEnum), name
    for name, strings in wire.items():
        assert [m.value for m in enums[name]] == strings, name
    assert sorted(m.value for m in monban.Code) == sorted(_ffi.error_codes())


def test_enums_take_and_give_the_http_api_strings():
    assert monban.Role.GENERAL.value == "general" and monban.Role.GENERAL == "general"
    assert monban.Role("general") is monban.Role.GENERAL
    assert monban.LoginMethod("mail_otp") is monban.LoginMethod.MAIL_OTP
    assert monban.Permission("reset_user_password") is monban.Permission.RESET_USER_PASSWORD
    assert str(monban.SessionScope.CHANGE_PASSWORD) == "change_password"
    assert f"{monban.Lang.JA}" == "ja"
    assert json.dumps({"role": monban.Role.ADMIN}) == '{"role": "admin"}'
    for bad in ("root", "GENERAL", "General"):
        with pytest.raises(ValueError):
            monban.Role(bad)


def test_every_enum_member_round_trips_through_the_library():
    """Each member goes to Rust and back as itself (the generated converters), and Rust reads it
    as the variant of the same name: a record holding it prints (Rust's `Debug`) that variant."""
    for name in _ffi.wire_names():
        cls = getattr(monban, name)
        converter = getattr(_ffi, f"_UniffiFfiConverterType{name}")
        for member in cls:
            assert converter.lift(converter.lower(member)) is member, member
            assert converter.lift(converter.lower(member.value)) is member, member  # a plain str

    def rust_name(member):  # MAIL_OTP -> MailOtp, as Rust's Debug writes the variant
        return "".join(w.capitalize() for w in member.name.split("_"))

    user = monban.UserRef(tenant="t", user_id="u")
    claims = dict(tenant="t", user_id="u", session_id="s", role=monban.Role.ADMIN,
                  credential_version=1, scope=monban.SessionScope.FULL,
                  issued_at=datetime.datetime.now(datetime.timezone.utc),
                  expires_at=datetime.datetime.now(datetime.timezone.utc))
    holders = {
        monban.Role: lambda m: monban.OwnerInfo(user=user, role=m, contract_number="1",
                                                name="n"),
        monban.LoginMethod: lambda m: monban.SelfEdit(login_method=m),
        monban.AccountKind: lambda m: monban.ProfileInput(name="n", kind=m),
        monban.Lang: lambda m: monban.ProfileInput(name="n", lang=m),
        monban.MailKind: lambda m: monban.MailMessage(to="a@b.c", kind=m, lang=monban.Lang.EN,
                                                      subject="s", body="b"),
        monban.ChangeReason: lambda m: monban.Session(
            token="t", claims=monban.SessionClaims(**claims), must_change_password=m),
        monban.SessionScope: lambda m: monban.SessionClaims(**{**claims, "scope": m}),
        monban.Factor: lambda m: monban.SessionInfo(
            id="s", current=True, factors=[m], scope=monban.SessionScope.FULL,
            started_at=claims["issued_at"], last_used_at=claims["issued_at"],
            ends_at=claims["issued_at"]),
    }
    for cls, holder in holders.items():
        for member in cls:
            shown = repr(holder(member))
            assert re.search(rf"\b{rust_name(member)}\b", shown), (member, shown)
            assert repr(holder(member.value)) == shown  # the HTTP string works as well
    # The other two: every CharClass comes back from Rust in check_password's problems, and
    # `can` takes every Permission (an admin may list users, a general user may not).
    doc = json.loads(monban.Policy.preset("nist").to_json())
    doc["password"]["required_classes"] = [c.value for c in monban.CharClass]
    policy = monban.Policy.from_json(json.dumps(doc))
    missing = {p._class for p in monban.check_password(policy, "\u00e9\u00e9\u00e9\u00e9")
               if isinstance(p, monban.PasswordProblem.MISSING_CLASS)}
    assert missing == set(monban.CharClass)
    assert all(type(c) is monban.CharClass for c in missing)


def test_times_are_aware_datetimes_and_records_become_dicts(tmp_path, inbox):
    with open_auth(tmp_path, "kuroneko", inbox) as auth:
        before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        auth.support_create_tenant(new_tenant())
        temp = inbox.secret(ADMIN_MAIL, monban.MailKind.USER_REGISTERED)
        step = auth.login(
            monban.LoginRequest(tenant=TENANT, identifier=TENANT, password=temp,
                                access_key=ACCESS_KEY)
        )
        assert isinstance(step, monban.LoginStep.SECOND_FACTOR)
        challenge = step.challenge
        assert challenge.expires_at.tzinfo == datetime.timezone.utc
        assert challenge.expires_at > before
        assert isinstance(auth.resend_otp(challenge.token), datetime.datetime)
        code = inbox.secret(ADMIN_MAIL, monban.MailKind.OTP)
        session = auth.verify_second_factor(challenge.token, code)
        claims = session.claims
        assert before - datetime.timedelta(seconds=2) <= claims.issued_at < claims.expires_at
        assert "T" in repr(claims) and "Z" in repr(claims)  # RFC 3339 in repr
        assert code not in repr(step) and session.token not in repr(step) + repr(session)

        user = auth.whoami(session.token)
        d = user.to_dict()
        assert d["role"] == "admin" and d["login_method"] == "mail_otp"
        assert type(d["role"]) is str and json.loads(json.dumps(d, default=str))["role"] == "admin"
        assert monban.to_dict(user) == d  # the module function is the same
        assert d["user_id"] == TENANT and isinstance(d["created_at"], datetime.datetime)
        assert user == auth.whoami(session.token)  # records compare by value
        s = session.to_dict()
        assert s["claims"]["scope"] == "change_password"
        assert s["must_change_password"] == "temporary"
        assert s["token"] == "[redacted]" and session.token not in str(s)
        assert session.to_dict(secrets=True)["token"] == session.token
        d = step.to_dict()
        assert d["kind"] == "second_factor"
        c = d["challenge"]
        assert c["token"] == "[redacted]" and c["method"] == "mail_otp"
        assert challenge.token not in repr(d) + str(step) + repr(step)


def records():
    """Every record class the package exposes, by name."""
    return {
        name: obj for name, obj in vars(monban).items()
        if isinstance(obj, type) and issubclass(obj, _ffi._MonbanRecord)
    }


def test_every_record_has_to_dict_repr_and_eq():
    found = records()
    assert {"UserView", "Session", "DeliveryReport", "OutboxEntryView"} <= set(found)
    for name, cls in found.items():
        assert "to_dict" in dir(cls) and cls.__repr__ is not object.__repr__, name
        assert "__repr__" in vars(cls), f"{name}: repr() is Rust's Debug"
    a = monban.UserRef(tenant="t", user_id="u")
    assert a == monban.UserRef(tenant="t", user_id="u") and a != monban.UserRef(tenant="t", user_id="v")
    assert a != "not a record" and a != monban.ClientCert()  # another type: unequal, no error
    report = monban.DeliveryReport(sent=1, resolved=0, retried=2, failed=0)
    assert repr(report) == "DeliveryReport { sent: 1, resolved: 0, retried: 2, failed: 0 }"
    assert report.to_dict() == {"sent": 1, "resolved": 0, "retried": 2, "failed": 0}
    problem = monban.PasswordProblem.TOO_SHORT(min=8)
    assert problem.to_dict() == {"kind": "too_short", "min": 8}
    assert monban.PasswordProblem.MISSING_CLASS(monban.CharClass.DIGIT).to_dict() == {
        "kind": "missing_class", "class": "digit"}


# Field names that hold a secret when they hold a string (a tenant `code` is no secret).
SECRETISH = re.compile(r"password|token|secret|access_key|^body$|^uri$")


def test_every_secret_field_is_redacted_in_repr_str_and_to_dict():
    """The Rust library names the secret fields; every string field that looks like a secret is
    among them, and a secret shows in no repr(), str() or to_dict() (but with secrets=True)."""
    for name, cls in records().items():
        for param in inspect.signature(cls.__init__).parameters.values():
            if SECRETISH.search(param.name) and "str" in str(param.annotation):
                assert param.name in monban.SECRET_FIELDS.get(name, ()), f"{name}.{param.name}"
    profile = monban.ProfileInput(name="n")
    samples = {
        "MailMessage": monban.MailMessage(to="a@b.c", kind=monban.MailKind.OTP,
                                          lang=monban.Lang.EN, subject="s", body="SECRET"),
        "LoginRequest": monban.LoginRequest(identifier="u", password="SECRET",
                                            access_key="SECRET"),
        "TotpSecret": monban.TotpSecret(secret_base32="SECRET", uri="SECRET"),
        "TotpEnrolment": monban.TotpEnrolment(secret_base32="SECRET", uri="SECRET"),
        "ResetRequest": monban.ResetRequest(user_id="u", access_key="SECRET"),
        "Created": monban.Created(user=monban.UserRef(tenant="t", user_id="u"),
                                  temporary_password="SECRET"),
        "NewTenant": monban.NewTenant(code="c", name="n", access_key="SECRET", admin=profile),
        "Session": monban.Session(
            token="SECRET", must_change_password=None,
            claims=monban.SessionClaims(
                tenant="t", user_id="u", session_id="s", role=monban.Role.ADMIN,
                credential_version=1, scope=monban.SessionScope.FULL,
                issued_at=datetime.datetime.now(datetime.timezone.utc),
                expires_at=datetime.datetime.now(datetime.timezone.utc))),
        "Challenge": monban.Challenge(
            token="SECRET", method=monban.LoginMethod.TOTP,
            expires_at=datetime.datetime.now(datetime.timezone.utc),
            enrolment=monban.TotpEnrolment(secret_base32="SECRET", uri="SECRET")),
    }
    assert set(samples) == set(monban.SECRET_FIELDS)
    wrapped = [monban.LoginStep.SESSION(samples["Session"]),
               monban.LoginStep.SECOND_FACTOR(samples["Challenge"])]
    for name, record in [*samples.items(), *((type(w).__qualname__, w) for w in wrapped)]:
        for shown in (repr(record), str(record), repr(record.to_dict()), str(monban.to_dict(record))):
            assert "SECRET" not in shown, (name, shown)
            assert "[redacted]" in shown, (name, shown)
        if name in monban.SECRET_FIELDS:
            d = record.to_dict()
            assert {k for k, v in d.items() if v == "[redacted]"} == monban.SECRET_FIELDS[name]
        assert "SECRET" in str(record.to_dict(secrets=True)), name
    absent = monban.LoginRequest(identifier="u").to_dict()
    assert absent["password"] is None  # an absent secret stays None
    with pytest.raises(TypeError):
        monban.to_dict("not a record")


# ---- Auth as a resource -----------------------------------------------------------------------


def test_auth_closes_and_works_as_a_context_manager(tmp_path, inbox):
    auth = open_auth(tmp_path, "kuroneko", inbox)
    assert not auth.closed and "kuroneko" in repr(auth)
    with auth as same:
        assert same is auth
        auth.support_create_tenant(new_tenant())
    assert auth.closed and "closed" in repr(auth)
    with pytest.raises(ValueError, match="closed"):
        auth.login(wrong_login())
    auth.close()  # twice is fine
    # The Rust side let go of everything: the mailer it held is freed.
    mailer = Inbox()
    gone = weakref.ref(mailer)
    open_auth(tmp_path, "kuroneko", mailer).close()
    del mailer
    gc.collect()
    assert gone() is None
    # Another Auth opens the same file and finds the tenant stored.
    with open_auth(tmp_path, "kuroneko", inbox) as again:
        with pytest.raises(monban.TenantExists):
            again.support_create_tenant(new_tenant())


def test_version_and_docstrings_in_plain_words():
    assert monban.__version__ == "0.1.0"
    spec_id = re.compile(r"\b[A-Z]{1,2}-\d")
    for obj in [monban, monban.aio, monban.Auth, monban.aio.Auth, monban.MonbanError]:
        assert obj.__doc__ and not spec_id.search(obj.__doc__), obj
    for name, member in vars(monban.Auth).items():
        if callable(member) and not name.startswith("_"):
            doc = member.__doc__
            assert doc and not spec_id.search(doc), name


# ---- asyncio ----------------------------------------------------------------------------------


def test_aio_logins_leave_the_event_loop_free(tmp_path, inbox):
    """Four logins with the real password hashing run while a ticker task keeps ticking every
    5 ms; the same four logins called directly in a coroutine stall the loop."""
    # Real argon2id, made slower (t_cost 16) so that each login takes a while even here.
    doc = json.loads(monban.Policy.preset("kuroneko").to_json())
    doc["password"]["hash"]["t_cost"] = 16
    policy = monban.Policy.from_json(json.dumps(doc))
    db = os.path.join(str(tmp_path), "monban.db")

    async def ticking(work):
        gaps = []

        async def ticker(stop):
            last = time.perf_counter()
            while not stop.is_set():
                await asyncio.sleep(0.005)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        stop = asyncio.Event()
        task = asyncio.create_task(ticker(stop))
        await asyncio.sleep(0.02)
        started = time.perf_counter()
        await work()
        took = time.perf_counter() - started
        stop.set()
        await task
        return took, max(gaps), len(gaps)

    async def main():
        async with await monban.aio.Auth.open(db, policy, inbox) as auth:
            await auth.support_create_tenant(new_tenant())

            async def aio_logins():
                results = await asyncio.gather(
                    *(auth.login(wrong_login(f"pw-{i}-wrong")) for i in range(4)),
                    return_exceptions=True,
                )
                assert all(isinstance(r, monban.LoginFailed) for r in results), results

            async def blocking_logins():
                auth.sync.support_unlock(monban.UserRef(tenant=TENANT, user_id=TENANT))
                for i in range(4):
                    with pytest.raises(monban.LoginFailed):
                        auth.sync.login(wrong_login(f"pw-{i}-wrong"))

            aio = await ticking(aio_logins)
            blocking = await ticking(blocking_logins)
            return aio, blocking

    (aio_took, aio_gap, aio_ticks), (sync_took, sync_gap, _) = asyncio.run(main())
    print(f"aio: 4 logins {aio_took * 1000:.0f} ms, {aio_ticks} ticks, longest gap "
          f"{aio_gap * 1000:.1f} ms; blocking: {sync_took * 1000:.0f} ms, longest gap "
          f"{sync_gap * 1000:.1f} ms")
    assert sync_gap >= sync_took * 0.9  # the blocking calls stall the loop the whole time
    # Relative, not absolute: on a loaded machine the OS may pause the loop's thread for a
    # while, but never for the whole of the logins as the blocking calls do.
    assert aio_gap < sync_gap / 3
    assert aio_ticks >= 10
