"""The sample app bindings/examples/fastapi_login.py, driven with FastAPI's TestClient: a mail
OTP login, the forced password change, /me, errors as JSON with their HTTP status, logout."""

import os
import sys

import pytest

import monban
from conftest import open_auth

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
import fastapi_login  # noqa: E402

TENANT = "999999999"
ACCESS_KEY = "7777777"
ADMIN_MAIL = "123@a.com"
NEW_PW = "Kuro2025neko"


def test_mail_otp_login_through_the_sample_app(tmp_path):
    mailer = fastapi_login.OutboxMailer()
    # Support creates the tenant first, with its own Auth on the same file, then closes it.
    with open_auth(tmp_path, "kuroneko", mailer) as support:
        support.support_create_tenant(monban.NewTenant(
            code=TENANT, name="黒猫堂", access_key=ACCESS_KEY,
            admin=monban.ProfileInput(name="黒猫 太郎", email=ADMIN_MAIL), welcome_mail=True))
    welcome = mailer.wait_for(ADMIN_MAIL, 1)
    temp = monban.extract_secret(welcome)

    policy = monban.Policy.preset("kuroneko").with_test_hashing()
    app = fastapi_login.create_app(os.path.join(str(tmp_path), "monban.db"), policy, mailer)
    with TestClient(app) as client:
        login = {"tenant": TENANT, "identifier": TENANT, "access_key": ACCESS_KEY}
        r = client.post("/login", json={**login, "password": "wrong-one"})
        assert r.status_code == 401, r.text
        assert r.json()["code"] == "login_failed" and "wrong-one" not in r.text

        r = client.post("/login", json={**login, "password": temp})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["method"] == "mail_otp" and body["expires_at"].endswith("+00:00")
        otp = monban.extract_secret(mailer.wait_for(ADMIN_MAIL, 2))

        r = client.post("/login/verify", json={"challenge": body["challenge"], "code": "000000"})
        assert r.status_code == 401 and r.json()["code"] == "otp_invalid"
        r = client.post("/login/verify", json={"challenge": body["challenge"], "code": otp})
        assert r.status_code == 200, r.text
        session = r.json()
        assert session["must_change_password"] == "temporary"
        auth = {"Authorization": f"Bearer {session['token']}"}

        r = client.get("/me", headers=auth)  # a change-password session may ask who it is
        assert r.status_code == 200 and r.json()["temporary_password"] is True
        r = client.post("/password", headers=auth, json={"new": "short", "confirm": "short"})
        assert r.status_code == 422 and r.json()["code"] == "password_rejected"
        r = client.post("/password", headers=auth, json={"new": NEW_PW, "confirm": NEW_PW})
        assert r.status_code == 200, r.text
        full = {"Authorization": f"Bearer {r.json()['token']}"}
        assert r.json()["must_change_password"] is None

        r = client.get("/me", headers=full)
        assert r.status_code == 200, r.text
        me = r.json()
        assert me["user_id"] == TENANT and me["role"] == "admin"
        assert me["login_method"] == "mail_otp" and me["created_at"].endswith("Z")

        assert client.post("/logout", headers=full).status_code == 204
        r = client.get("/me", headers=full)
        assert r.status_code == 401 and r.json()["code"] == "session_invalid"
