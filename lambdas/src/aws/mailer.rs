//! [`SesMailer`]: every mail is one SES v2 `SendEmail` call with simple content — a UTF-8
//! subject and a UTF-8 plain-text body — from the configured sender, optionally through a
//! configuration set (for SES event publishing: bounces, complaints, deliveries).
//!
//! A mail body holds the one secret it delivers (an OTP, a temporary password, a reset link), so
//! it never appears in an error or a log line: a failure is described by the SES error code and
//! the HTTP status only, and the one log line per mail names its kind and the recipient's domain.
//!
//! Every failure is a [`MailError`]: the courier keeps the mail queued with it and tries again
//! later (M-4). The SDK has already
//! retried throttling (`TooManyRequestsException`), 5xx answers and transport errors with
//! backoff by then (its standard retry mode); the message says which kind of failure it was.

use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::{ProvideErrorMetadata as _, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use monban_core::mail::Mail;
use monban_core::ports::{MailError, Mailer};

/// The charset of every subject and body.
pub const CHARSET: &str = "UTF-8";

/// A [`Mailer`] over Amazon SES v2.
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: Client,
    from: String,
    configuration_set: Option<String>,
}

impl SesMailer {
    /// Sends through `client` from `from` (an address or `Name <address>` of a verified SES
    /// identity), through `configuration_set` when given (an empty name counts as none).
    pub fn new(client: Client, from: impl Into<String>, configuration_set: Option<String>) -> Self {
        Self {
            client,
            from: from.into(),
            configuration_set: configuration_set.filter(|c| !c.trim().is_empty()),
        }
    }

    /// A client for `sdk`, talking to `endpoint` instead of SES when given (a local stand-in).
    pub fn client(sdk: &aws_config::SdkConfig, endpoint: Option<&str>) -> Client {
        let mut b = aws_sdk_sesv2::config::Builder::from(sdk);
        if let Some(url) = endpoint {
            b = b.endpoint_url(url);
        }
        Client::from_conf(b.build())
    }

    /// A client for a local SES v2 stand-in at `endpoint` (tests and local runs): fixed dummy
    /// credentials, region `us-east-1`.
    pub fn local_client(endpoint: &str) -> Client {
        let conf = aws_sdk_sesv2::Config::builder()
            .http_client(crate::aws::http_client())
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_sdk_sesv2::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sesv2::config::Credentials::new(
                "local",
                "local",
                None,
                None,
                "monban-local",
            ))
            .endpoint_url(endpoint)
            .build();
        Client::from_conf(conf)
    }

    /// The sender.
    pub fn from_address(&self) -> &str {
        &self.from
    }

    /// The configuration set, if any.
    pub fn configuration_set(&self) -> Option<&str> {
        self.configuration_set.as_deref()
    }
}

/// The part after the last `@`, or `-`: enough to see where mail goes without logging who.
fn recipient_domain(to: &str) -> &str {
    to.rsplit_once('@').map_or("-", |(_, d)| d)
}

fn utf8(data: &str) -> Result<Content, MailError> {
    Content::builder()
        .data(data)
        .charset(CHARSET)
        .build()
        .map_err(|_| MailError("SES: cannot build the message".into()))
}

/// What a failed `SendEmail` was, without anything from the request.
fn describe(e: &SdkError<SendEmailError>) -> String {
    match e {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let code = se.err().code().unwrap_or("unknown");
            let kind = match se.err() {
                SendEmailError::TooManyRequestsException(_)
                | SendEmailError::LimitExceededException(_) => "throttled",
                _ if status >= 500 => "service error",
                SendEmailError::SendingPausedException(_)
                | SendEmailError::AccountSuspendedException(_) => "sending disabled",
                _ => "rejected",
            };
            format!("SES {kind}: {code} (HTTP {status})")
        }
        SdkError::TimeoutError(_) => "SES did not answer in time".to_owned(),
        SdkError::DispatchFailure(_) => "SES could not be reached".to_owned(),
        SdkError::ResponseError(_) => "SES answered with an unreadable response".to_owned(),
        SdkError::ConstructionFailure(_) => "the SES request could not be built".to_owned(),
        _ => "SES failed".to_owned(),
    }
}

impl Mailer for SesMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let message = Message::builder()
            .subject(utf8(&mail.subject)?)
            .body(Body::builder().text(utf8(&mail.body)?).build())
            .build();
        let kind = mail.kind.as_str();
        let domain = recipient_domain(&mail.to);
        let sent = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&mail.to).build())
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await;
        match sent {
            Ok(out) => {
                tracing::info!(
                    kind,
                    domain,
                    message_id = out.message_id().unwrap_or("-"),
                    "mail sent"
                );
                Ok(())
            }
            Err(e) => {
                let why = describe(&e);
                tracing::warn!(kind, domain, error = %why, "mail not sent");
                Err(MailError(why))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn only_the_domain_of_the_recipient_is_logged() {
        assert_eq!(recipient_domain("taro@example.com"), "example.com");
        assert_eq!(recipient_domain("a@b@example.jp"), "example.jp");
        assert_eq!(recipient_domain("nobody"), "-");
    }

    /// A fake SES endpoint answering every request with `status`, `error_type` and `body`;
    /// hands back the requests it read.
    fn fake_ses(
        status: &'static str,
        error_type: Option<&'static str>,
        body: &'static str,
    ) -> (String, std::sync::mpsc::Receiver<String>) {
        let extra = error_type.map(|t| format!("x-amzn-ErrorType: {t}\r\n"));
        super::fake_http::serve(status, extra.unwrap_or_default(), body)
    }

    fn mailer(endpoint: &str, configuration_set: Option<&str>) -> SesMailer {
        let conf = aws_sdk_sesv2::Config::builder()
            .http_client(crate::aws::http_client())
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_sdk_sesv2::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sesv2::config::Credentials::new(
                "local", "local", None, None, "test",
            ))
            .endpoint_url(endpoint)
            .retry_config(aws_sdk_sesv2::config::retry::RetryConfig::disabled())
            .build();
        SesMailer::new(
            Client::from_conf(conf),
            "monban <no-reply@example.com>",
            configuration_set.map(str::to_owned),
        )
    }

    fn otp_mail() -> Mail {
        Mail {
            id: String::new(),
            to: "taro@example.com".into(),
            kind: monban_core::mail::MailKind::Otp,
            lang: monban_core::Lang::Ja,
            subject: "ワンタイムパスワードのご連絡".into(),
            body: "■ワンタイムパスワード\n493817\n".into(),
        }
    }

    #[tokio::test]
    async fn a_mail_is_one_send_email_with_utf8_simple_content() {
        let (endpoint, requests) = fake_ses("200 OK", None, r#"{"MessageId":"m-1"}"#);
        let m = mailer(&endpoint, Some("monban-events"));
        m.send(&otp_mail()).await.unwrap();
        let req = requests.recv().unwrap();
        assert!(req.starts_with("POST /v2/email/outbound-emails "), "{req}");
        let json: serde_json::Value =
            serde_json::from_str(req.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(json["FromEmailAddress"], "monban <no-reply@example.com>");
        assert_eq!(json["Destination"]["ToAddresses"][0], "taro@example.com");
        assert_eq!(json["ConfigurationSetName"], "monban-events");
        let simple = &json["Content"]["Simple"];
        assert_eq!(simple["Subject"]["Charset"], "UTF-8");
        assert_eq!(simple["Subject"]["Data"], "ワンタイムパスワードのご連絡");
        assert_eq!(simple["Body"]["Text"]["Charset"], "UTF-8");
        assert_eq!(
            simple["Body"]["Text"]["Data"],
            "■ワンタイムパスワード\n493817\n"
        );
        assert!(simple["Body"].get("Html").is_none());
    }

    #[tokio::test]
    async fn throttling_and_server_errors_are_mail_errors_without_the_body() {
        for (status, kind, expect) in [
            (
                "429 Too Many Requests",
                Some("TooManyRequestsException"),
                "SES throttled: TooManyRequestsException (HTTP 429)",
            ),
            (
                "500 Internal Server Error",
                Some("InternalFailure"),
                "SES service error: InternalFailure (HTTP 500)",
            ),
            (
                "400 Bad Request",
                Some("MessageRejected"),
                "SES rejected: MessageRejected (HTTP 400)",
            ),
        ] {
            let (endpoint, _requests) =
                fake_ses(status, kind, r#"{"message":"something about 493817"}"#);
            let e = mailer(&endpoint, None).send(&otp_mail()).await.unwrap_err();
            assert_eq!(e.0, expect);
            assert!(!e.to_string().contains("493817"), "{e}");
        }
        // Nobody listening: a transport failure.
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", dead.local_addr().unwrap());
        drop(dead);
        let e = mailer(&url, None).send(&otp_mail()).await.unwrap_err();
        assert_eq!(e.0, "SES could not be reached");
    }

    #[test]
    fn an_empty_configuration_set_is_none() {
        let m = SesMailer::new(
            SesMailer::local_client("http://127.0.0.1:9"),
            "no-reply@example.com",
            Some(" ".into()),
        );
        assert_eq!(m.configuration_set(), None);
        assert_eq!(m.from_address(), "no-reply@example.com");
    }
}

/// A one-response HTTP server for tests of the AWS clients (SES, SSM).
#[cfg(test)]
pub(crate) mod fake_http {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};

    /// Serves `127.0.0.1:<port>`, answering every request with `status`, the extra header lines
    /// `headers` (each ending in CRLF) and a JSON `body`; hands back each request (head, blank
    /// line, body) as text.
    pub(crate) fn serve(
        status: &'static str,
        headers: String,
        body: &'static str,
    ) -> (String, std::sync::mpsc::Receiver<String>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let (mut head, mut len) = (String::new(), 0usize);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&line);
                }
                let mut buf = vec![0u8; len];
                reader.read_exact(&mut buf).unwrap();
                let _ = tx.send(format!("{head}\r\n{}", String::from_utf8_lossy(&buf)));
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{headers}\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        (format!("http://{addr}"), rx)
    }
}
