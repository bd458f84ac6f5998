"""The pure engine functions and the error type."""

import json
import os
import re
import subprocess
import sys
import time

import pytest

import monban
from conftest import failure

KURONEKO = monban.Policy.preset("kuroneko")
NIST = monban.Policy.preset("nist")
P = monban.PasswordProblem


def test_presets_and_json():
    assert set(monban.policy_presets()) >= {"kuroneko", "nist", "e_parcel", "pci_dss"}
    assert KURONEKO.name() == "kuroneko"
    doc = KURONEKO.to_json()
    assert json.loads(doc)["name"] == "kuroneko"
    again = monban.Policy.from_json(doc)
    assert again.to_json() == doc
    with pytest.raises(monban.MonbanError) as e:
        monban.Policy.preset("nope")
    assert failure(e) == "policy_invalid"
    with pytest.raises(monban.MonbanError) as e:
        monban.Policy.from_json("{")
    assert failure(e) == "policy_invalid"
    broken = json.loads(doc)
    broken["password"]["min_len"] = 50  # longer than max_len
    with pytest.raises(monban.MonbanError) as e:
        monban.Policy.from_json(json.dumps(broken))
    assert failure(e) == "policy_invalid"
    assert KURONEKO.can(monban.Role.ADMIN, monban.Permission.CREATE_USER)
    assert not KURONEKO.can(monban.Role.SHIPPING, monban.Permission.BUSINESS_MENUS)


def test_check_password_lists_every_reason():
    assert monban.check_password(KURONEKO, "Kuro2025neko") == []
    found = monban.check_password(KURONEKO, "パス")
    assert P.TOO_SHORT(min=8) in found
    assert P.CHARACTER_NOT_ALLOWED() in found
    assert P.COMMON() in monban.check_password(KURONEKO, "password")
    assert P.SAME_AS_USER_ID() in monban.check_password(NIST, "Nekota2025", user_id="nekota2025")
    pci = monban.Policy.preset("pci_dss")
    missing = monban.check_password(pci, "ABCDEFGHIJKL")
    assert any(p.is_MISSING_CLASS() for p in missing), missing


def test_check_new_password_errors():
    monban.check_new_password(KURONEKO, "Kuro2025neko", "Kuro2025neko")
    with pytest.raises(monban.MonbanError) as e:
        monban.check_new_password(KURONEKO, "Kuro2025neko", "Kuro2025nekoX")
    assert failure(e) == "password_mismatch"
    with pytest.raises(monban.MonbanError) as e:
        monban.check_new_password(KURONEKO, "abc", "abc")
    assert failure(e) == "password_rejected"
    err = e.value
    assert P.TOO_SHORT(min=8) in err.problems
    assert err.message_ja and err.message_en and not err.retryable
    assert "password_rejected" in str(err)


def test_hash_and_verify():
    fast = KURONEKO.with_test_hashing()
    phc = monban.hash_password(fast, "Kuro2025neko")
    assert phc.startswith("$argon2id$")
    assert monban.verify_password(fast, "Kuro2025neko", phc)
    assert not monban.verify_password(fast, "Kuro2025nekx", phc)
    assert not monban.verify_password(fast, "Kuro2025neko", "not a phc")
    assert monban.hash_password(fast, "Kuro2025neko") != phc  # fresh salt


def test_real_hashing_parameters():
    phc = monban.hash_password(NIST, "correct horse battery")
    assert "m=19456" in phc or "m=" in phc
    assert monban.verify_password(NIST, "correct horse battery", phc)


def test_totp_enrol_and_verify():
    t = monban.totp_enrol(KURONEKO, "999999999:User1")
    assert re.fullmatch(r"[A-Z2-7]{32}", t.secret_base32)
    assert t.uri.startswith("otpauth://totp/")
    assert f"secret={t.secret_base32}" in t.uri
    assert "digits=6" in t.uri and "period=30" in t.uri
    now = int(time.time())
    code = monban.totp_code(KURONEKO, t.secret_base32, now)
    step = monban.totp_verify(KURONEKO, t.secret_base32, code, now)
    assert step == now // 30
    # Replay of the same step is refused; full-width digits and spaces are normalized (M-3).
    assert monban.totp_verify(KURONEKO, t.secret_base32, code, now, last_step=step) is None
    wide = " " + code.translate(str.maketrans("0123456789", "０１２３４５６７８９")) + " "
    assert monban.totp_verify(KURONEKO, t.secret_base32, wide, now) == step
    assert monban.totp_verify(KURONEKO, t.secret_base32, code, now + 3600) is None
    with pytest.raises(monban.MonbanError) as e:
        monban.totp_verify(KURONEKO, "not base32!", code, now)
    assert failure(e) == "invalid_input"


def test_rfc6238_vector():
    # RFC 6238 appendix B, SHA-1, T = 59: 94287082 (8 digits) -> the last 6 digits.
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # base32 of "12345678901234567890"
    assert monban.totp_code(NIST, secret, 59) == "287082"


def test_totp_object_checks_codes_in_one_call_and_once():
    # SPEC: L-2 — the secret decoded once; a code is a plain number; a code works once.
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    totp = monban.Totp(NIST, secret)
    assert totp.last_step() is None
    assert totp.code_at(59) == 287082
    assert totp.verify(287082, 59)
    assert totp.last_step() == 1
    assert not totp.verify(287082, 59), "replayed"
    assert not totp.verify(287083, 89)
    # Made again with the stored step, the replay guard holds across objects.
    assert not monban.Totp(NIST, secret, last_step=1).verify(287082, 59)
    # Leading zeros are implied; out-of-range numbers are refused.
    t = monban.totp_enrol(NIST, "x")
    for now in range(1_800_000_000, 1_800_000_000 + 30 * 200, 30):
        code = monban.totp_code(NIST, t.secret_base32, now)
        fresh = monban.Totp(NIST, t.secret_base32)
        assert fresh.code_at(now) == int(code)
        assert fresh.verify(int(code), now)
    assert not monban.Totp(NIST, secret).verify(1_000_000, 59)
    # A number past 32 bits is no code (never cut to its low bits: 2**32 + 287082 is wrong).
    assert not monban.Totp(NIST, secret).verify(2**32 + 287082, 59)
    assert not monban.Totp(NIST, secret).verify(-1, 59)
    with pytest.raises(TypeError):
        monban.Totp(NIST, secret).verify("287082", 59)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        monban.Totp(NIST, secret).verify(287082, 2**63)
    with pytest.raises(monban.MonbanError):
        monban.Totp(NIST, "not base32!")
    assert secret not in repr(totp)


def test_totp_fast_path_answers_as_the_generated_method():
    """`monban.Totp.verify` (one call to `totp_check` by the object's id) against the generated
    `Totp.verify` method on a twin object: the same answer for right, wrong, replayed and
    neighbouring codes, from several threads at once."""
    from concurrent.futures import ThreadPoolExecutor

    from monban._ffi import monban as ffi

    secret = monban.totp_enrol(NIST, "x").secret_base32

    def run(offset: int) -> list:
        fast, slow = monban.Totp(NIST, secret), ffi.Totp(NIST, secret, None)
        answers = []
        for i in range(300):
            now = 1_800_000_000 + offset * 100_000 + 7 * i
            right = fast.code_at(now)
            for code in (right, right, (right + 1) % 1_000_000, fast.code_at(now + 30),
                         fast.code_at(now - 30)):
                answers.append((fast.verify(code, now), slow.verify(code, now)))
            assert fast.last_step() == slow.last_step()
        return answers

    with ThreadPoolExecutor(4) as pool:
        for answers in pool.map(run, range(8)):
            assert all(a == b for a, b in answers)
            assert any(a for a, _ in answers) and not all(a for a, _ in answers)


def test_totp_codes_match_pyotp():
    # SPEC: L-2 — an authenticator app's codes (pyotp plays the app) are accepted.
    import pyotp  # installed by scripts/test-bindings; a missing one fails the test
    for i in range(50):
        secret = pyotp.random_base32()
        now = 1_700_000_000 + 7919 * i
        app = pyotp.TOTP(secret).at(now)
        assert monban.totp_code(NIST, secret, now) == app
        assert monban.Totp(NIST, secret).verify(int(app), now)


def owner(tenant, user_id, role, name, same=False, corp=None):
    return monban.OwnerInfo(
        user=monban.UserRef(tenant=tenant, user_id=user_id),
        role=role,
        contract_number=tenant[:7],
        name=name,
        corporate_number=corp,
        same_as_admin=same,
    )


def test_email_sharing_rules():
    A = monban.Role.ADMIN
    G = monban.Role.GENERAL
    admin1 = owner("123456701", "123456701", A, "黒猫 太郎")
    admin2 = owner("123456702", "123456702", A, "黒猫　太郎")  # same contract, same name (P-5)
    other = owner("765432101", "765432101", A, "白犬 花子")
    user = owner("123456701", "User1", G, "黒田 猫太")
    same = owner("123456701", "Same1", G, "黒猫 太郎", same=True)
    monban.check_email_share(KURONEKO, admin1, [])
    monban.check_email_share(KURONEKO, admin2, [admin1])  # E-3
    monban.check_email_share(KURONEKO, same, [admin1])  # E-2
    with pytest.raises(monban.MonbanError) as e:
        monban.check_email_share(KURONEKO, other, [admin1])
    assert failure(e) == "email_taken"
    with pytest.raises(monban.MonbanError) as e:
        monban.check_email_share(KURONEKO, user, [admin1])
    assert failure(e) == "email_taken"
    same2 = owner("123456701", "Same2", G, "黒猫 太郎", same=True)
    with pytest.raises(monban.MonbanError) as e:
        monban.check_email_share(KURONEKO, same2, [admin1, same])
    assert failure(e) == "same_as_admin_taken"


def test_normalization():
    assert monban.names_match("黒猫　太郎", "黒猫 太郎")
    assert monban.names_match("Taro Koku", "ＴＡＲＯ　ＫＯＫＵ")
    assert not monban.names_match("黒猫 太郎", "白犬 花子")
    assert monban.name_key("Taro  Koku") == monban.name_key("taro koku")
    assert monban.phones_match("03-1234-5678", "０３（１２３４）５６７８")
    assert monban.phone_key("03-1234-5678") == "0312345678"
    assert monban.email_key(" Taro@Example.JP ") == monban.email_key("taro@example.jp")
    assert monban.display_width("黒猫ab") == 6


def test_extract_secret_reads_a_mail_back():
    mail = monban.MailMessage(
        to="a@example.com",
        kind=monban.MailKind.OTP,
        lang=monban.Lang.EN,
        subject="x",
        body="nothing here",
    )
    assert monban.extract_secret(mail) is None
    assert monban.extract_login_id(mail) is None


def test_a_bad_argument_is_an_exception_not_a_crash():
    # Wrong argument types are refused on the Python side before the call.
    with pytest.raises(Exception):
        monban.check_password(KURONEKO, 12345)  # type: ignore[arg-type]
    # The process is still alive and the library still answers.
    assert monban.check_password(KURONEKO, "Kuro2025neko") == []


def test_the_package_is_typed():
    pkg = os.path.dirname(monban.__file__)
    assert os.path.exists(os.path.join(pkg, "py.typed"))
    # Inline annotations: the hand-written layer and the generated module under it.
    assert os.path.exists(os.path.join(pkg, "_ffi", "monban.py"))
    import typing

    hints = typing.get_type_hints(monban.check_password)
    assert hints["return"] == typing.List[monban.PasswordProblem]


def test_the_readme_python_example_runs_verbatim(capsys):
    readme = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1, "one Python example in bindings/README.md"
    exec(compile(blocks[0], "bindings/README.md", "exec"), {"__name__": "readme_example"})
    out = capsys.readouterr().out
    assert "999999999" in out
    assert "login_failed" in out
