// The Kotlin test program of the bindings: a Kotlin Mailer captures the mails; the Kuroneko
// admin is created, logs in with the mailed temporary password and one-time code (mail OTP),
// changes the password, logs in again; wrong codes and passwords throw the exception class of
// their stable code;
// a TOTP user enrols and signs in with a code computed from the enrolment secret.
// Exits with status 1 on the first failed check.
package monban.test

import uniffi.monban.*
import java.nio.file.Files
import kotlin.system.exitProcess
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking

class Inbox : Mailer {
    val mails = java.util.Collections.synchronizedList(mutableListOf<MailMessage>())
    // The Auth whose courier delivers here: reading first lets it deliver what is queued.
    var auth: Auth? = null
    override fun send(mail: MailMessage) {
        mails.add(mail)
    }
    fun secret(to: String, kind: MailKind): String {
        auth?.deliverPending()
        return mails.lastOrNull { it.to == to && it.kind == kind }?.let { extractSecret(it) }
            ?: throw AssertionError("no $kind mail with a secret to $to")
    }
}

var checks = 0

fun check(ok: Boolean, what: String) {
    if (!ok) {
        System.err.println("FAIL: $what")
        exitProcess(1)
    }
    checks++
    println("ok: $what")
}

// The exception a call throws (one class per stable code), or null when it succeeds.
fun failure(block: () -> Unit): MonbanException? =
    try {
        block()
        null
    } catch (e: MonbanException) {
        e
    }

const val TENANT = "999999999"
const val KEY = "7777777"
const val ADMIN_MAIL = "123@a.com"

fun req(id: String, pw: String) =
    LoginRequest(tenant = TENANT, identifier = id, password = pw, accessKey = KEY)

fun main() {
    val dir = Files.createTempDirectory("monban-kotlin")
    val policy = Policy.preset("kuroneko").withTestHashing()
    val inbox = Inbox()
    val auth = Auth.open(dir.resolve("monban.db").toString(), policy, inbox)
    inbox.auth = auth

    check(checkPassword(policy, "Kuro2025neko").isEmpty(), "a good password has no problems")
    check(
        checkPassword(policy, "abc").contains(PasswordProblem.TooShort(8uL)),
        "a short password is too_short (min 8)",
    )

    auth.supportCreateTenant(
        NewTenant(
            code = TENANT, name = "黒猫堂", accessKey = KEY, welcomeMail = true,
            admin = ProfileInput(name = "黒猫 太郎", email = ADMIN_MAIL),
        ),
    )
    val temp = inbox.secret(ADMIN_MAIL, MailKind.USER_REGISTERED)
    check(temp.isNotEmpty(), "the welcome mail holds a temporary password")

    // Mail OTP: a wrong code is otp_invalid, the mailed one signs in.
    var step = auth.login(req(TENANT, temp))
    check(step is LoginStep.SecondFactor, "the first factor asks for a second one")
    var challenge = (step as LoginStep.SecondFactor).challenge
    check(challenge.method == LoginMethod.MAIL_OTP, "by mail OTP")
    val otp = inbox.secret(ADMIN_MAIL, MailKind.OTP)
    val wrong = ((otp.toInt() + 1) % 1_000_000).toString().padStart(6, '0')
    check(failure { auth.verifySecondFactor(challenge.token, wrong) } is MonbanException.OtpInvalid, "a wrong code is OtpInvalid")
    var session = auth.verifySecondFactor(challenge.token, otp)
    check(session.mustChangePassword == ChangeReason.TEMPORARY, "a temporary password forces a change")
    check(
        failure { auth.adminListUsers(session.token) } is MonbanException.PasswordChangeRequired,
        "nothing else before the change",
    )
    val rejected = failure {
        auth.changePassword(session.token, current = null, new = "abc", confirm = "abc")
    }
    check(
        rejected is MonbanException.PasswordRejected &&
            rejected.code == "password_rejected" && !rejected.retryable &&
            rejected.problems.contains(PasswordProblem.TooShort(8uL)),
        "a short new password is PasswordRejected, with TooShort(min = 8) among its problems",
    )
    session = auth.changePassword(
        session.token, current = null, new = "Kuro2025neko", confirm = "Kuro2025neko",
    )
    check(session.mustChangePassword == null, "a full session after the change")
    check(auth.whoami(session.token).userId == TENANT, "whoami is the admin")

    // Log in again with the new password; L-5 for a wrong one.
    val failed = failure { auth.login(req(TENANT, "Wrong2025ab")) }
    check(
        failed is MonbanException.LoginFailed && failed.code == "login_failed" &&
            failed.messageEn.isNotEmpty() && !failed.message.contains("Wrong2025ab"),
        "a wrong password is LoginFailed, without the password in its message",
    )
    step = auth.login(req(TENANT, "Kuro2025neko"))
    challenge = (step as LoginStep.SecondFactor).challenge
    val admin = auth.verifySecondFactor(challenge.token, inbox.secret(ADMIN_MAIL, MailKind.OTP))
    check(auth.can(admin.token, Permission.CREATE_USER), "the admin may create users")

    // TOTP: enrolment at the first login, the code computed as the app would.
    auth.adminCreateUser(
        admin.token,
        NewUser(
            userId = "Totp1", role = Role.GENERAL, loginMethod = LoginMethod.TOTP,
            profile = ProfileInput(name = "時田 刻", email = "toki@example.com"),
        ),
    )
    val t = inbox.secret("toki@example.com", MailKind.USER_REGISTERED)
    val c = (auth.login(req("Totp1", t)) as LoginStep.SecondFactor).challenge
    val enrol = c.enrolment ?: throw AssertionError("an enrolment")
    check(enrol.uri.startsWith("otpauth://totp/"), "an otpauth URI")
    val totp = totpCode(policy, enrol.secretBase32, auth.now())
    check(totpVerify(policy, enrol.secretBase32, totp, auth.now(), null) != null, "the engine accepts the code")
    val s = auth.verifySecondFactor(c.token, totp)
    check(s.claims.userId == "Totp1", "the TOTP user is signed in")

    val events = auth.auditEvents(AuditFilter(tenant = TENANT, kind = "otp_failed"), null, 100u)
    check(events.items.isNotEmpty(), "the audit trail has the failed code")

    suspendApi(auth, inbox)
    auth.close()
    policy.close()
    println("kotlin: $checks checks passed")
}

// The same flows as suspend functions (AsyncAuth), all on runBlocking's one thread: two wrong
// logins at once, each LoginFailed, while a ticker coroutine on that thread keeps running;
// then a mail OTP login and whoami.
fun suspendApi(blocking: Auth, inbox: Inbox) = runBlocking {
    val auth = AsyncAuth(blocking)
    var ticks = 0
    var running = true
    val ticker = launch {
        while (running) {
            delay(1)
            ticks++
        }
    }
    val wrong = listOf("Wrong2025cd", "Wrong2025ef").map { pw ->
        async {
            try {
                auth.login(req(TENANT, pw))
                null
            } catch (e: MonbanException) {
                e
            }
        }
    }.awaitAll()
    check(wrong.all { it is MonbanException.LoginFailed }, "suspend logins throw LoginFailed")
    val step = auth.login(req(TENANT, "Kuro2025neko"))
    val challenge = (step as LoginStep.SecondFactor).challenge
    val session = auth.verifySecondFactor(challenge.token, inbox.secret(ADMIN_MAIL, MailKind.OTP))
    check(auth.whoami(session.token).userId == TENANT, "suspend whoami is the admin")
    running = false
    ticker.join()
    check(ticks > 0, "the coroutine thread kept running other coroutines ($ticks ticks)")
    auth.close()
}
