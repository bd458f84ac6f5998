"""The pages in a real browser (UI-1..UI-3): Debian's Chromium driven by Selenium walks the
Kuroneko manual end to end against `monban serve`, runs axe-core on every page it sees (no
serious or critical violation) and saves a screenshot of each screen into docs/screens/.

Started by scripts/test-pages, which installs Chromium, chromedriver, Selenium and axe-core.
Nothing here sleeps to wait: the browser is waited on with WebDriverWait conditions, the server
and the mail outbox are polled with a deadline.
"""

# SPEC: UI-1, UI-2, UI-3

import base64
import hmac
import json
import os
import pathlib
import socket
import struct
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = pathlib.Path(os.environ.get("MONBAN_BIN", ROOT / "target" / "debug" / "monban")).resolve()
AXE = ROOT / "tools" / "node_modules" / "axe-core" / "axe.min.js"
SCREENS = pathlib.Path(os.environ.get("MONBAN_SCREENS", ROOT / "docs" / "screens"))
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
RUNS = ROOT / "target" / "pages-runs"  # each server's database, outbox and log
WAIT = 60  # seconds: the longest any one step may take (argon2 on a busy 2-core machine)

TENANT, KEY, ADMIN_MAIL = "999999999", "7777777", "123@a.com"
ADMIN_PW = "Kuro2024neko"


def poll(what, fn, timeout=WAIT):
    """fn() until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)  # the polling interval, not a synchronisation guess


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`monban serve` with a preset in a fresh folder (database, outbox, support token)."""

    def __init__(self, preset, *extra):
        # Under target/ (scripts/test-pages empties it first), kept after a failure to read.
        RUNS.mkdir(parents=True, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix=f"{preset}-", dir=RUNS)
        self.port = free_port()
        # `localhost`: browsers accept the `__Host-` cookies (Secure) over plain HTTP there.
        self.url = f"http://localhost:{self.port}"
        self.outbox = os.path.join(self.dir, "outbox")
        self.log = open(os.path.join(self.dir, "serve.log"), "w")
        self.proc = subprocess.Popen(
            [str(BIN), "serve", "--preset", preset, "--listen", f"127.0.0.1:{self.port}",
             "--public-url", self.url, *extra],
            cwd=self.dir, stdout=self.log, stderr=subprocess.STDOUT)
        poll("the server to answer", self._up)
        with open(os.path.join(self.dir, "monban.support-token")) as f:
            self.support = f.read().strip()

    def _up(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"monban serve exited: see {self.log.name}")
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def api(self, method, path, body=None, token=None):
        req = urllib.request.Request(f"{self.url}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode())
        req.add_header("content-type", "application/json")
        if token:
            req.add_header("authorization", f"Bearer {token}")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"null")

    def mails(self, to, kind):
        out = subprocess.run([str(BIN), "mail", "list", "--outbox", self.outbox],
                             check=True, capture_output=True, text=True).stdout
        rows = [json.loads(line) for line in out.splitlines() if line.strip()]
        return sum(1 for m in rows if m["to"] == to and m["kind"] == kind)

    def mailed(self, to, kind, before):
        """What the next mail of `kind` to `to` delivers (after `before` such mails)."""
        poll(f"a {kind} mail to {to}", lambda: self.mails(to, kind) > before)
        return subprocess.run([str(BIN), "mail", "last", "--outbox", self.outbox, "--to", to,
                               "--kind", kind], check=True, capture_output=True,
                              text=True).stdout.strip()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=WAIT)
        self.log.close()


@pytest.fixture(scope="module")
def browser():
    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1000,900", "--lang=ja", "--hide-scrollbars"):
        opts.add_argument(a)
    opts.add_experimental_option("prefs", {"intl.accept_languages": "ja"})
    # The driver by path: Selenium Manager never downloads anything.
    d = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    d.set_page_load_timeout(WAIT)
    yield d
    d.quit()


@pytest.fixture(scope="module")
def axe_source():
    return AXE.read_text()


class Walk:
    """The browser on one server, with the checks every page gets."""

    def __init__(self, driver, server, axe):
        self.d, self.s, self.axe = driver, server, axe
        self.seen = []

    def open(self, path):
        self.d.get(self.s.url + path if path.startswith("/") else path)
        return self.ready()

    def ready(self):
        WebDriverWait(self.d, WAIT).until(
            lambda d: d.execute_script("return document.readyState") == "complete")
        return self

    def check(self, screen=None):
        """axe-core on the page: no serious or critical violation (UI-3); a screenshot."""
        # WebDriver's script runs outside the page's CSP (which forbids every script).
        self.d.execute_script(self.axe)
        result = self.d.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {runOnly: {type: 'tag', values: "
            "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}})"
            ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, "
            "nodes: v.nodes.map(n => n.target.join(' '))}))))"
            ".catch(e => done([{id: 'axe-error', impact: 'critical', nodes: [String(e)]}]));")
        bad = [v for v in result if v["impact"] in ("serious", "critical")]
        assert not bad, f"axe on {self.d.current_url.split('?')[0]}: {bad}"
        self.seen.append(self.d.current_url)
        if screen:
            SCREENS.mkdir(parents=True, exist_ok=True)
            # The whole page, 1000 px wide: Chromium's full-page capture (DevTools).
            shot = self.d.execute_cdp_cmd("Page.captureScreenshot",
                                          {"format": "png", "captureBeyondViewport": True})
            (SCREENS / f"{screen}.png").write_bytes(base64.b64decode(shot["data"]))
        return self

    def fill(self, **fields):
        for name, value in fields.items():
            el = self.d.find_element(By.NAME, name)
            el.clear()
            el.send_keys(value)
        return self

    def follow(self, element):
        """Clicks `element` and waits until the next page has loaded: a mark set on this page's
        window is gone (a new document has a new window) and the new one is complete. While
        the browser is between documents, WebDriver's answers are errors: they mean "not yet"."""
        self.d.execute_script("window.__monbanOldPage = true;")
        element.click()
        WebDriverWait(self.d, WAIT, ignored_exceptions=(WebDriverException,)).until(
            lambda d: d.execute_script(
                "return window.__monbanOldPage === undefined"
                " && document.readyState === 'complete';"))
        return self

    def submit(self, text=None, css=None):
        """Presses a button and waits for the next page."""
        if css:
            button = self.d.find_element(By.CSS_SELECTOR, css)
        else:
            button = self.d.find_element(
                By.XPATH, f"//main//button[normalize-space()='{text}']")
        return self.follow(button)

    def text(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css).text

    def h1(self):
        return self.text("h1")

    def field_error(self, name):
        return self.text(f"#e-{name}")

    def cookie(self, name):
        return self.d.get_cookie(name)

    def logout(self):
        return self.submit(css="header form[action='/ui/logout'] button")


def totp(secret_b32, at=None):
    """RFC 6238 (SHA-1, 6 digits, 30 s): what an authenticator app shows."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    counter = int(time.time() if at is None else at) // 30
    h = hmac.new(key, struct.pack(">Q", counter), "sha1").digest()
    o = h[-1] & 15
    return "%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7FFFFFFF) % 1_000_000)


def login(w, tenant, user, password, otp_to, screens=False, resend=False):
    """Kuroneko login: merchant code, user ID, password, access key from the URL, mail OTP
    (or, for a user whose admin chose the authenticator app, its enrolment with a QR code)."""
    w.open(f"/ui/login?key={KEY}").check("login" if screens else None)
    before = w.s.mails(otp_to, "otp")
    w.fill(tenant=tenant, identifier=user, password=password).submit("ログイン")
    if w.h1() == "認証アプリの登録":
        assert w.d.find_element(By.CSS_SELECTOR, ".qr svg")
        w.check("totp-enrol")
        w.fill(code=totp(w.text("#totp-secret"))).submit("進む")
        return
    assert w.h1() == "ワンタイムパスワード入力", w.d.page_source[:2000]
    code = w.s.mailed(otp_to, "otp", before)
    if resend:
        w.check("otp")
        # 「ワンタイムパスワードを再送信」: a new code, the old one is dead.
        before = w.s.mails(otp_to, "otp")
        w.submit("ワンタイムパスワードを再送信")
        assert "再送信しました" in w.text(".notice")
        new = w.s.mailed(otp_to, "otp", before)
        w.fill(code=code).submit("進む")
        assert w.field_error("code"), "the replaced code must be refused next to its field"
        w.check("otp-error")
        code = new
    else:
        w.check()
    w.fill(code=code).submit("進む")


def test_the_kuroneko_manual_in_a_browser(browser, axe_source):
    s = Server("kuroneko")
    try:
        w = Walk(browser, s, axe_source)
        # Support creates the merchant and its admin (the operator's side: the API).
        s.api("POST", "/support/tenants", {
            "code": TENANT, "name": "黒猫堂", "access_key": KEY, "logistics": True,
            "admin": {"name": "黒猫太郎", "email": ADMIN_MAIL}}, token=s.support)

        # 1. 「パスワードを忘れた場合はこちら」 → merchant code and user ID → 「初期化依頼」.
        w.open(f"/ui/login?key={KEY}").check()
        link = w.d.find_element(By.LINK_TEXT, "パスワードを忘れた場合はこちら")
        assert link.get_attribute("href").endswith("/ui/reset")
        w.open(f"/ui/reset?key={KEY}").check("reset-request")
        before = s.mails(ADMIN_MAIL, "reset_started")
        w.fill(tenant=TENANT, user_id=TENANT).submit("初期化依頼").check("reset-accepted")
        url = s.mailed(ADMIN_MAIL, "reset_started", before)

        # 2. The mailed link: a confirmation page; its button mails the temporary password.
        w.open(url).check("reset-link")
        before = s.mails(ADMIN_MAIL, "temporary_password")
        w.submit("仮パスワードを発行する").check("reset-link-done")
        temp = s.mailed(ADMIN_MAIL, "temporary_password", before)
        # 「ログイン画面へ」
        w.follow(w.d.find_element(By.LINK_TEXT, "ログイン画面へ"))

        # 3. Login with the temporary password and the mailed code, with a resend.
        login(w, TENANT, TENANT, temp, ADMIN_MAIL, screens=True, resend=True)

        # UI-2: the session is a __Host- cookie, HttpOnly, Secure, SameSite=Lax.
        c = w.cookie("__Host-monban-session")
        assert c and c["httpOnly"] and c["secure"] and c.get("sameSite") == "Lax", c
        assert c["path"] == "/" and "domain" not in c or not c["domain"].startswith(".")

        # 4. The forced change shows the rules; a mismatch is shown next to its field.
        assert w.h1() == "パスワード変更"
        assert w.d.find_elements(By.CSS_SELECTOR, "#rules li")
        w.check("password-forced")
        w.fill(new=ADMIN_PW, confirm=ADMIN_PW + "x").submit("確定")
        assert w.field_error("confirm")
        w.check("password-error")
        w.fill(new=ADMIN_PW, confirm=ADMIN_PW).submit("確定")

        # 5. The admin's user list: new → confirm → done, for a general and a shipping user.
        assert w.h1() == "ユーザー一覧"
        w.check("admin-users-empty")
        users = [("clerk01", "general", "山田花子", "clerk@example.com"),
                 ("ship01", "shipping", "佐藤次郎", "ship@example.com")]
        temps = {}
        for i, (uid, role, name, mail) in enumerate(users):
            w.open("/ui/admin/users")
            w.follow(w.d.find_element(By.ID, "new-user"))
            w.check("admin-new" if i == 0 else None)
            w.d.find_element(By.CSS_SELECTOR, f"input[name=role][value={role}]").click()
            if role == "shipping":
                # 外部アプリケーション方式: enrolled with a QR code at the first login.
                w.d.find_element(By.CSS_SELECTOR, "input[name=login_method][value=totp]").click()
            w.fill(user_id=uid, name=name, email=mail)
            if i == 1:
                # The seed's error next to its field: an address another user has.
                w.fill(email="clerk@example.com").submit("確認")
                w.submit("登録")
                assert "既に別のユーザに設定されています" in w.field_error("email")
                w.check("admin-new-error")
                w.fill(email=mail)
            w.submit("確認")
            assert w.h1() == "登録内容の確認"
            w.check("admin-confirm" if i == 0 else None)
            before = s.mails(mail, "user_registered")
            w.submit("登録")
            assert w.h1() == "登録完了"
            w.check("admin-done" if i == 0 else None)
            temps[uid] = s.mailed(mail, "user_registered", before)
        w.open("/ui/admin/users").check("admin-users")
        assert "clerk01" in w.text("#users") and "ship01" in w.text("#users")
        w.logout()
        assert w.cookie("__Host-monban-session") is None

        # 6. Their first login: temporary password, mail OTP, forced change, their page.
        for uid, _, _, mail in users:
            login(w, TENANT, uid, temps[uid], mail)
            assert w.h1() == "パスワード変更"
            w.check()
            w.fill(new="Neko2024kuro", confirm="Neko2024kuro").submit("確定")
            assert w.h1() == "ユーザ設定"
            assert w.text("#user-id") == uid
            w.check("home" if uid == "clerk01" else None)
            if uid == "clerk01":
                w.open("/ui/password").check("password-change")
            w.logout()

        # 7. Wrong passwords lock the account; the right one then says so (L-6).
        for _ in range(5):
            w.open(f"/ui/login?key={KEY}")
            w.fill(tenant=TENANT, identifier="clerk01", password="Wrong2024pw").submit("ログイン")
            assert w.text("#e-form")
        w.check("login-failed")
        w.open(f"/ui/login?key={KEY}")
        w.fill(tenant=TENANT, identifier="clerk01", password="Neko2024kuro").submit("ログイン")
        assert "ロック" in w.text("#e-form"), w.text("#e-form")
        w.check("login-locked")

        # 8. The admin unlocks it: user list → 「編集」 → 「解除」.
        login(w, TENANT, TENANT, ADMIN_PW, ADMIN_MAIL)
        assert w.h1() == "ユーザー一覧"
        assert "ロック中" in w.text("#users")
        w.check("admin-users-locked")
        w.follow(w.d.find_element(By.CSS_SELECTOR, "a[href='/ui/admin/users/clerk01']"))
        w.check("admin-edit")
        # 「解除」, then 「確認」 (the manual's confirmation).
        w.submit(css="#unlock")
        assert "ロックを解除します" in w.text("#message")
        w.check("admin-unlock-confirm")
        w.submit(css="#confirm")
        assert w.text("#done") == "ロックを解除しました。"
        w.check("admin-unlocked")
        w.logout()
        login(w, TENANT, "clerk01", "Neko2024kuro", "clerk@example.com")
        assert w.h1() == "ユーザ設定"

        # English: the switch in the header.
        w.d.find_element(By.CSS_SELECTOR, "#lang-switch option[value=en]").click()
        w.submit(css="header form.lang button")
        assert w.h1() == "User settings"
        w.check("home-en")
        w.logout()
        w.check("login-en")
        w.d.find_element(By.CSS_SELECTOR, "#lang-switch option[value=ja]").click()
        w.submit(css="header form.lang button")
        assert w.h1() == "ログイン"
    finally:
        s.stop()


def test_identity_reset_and_forgot_login_id(browser, axe_source):
    s = Server("identity_reset")
    try:
        w = Walk(browser, s, axe_source)
        w.open("/ui/login").check("login-login-id")
        w.open("/ui/reset/identity").check("identity-reset")
        w.fill(login_id="12345678", name="黒猫 太郎", phone="03-1234-5678",
               email="nobody@example.com").submit("送信")
        # RS-4: the same answer whether or not anything matched.
        assert "受け付けました" in w.text("#message")
        w.check("identity-accepted")
        w.open("/ui/forgot-login-id").check("forgot-login-id")
        w.fill(email="nobody@example.com")
        for name in ("name", "phone"):
            if w.d.find_elements(By.NAME, name):
                w.fill(**{name: "黒猫 太郎" if name == "name" else "03-1234-5678"})
        w.submit("送信")
        assert "受け付けました" in w.text("#message")
        w.check("forgot-login-id-accepted")
    finally:
        s.stop()


def test_e_parcel_notification_page(browser, axe_source):
    s = Server("e_parcel", "--trust-cert-header")
    try:
        w = Walk(browser, s, axe_source)
        w.open("/ui/login").check("login-e-parcel")
        w.open("/ui/password-notification").check("password-notification")
        w.fill(email="nobody@example.com").submit("送信")
        assert "受け付けました" in w.text("#message")
        w.check()
        # SPEC: L-8 — the certificate alone logs in where Password Protect is off.
        fingerprint = "ab" * 32
        s.api("POST", "/support/tenants", {
            "code": "eparcel", "name": "e-Parcel", "welcome_mail": True,
            "admin": {"name": "Taro", "family_name": "Yamada", "email": "ep@example.com"}},
            token=s.support)
        s.api("POST", "/support/tenants/eparcel/users/eparcel/certificates",
              {"certificate": {"sha256": fingerprint}}, token=s.support)
        browser.execute_cdp_cmd("Network.enable", {})
        browser.execute_cdp_cmd("Network.setExtraHTTPHeaders",
                                {"headers": {"X-Client-Cert-Sha256": fingerprint}})
        try:
            w.open("/ui/login")
            assert not w.d.find_elements(By.NAME, "identifier")
            w.check("login-e-parcel-certificate")
            w.submit("ログイン")
            # The welcome mail's temporary password is still to be replaced (PW-3).
            assert w.h1() == "パスワード変更", w.text("main")
            w.check()
            w.logout()
        finally:
            browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})
    finally:
        s.stop()


def test_secom_login_with_a_client_certificate_header(browser, axe_source):
    # SPEC: L-8 — behind --trust-cert-header the TLS terminator's fingerprint names the user;
    # the page then asks only for the access key and the password.
    s = Server("secom_passport", "--trust-cert-header")
    fingerprint = "0f" * 32
    try:
        s.api("POST", "/support/tenants", {
            "code": "secom1", "name": "SECOM", "access_key": "12345678", "welcome_mail": True,
            "admin": {"name": "担当者", "email": "tanto@example.com"}}, token=s.support)
        s.api("POST", "/support/tenants/secom1/users/secom1/certificates",
              {"certificate": {"sha256": fingerprint}}, token=s.support)
        temp = s.mailed("tanto@example.com", "user_registered", 0)
        w = Walk(browser, s, axe_source)
        # What the TLS terminator would add to every request of this browser.
        browser.execute_cdp_cmd("Network.enable", {})
        browser.execute_cdp_cmd("Network.setExtraHTTPHeaders",
                                {"headers": {"X-Client-Cert-Sha256": fingerprint}})
        try:
            w.open("/ui/login")
            assert not w.d.find_elements(By.NAME, "identifier")
            w.check("login-certificate")
            w.fill(access_key="12345678", password=temp).submit("ログイン")
            assert w.h1() == "パスワード変更", w.text("main")
            w.check()
            w.fill(new="Secom2024pass", confirm="Secom2024pass").submit("確定")
            assert w.h1() in ("ユーザー一覧", "ユーザ設定"), w.text("main")
            w.check()
            w.logout()
        finally:
            browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})
        # Without the certificate the same form fields are not enough (L-5: one answer).
        w.open("/ui/login")
        assert w.d.find_elements(By.NAME, "identifier")
    finally:
        s.stop()


def test_the_api_reference_renders_from_the_binary(browser):
    # Issue 14 item 5: /docs renders /openapi.json with the vendored Redoc, under its own CSP
    # (no eval), and nothing is fetched from elsewhere: Redoc's one outside picture (its logo)
    # is blocked by that CSP. Redoc is third-party: axe is not asked.
    s = Server("kuroneko")
    script = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": (
        "window.__blocked = [];"
        "document.addEventListener('securitypolicyviolation',"
        " e => window.__blocked.push(e.blockedURI));")})
    try:
        browser.get(s.url + "/docs")
        WebDriverWait(browser, WAIT).until(
            lambda d: d.execute_script(
                "const h = document.querySelector('h1'); return h && h.textContent;"))
        title = browser.execute_script("return document.querySelector('h1').textContent")
        assert "monban" in title.lower(), title
        # Every operation of the document is listed, e.g. the login.
        WebDriverWait(browser, WAIT).until(
            lambda d: "/login" in d.execute_script("return document.body.innerText"))
        here = s.url.split("//", 1)[1]
        foreign = browser.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
            f".filter(n => new URL(n).host !== '{here}')")
        blocked = browser.execute_script("return window.__blocked")
        assert all(f in blocked for f in foreign), (foreign, blocked)
        if SCREENS:
            SCREENS.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(SCREENS / "api-reference.png"))
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument",
                                {"identifier": script["identifier"]})
        s.stop()
