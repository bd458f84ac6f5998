"""Identity reset and forgot login ID (seed 002's account service) through the bindings."""

import pytest

import monban
from monban import MailKind
from conftest import failure, open_auth

TENANT = "accounts"
DESK = "desk@accounts.example"
TARO = "taro@example.jp"
TARO_ID = "123456789"
PW = "Quiet-Lantern-42"


@pytest.fixture
def accounts(tmp_path, inbox):
    auth = open_auth(tmp_path, "identity_reset", inbox)
    auth.support_create_tenant(
        monban.NewTenant(
            code=TENANT,
            name="Account service",
            admin=monban.ProfileInput(name="Service Desk", email=DESK),
            welcome_mail=True,
        )
    )
    temp = inbox.secret(DESK, MailKind.USER_REGISTERED)
    step = auth.login(monban.LoginRequest(identifier=TENANT, password=temp))
    s = auth.verify_second_factor(step.challenge.token, inbox.secret(DESK, MailKind.OTP))
    desk = auth.change_password(s.token, new=PW, confirm=PW)
    auth.admin_create_user(
        desk.token,
        monban.NewUser(
            user_id=TARO_ID,
            role=monban.Role.GENERAL,
            profile=monban.ProfileInput(
                name="Taro\u3000Koku",
                email=TARO,
                phone="03-1234-5678",
                kind=monban.AccountKind.INDIVIDUAL,
            ),
        ),
    )
    return auth, desk


def test_identity_reset_mails_a_temporary_password(accounts, inbox):
    auth, _ = accounts
    before = len(inbox.mails)
    # Width, case and spacing of the name and the phone's punctuation do not matter (P-5).
    auth.identity_reset(
        monban.IdentityClaim(login_id=TARO_ID, name="taro koku", phone="0312345678", email=TARO)
    )
    assert len(inbox.mails) == before + 1
    temp = inbox.secret(TARO, MailKind.TEMPORARY_PASSWORD)
    step = auth.login(monban.LoginRequest(identifier=TARO_ID, password=temp))
    s = auth.verify_second_factor(step.challenge.token, inbox.secret(TARO, MailKind.OTP))
    assert s.must_change_password == monban.ChangeReason.TEMPORARY


def test_identity_reset_with_a_wrong_claim_sends_nothing(accounts, inbox):
    auth, _ = accounts
    before = len(inbox.mails)
    auth.identity_reset(
        monban.IdentityClaim(login_id=TARO_ID, name="Jiro Koku", phone="0312345678", email=TARO)
    )
    assert len(inbox.mails) == before


def test_forgot_login_id(accounts, inbox):
    auth, _ = accounts
    auth.forgot_login_id(monban.ForgotLoginId(email=TARO, name="Taro Koku", phone="03-1234-5678"))
    mail = inbox.last(TARO, MailKind.LOGIN_ID_NOTICE)
    assert monban.extract_login_id(mail) == TARO_ID
    assert monban.extract_secret(mail) is None


def test_link_reset_is_off_in_this_policy(accounts):
    auth, _ = accounts
    with pytest.raises(monban.MonbanError) as e:
        auth.request_password_reset(monban.ResetRequest(user_id=TARO_ID))
    assert failure(e) == "not_enabled"
