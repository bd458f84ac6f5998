"""The Kuroneko web collect manual (seed 004) through the Python bindings, with a Python Mailer."""

import pytest

import monban
from monban import MailKind
from conftest import Inbox, failure, open_auth

TENANT = "999999999"
SHOP = "黒猫堂"
ACCESS_KEY = "7777777"
ADMIN_MAIL = "123@a.com"
USER1 = "User1"
USER1_MAIL = "kuroda.nekota@example.com"
SHIP = "Soko1"
SHIP_MAIL = "soko@example.com"

ADMIN_PW = "Kuro2025neko"
ADMIN_PW_2 = "Yamato0715kuro"
USER1_PW = "Nekota2025ab"
USER1_PW_2 = "Nekota0630cd"
SHIP_PW = "Soko2025ship"

DAY = 24 * 3600


def request(user_id: str, password: str, access_key: str = ACCESS_KEY) -> monban.LoginRequest:
    return monban.LoginRequest(
        tenant=TENANT, identifier=user_id, password=password, access_key=access_key
    )


def log_in(auth: monban.Auth, inbox: Inbox, user_id: str, password: str, mail: str) -> monban.Session:
    step = auth.login(request(user_id, password))
    assert step.is_SECOND_FACTOR(), step
    assert step.challenge.method == monban.LoginMethod.MAIL_OTP
    code = inbox.secret(mail, MailKind.OTP)
    return auth.verify_second_factor(step.challenge.token, code)


def first_login(auth, inbox, user_id, temp, mail, new_password) -> monban.Session:
    s = log_in(auth, inbox, user_id, temp, mail)
    assert s.must_change_password == monban.ChangeReason.TEMPORARY
    assert s.claims.scope == monban.SessionScope.CHANGE_PASSWORD
    full = auth.change_password(s.token, new=new_password, confirm=new_password)
    assert full.must_change_password is None
    assert full.claims.scope == monban.SessionScope.FULL
    return full


def setup_tenant(auth: monban.Auth) -> None:
    created = auth.support_create_tenant(
        monban.NewTenant(
            code=TENANT,
            name=SHOP,
            logistics=True,
            access_key=ACCESS_KEY,
            admin=monban.ProfileInput(name="黒猫 太郎", email=ADMIN_MAIL),
        )
    )
    # T-3: the admin's user ID is the tenant code; no password yet (Step 1 starts with a reset).
    assert created.user == monban.UserRef(tenant=TENANT, user_id=TENANT)
    assert created.temporary_password is None


def admin_reset(auth: monban.Auth, inbox: Inbox, policy: monban.Policy) -> str:
    auth.request_password_reset(
        monban.ResetRequest(tenant=TENANT, user_id=TENANT, access_key=ACCESS_KEY)
    )
    mail = inbox.last(ADMIN_MAIL, MailKind.RESET_STARTED)
    assert "パスワード初期化開始のご連絡" in mail.subject
    url = monban.extract_secret(mail)
    assert url and url.startswith(policy.reset_base_url())
    token = url[len(policy.reset_base_url()):]
    auth.open_reset_link(token)
    with pytest.raises(monban.MonbanError) as e:
        auth.open_reset_link(token)  # RS-1: once only
    assert failure(e) == "reset_link_invalid"
    return inbox.secret(ADMIN_MAIL, MailKind.TEMPORARY_PASSWORD)


@pytest.fixture
def kuroneko(tmp_path, inbox):
    auth = open_auth(tmp_path, "kuroneko", inbox)
    policy = monban.Policy.preset("kuroneko")
    setup_tenant(auth)
    temp = admin_reset(auth, inbox, policy)
    admin = first_login(auth, inbox, TENANT, temp, ADMIN_MAIL, ADMIN_PW)
    return auth, admin


def test_step0_to_step3_the_manual(tmp_path, inbox):
    auth = open_auth(tmp_path, "kuroneko", inbox)
    assert auth.policy_name() == "kuroneko"
    policy = monban.Policy.preset("kuroneko")

    # Step 0: support registers the tenant and its admin.
    setup_tenant(auth)
    with pytest.raises(monban.MonbanError) as e:
        setup_tenant(auth)
    assert failure(e) == "tenant_exists"

    # Step 1: reset link -> temporary password -> OTP -> forced change.
    temp = admin_reset(auth, inbox, policy)
    s = log_in(auth, inbox, TENANT, temp, ADMIN_MAIL)
    assert s.must_change_password == monban.ChangeReason.TEMPORARY
    with pytest.raises(monban.MonbanError) as e:
        auth.admin_list_users(s.token)
    assert failure(e) == "password_change_required"
    with pytest.raises(monban.MonbanError) as e:
        auth.change_password(s.token, new=ADMIN_PW, confirm=ADMIN_PW + "x")  # PW-2
    assert failure(e) == "password_mismatch"
    with pytest.raises(monban.MonbanError) as e:
        auth.change_password(s.token, new="short", confirm="short")  # PW-1
    assert failure(e) == "password_rejected"
    assert monban.PasswordProblem.TOO_SHORT(min=8) in e.value.problems
    admin = auth.change_password(s.token, new=ADMIN_PW, confirm=ADMIN_PW)
    assert admin.must_change_password is None
    assert auth.can(admin.token, monban.Permission.CREATE_USER)
    assert not auth.can(admin.token, monban.Permission.BUSINESS_MENUS)

    # Step 2: the admin logs in again; a resend voids the first code (L-3, L-4).
    step = auth.login(request(TENANT, ADMIN_PW))
    first = inbox.secret(ADMIN_MAIL, MailKind.OTP)
    auth.resend_otp(step.challenge.token)
    second = inbox.secret(ADMIN_MAIL, MailKind.OTP)
    if first != second:
        with pytest.raises(monban.MonbanError) as e:
            auth.verify_second_factor(step.challenge.token, first)
        assert failure(e) == "otp_invalid"
    admin = auth.verify_second_factor(step.challenge.token, f"  {second} ")  # M-3: trimmed

    created = auth.admin_create_user(
        admin.token,
        monban.NewUser(
            user_id=USER1,
            role=monban.Role.GENERAL,
            profile=monban.ProfileInput(name="黒田 猫太", email=USER1_MAIL),
        ),
    )
    assert created.user.user_id == USER1 and created.temporary_password is None
    welcome = inbox.last(USER1_MAIL, MailKind.USER_REGISTERED)
    assert "新規ユーザ登録のご連絡" in welcome.subject
    auth.admin_create_user(
        admin.token,
        monban.NewUser(
            user_id=SHIP,
            role=monban.Role.SHIPPING,
            profile=monban.ProfileInput(name="倉庫 一郎", email=SHIP_MAIL),
        ),
    )
    users = auth.admin_list_users(admin.token, limit=10)
    assert {u.user_id for u in users.items} >= {TENANT, USER1, SHIP}

    # Step 3: User1's first login; the shipping user sees the shipping menus only.
    user1 = first_login(
        auth, inbox, USER1, inbox.secret(USER1_MAIL, MailKind.USER_REGISTERED), USER1_MAIL, USER1_PW
    )
    assert auth.can(user1.token, monban.Permission.BUSINESS_MENUS)
    assert not auth.can(user1.token, monban.Permission.CREATE_USER)
    me = auth.whoami(user1.token)
    assert (me.user_id, me.role, me.email) == (USER1, monban.Role.GENERAL, USER1_MAIL)
    ship = first_login(
        auth, inbox, SHIP, inbox.secret(SHIP_MAIL, MailKind.USER_REGISTERED), SHIP_MAIL, SHIP_PW
    )
    assert auth.can(ship.token, monban.Permission.SHIPPING_MENUS)
    assert not auth.can(ship.token, monban.Permission.BUSINESS_MENUS)

    # Voluntary change: the current password is checked, then the old one is refused (PW-5).
    with pytest.raises(monban.MonbanError) as e:
        auth.change_password(user1.token, "wrong-pass1", new=USER1_PW_2, confirm=USER1_PW_2)
    assert failure(e) == "current_password_wrong"
    user1 = auth.change_password(user1.token, USER1_PW, new=USER1_PW_2, confirm=USER1_PW_2)
    with pytest.raises(monban.MonbanError) as e:
        auth.whoami(admin.token + "x")
    assert failure(e) == "session_invalid"
    auth.logout(ship.token)
    with pytest.raises(monban.MonbanError) as e:
        auth.whoami(ship.token)
    assert failure(e) == "session_invalid"


def test_every_wrong_input_is_login_failed_and_five_lock(kuroneko, inbox):
    auth, admin = kuroneko
    auth.admin_create_user(
        admin.token,
        monban.NewUser(
            user_id=USER1,
            role=monban.Role.GENERAL,
            profile=monban.ProfileInput(name="黒田 猫太", email=USER1_MAIL),
        ),
    )
    temp = inbox.secret(USER1_MAIL, MailKind.USER_REGISTERED)
    first_login(auth, inbox, USER1, temp, USER1_MAIL, USER1_PW)

    # L-5: whichever field is wrong, the same code and message.
    messages = set()
    for req in [
        request(USER1, "Wrong2025ab"),
        request("Nobody", USER1_PW),
        request(USER1, USER1_PW, access_key="1234567"),
    ]:
        with pytest.raises(monban.MonbanError) as e:
            auth.login(req)
        assert failure(e) == "login_failed"
        assert e.value.message_ja == "ログインに失敗しました。入力内容を確認してください。"
        messages.add(e.value.message_en)
    assert len(messages) == 1

    for _ in range(3):
        with pytest.raises(monban.MonbanError):
            auth.login(request(USER1, "Wrong2025ab"))
    with pytest.raises(monban.MonbanError) as e:
        auth.login(request(USER1, USER1_PW))
    assert failure(e) == "locked"
    view = [u for u in auth.admin_list_users(admin.token).items if u.user_id == USER1][0]
    assert view.locked and view.failures >= 5

    auth.admin_unlock(admin.token, USER1)
    s = log_in(auth, inbox, USER1, USER1_PW, USER1_MAIL)
    assert s.must_change_password is None

    # The audit trail saw it all.
    page = auth.audit_events(monban.AuditFilter(tenant=TENANT, kind="locked"))
    assert [e.subject for e in page.items] == [USER1]
    failed = auth.audit_events(monban.AuditFilter(tenant=TENANT, kind="login_failed"), limit=100)
    assert len(failed.items) >= 5 and not failed.items[0].success
    assert failed.items[0].error_code == "login_failed"
    with pytest.raises(monban.MonbanError) as e:
        auth.audit_events(monban.AuditFilter(kind="no_such_kind"))
    assert failure(e) == "invalid_input"


def test_email_rules_same_as_admin_and_mail_otp(kuroneko, inbox):
    auth, admin = kuroneko
    with pytest.raises(monban.MonbanError) as e:  # E-1: unique e-mail
        auth.admin_create_user(
            admin.token,
            monban.NewUser(
                user_id="User2",
                role=monban.Role.GENERAL,
                profile=monban.ProfileInput(name="白井 犬子", email=ADMIN_MAIL),
            ),
        )
    assert failure(e) == "email_taken"
    with pytest.raises(monban.MonbanError) as e:  # E-6: mail OTP needs an e-mail
        auth.admin_create_user(
            admin.token,
            monban.NewUser(
                user_id="User2",
                role=monban.Role.GENERAL,
                profile=monban.ProfileInput(name="白井 犬子"),
            ),
        )
    assert failure(e) == "email_required_for_mail_otp"
    same = auth.admin_create_user(
        admin.token,
        monban.NewUser(
            user_id="Same1",
            role=monban.Role.GENERAL,
            same_as_admin=True,
            profile=monban.ProfileInput(name="黒猫 太郎", email=ADMIN_MAIL),
        ),
    )
    assert same.user.user_id == "Same1"
    with pytest.raises(monban.MonbanError) as e:  # E-2: one same-as-admin user per tenant
        auth.admin_create_user(
            admin.token,
            monban.NewUser(
                user_id="Same2",
                role=monban.Role.GENERAL,
                same_as_admin=True,
                profile=monban.ProfileInput(name="黒猫 太郎", email=ADMIN_MAIL),
            ),
        )
    assert failure(e) == "same_as_admin_taken"
    edited = auth.admin_edit_user(admin.token, "Same1", monban.UserEdit(phone="090-1234-5678"))
    assert edited.phone == "090-1234-5678"
    auth.admin_delete_user(admin.token, "Same1")
    with pytest.raises(monban.MonbanError) as e:
        auth.admin_delete_user(admin.token, "Same1")
    assert failure(e) == "not_found"


def test_totp_enrolment_at_first_login(kuroneko, inbox):
    auth, admin = kuroneko
    policy = monban.Policy.preset("kuroneko")
    auth.admin_create_user(
        admin.token,
        monban.NewUser(
            user_id="Totp1",
            role=monban.Role.GENERAL,
            login_method=monban.LoginMethod.TOTP,
            profile=monban.ProfileInput(name="時田 刻", email="toki@example.com"),
        ),
    )
    temp = inbox.secret("toki@example.com", MailKind.USER_REGISTERED)
    step = auth.login(request("Totp1", temp))
    assert step.is_SECOND_FACTOR()
    assert step.challenge.method == monban.LoginMethod.TOTP
    enrolment = step.challenge.enrolment
    assert enrolment is not None and enrolment.uri.startswith("otpauth://totp/")
    right = monban.totp_code(policy, enrolment.secret_base32, auth.now())
    wrong = "%06d" % ((int(right) + 500000) % 1000000)
    with pytest.raises(monban.MonbanError) as e:
        auth.verify_second_factor(step.challenge.token, wrong)
    assert failure(e) == "otp_invalid"
    step = auth.login(request("Totp1", temp))
    code = monban.totp_code(policy, step.challenge.enrolment.secret_base32, auth.now())
    s = auth.verify_second_factor(step.challenge.token, code)
    assert s.must_change_password == monban.ChangeReason.TEMPORARY
    full = auth.change_password(s.token, new="Tokei2025ab", confirm="Tokei2025ab")
    assert auth.whoami(full.token).totp_enrolled
    auth.admin_reset_authenticator(admin.token, "Totp1")
    assert not [u for u in auth.admin_list_users(admin.token).items if u.user_id == "Totp1"][0].totp_enrolled


def test_support_operations_and_the_dormancy_sweep(kuroneko, inbox):
    auth, admin = kuroneko
    auth.admin_create_user(
        admin.token,
        monban.NewUser(
            user_id="Sleepy",
            role=monban.Role.GENERAL,
            profile=monban.ProfileInput(name="眠田 寝子", email="sleepy@example.com"),
        ),
    )
    page = auth.support_list_users(TENANT)
    assert {u.user_id for u in page.items} == {TENANT, "Sleepy"}
    temp = auth.support_reset_password(monban.UserRef(tenant=TENANT, user_id="Sleepy"))
    assert temp is None  # mailed
    assert inbox.secret("sleepy@example.com", MailKind.TEMPORARY_PASSWORD)
    auth.support_unlock(monban.UserRef(tenant=TENANT, user_id=TENANT))
    auth.support_change_admin_email(TENANT, "kuro@example.com")
    assert auth.whoami(admin.token).email == "kuro@example.com"

    # LC-1: 92 days later the user who never logged in is deleted; the admin never is.
    auth.set_clock_offset(92 * DAY)
    report = auth.sweep_dormant()
    assert report.scanned >= 2
    assert monban.UserRef(tenant=TENANT, user_id="Sleepy") in report.deleted
    assert monban.UserRef(tenant=TENANT, user_id=TENANT) not in report.deleted
    auth.set_clock_offset(0)


def test_a_failing_python_mailer_leaves_the_mail_queued_and_nothing_fails(tmp_path, inbox):
    # M-4: the request succeeds; the mail waits in the outbox with the error and goes out
    # once the mailer works again.
    auth = open_auth(tmp_path, "kuroneko", inbox)
    setup_tenant(auth)
    auth.deliver_pending()  # the earlier mails are out: only the next one waits
    inbox.fail = True
    auth.request_password_reset(
        monban.ResetRequest(tenant=TENANT, user_id=TENANT, access_key=ACCESS_KEY)
    )
    report = auth.deliver_pending()  # after the background courier's round, if it came first
    assert report.sent == 0
    [queued] = auth.outbox(state="pending")
    assert queued.attempts >= 1
    assert queued.kind == "reset_started"
    assert "smtp down" in (queued.last_error or "")
    assert ADMIN_MAIL not in repr(queued)
    inbox.fail = False
    auth.retry_delivery(queued.id)
    assert inbox.last(ADMIN_MAIL, MailKind.RESET_STARTED).id == queued.id
    assert auth.outbox() == []


def test_unknown_user_reset_answers_like_a_known_one(tmp_path, inbox):
    auth = open_auth(tmp_path, "kuroneko", inbox)
    setup_tenant(auth)
    auth.request_password_reset(
        monban.ResetRequest(tenant=TENANT, user_id="Nobody", access_key=ACCESS_KEY)
    )  # RS-3: no error, no mail
    assert inbox.mails == []


def test_outbox_mailer(tmp_path):
    import os

    policy = monban.Policy.preset("kuroneko").with_test_hashing()
    outbox = os.path.join(str(tmp_path), "outbox")
    auth = monban.Auth.open_with_outbox(os.path.join(str(tmp_path), "m.db"), policy, outbox)
    setup_tenant(auth)
    auth.request_password_reset(
        monban.ResetRequest(tenant=TENANT, user_id=TENANT, access_key=ACCESS_KEY)
    )
    auth.deliver_pending()
    files = [f for f in os.listdir(outbox) if f.endswith(".eml")]
    assert len(files) == 1 and "reset_started" in files[0]


def test_two_processes_on_one_database_share_the_session_key(kuroneko, tmp_path, inbox):
    # Without a session_key, the key lives in monban.key beside the database (as for
    # `monban serve`), so a second Auth on the file accepts the first one's sessions and codes.
    auth, admin = kuroneko
    key_file = tmp_path / "monban.key"
    assert key_file.exists()
    assert key_file.stat().st_mode & 0o077 == 0, oct(key_file.stat().st_mode)
    other = open_auth(tmp_path, "kuroneko", inbox)
    assert other.whoami(admin.token).user_id == TENANT
    step = auth.login(request(TENANT, ADMIN_PW))
    code = inbox.secret(ADMIN_MAIL, MailKind.OTP)
    session = other.verify_second_factor(step.challenge.token, code)
    assert auth.whoami(session.token).user_id == TENANT


def test_sessions_are_listed_and_ended_one_by_one(kuroneko, inbox):
    # SPEC: S-1, S-4
    auth, admin = kuroneko
    second = log_in(auth, inbox, TENANT, ADMIN_PW, ADMIN_MAIL)
    third = log_in(auth, inbox, TENANT, ADMIN_PW, ADMIN_MAIL)
    assert len({admin.token, second.token, third.token}) == 3
    listed = auth.list_sessions(second.token)
    assert {s.id for s in listed} == {
        admin.claims.session_id,
        second.claims.session_id,
        third.claims.session_id,
    }
    mine = [s for s in listed if s.current]
    assert [s.id for s in mine] == [second.claims.session_id]
    assert mine[0].factors == [monban.Factor.PASSWORD, monban.Factor.MAIL_OTP]

    # Logout ends that session only.
    auth.logout(third.token)
    with pytest.raises(monban.MonbanError) as e:
        auth.whoami(third.token)
    assert failure(e) == "session_invalid"
    assert auth.whoami(second.token).user_id == TENANT

    # One by ID, then every other one.
    auth.end_session(second.token, admin.claims.session_id)
    with pytest.raises(monban.MonbanError) as e:
        auth.whoami(admin.token)
    assert failure(e) == "session_invalid"
    with pytest.raises(monban.MonbanError) as e:
        auth.end_session(second.token, admin.claims.session_id)
    assert failure(e) == "session_not_found"
    fourth = log_in(auth, inbox, TENANT, ADMIN_PW, ADMIN_MAIL)
    assert auth.end_other_sessions(second.token) == 1
    with pytest.raises(monban.MonbanError) as e:
        auth.whoami(fourth.token)
    assert failure(e) == "session_invalid"
    assert [s.id for s in auth.list_sessions(second.token)] == [second.claims.session_id]


def test_records_holding_secrets_print_them_redacted(kuroneko, inbox):
    # SPEC: K-1 — no secret in a repr or str; the other fields stay readable.
    auth, admin = kuroneko
    req = request(TENANT, "Kuro2025neko-secret")
    for shown in (repr(req), str(req)):
        assert "Kuro2025neko-secret" not in shown
        assert ACCESS_KEY not in shown
        assert "[redacted]" in shown
        assert TENANT in shown
    for shown in (repr(admin), str(admin)):
        assert admin.token not in shown
        assert "[redacted]" in shown
        assert admin.claims.session_id in shown
    step = auth.login(request(TENANT, ADMIN_PW))
    assert step.challenge.token not in repr(step.challenge)
    assert "MAIL_OTP" in repr(step.challenge) or "MailOtp" in repr(step.challenge)
    mail = inbox.last(ADMIN_MAIL, MailKind.OTP)
    code = inbox.secret(ADMIN_MAIL, MailKind.OTP)
    assert code not in repr(mail) and code not in str(mail)
    assert ADMIN_MAIL in repr(mail)
    # A record without secrets shows everything.
    me = auth.whoami(admin.token)
    assert ADMIN_MAIL in repr(me) and TENANT in str(me)
