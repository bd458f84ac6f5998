//! A minimal HTTP/1.1 client: one keep-alive connection per worker (hyper 1), reopened after an
//! error. No pool, no TLS: the load generator only talks to a server on loopback.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{
    ACCEPT_LANGUAGE, AUTHORIZATION, CONTENT_TYPE, HOST, HeaderName, HeaderValue, RETRY_AFTER,
};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::{Result, fail};

/// Where the server listens: `http://host:port` with no path.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    /// `host:port`, for connecting and for the `Host` header.
    authority: String,
    host: HeaderValue,
}

impl Target {
    pub(crate) fn parse(base: &str) -> Result<Self> {
        let rest = base
            .strip_prefix("http://")
            .ok_or_else(|| fail(format!("--base must start with http:// (got {base:?})")))?;
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            return Err(fail(format!(
                "--base must be http://host:port without a path (got {base:?})"
            )));
        }
        Ok(Self {
            authority: authority.to_owned(),
            host: HeaderValue::from_str(authority)?,
        })
    }
}

/// One answer: status, whole body, and whether it carried `Retry-After`.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
    pub(crate) retry_after: bool,
}

impl Answer {
    /// The body as JSON when the status is `want`; otherwise an error naming the status and the
    /// server's error code.
    pub(crate) fn json(&self, want: StatusCode, what: &str) -> Result<serde_json::Value> {
        if self.status != want {
            return Err(fail(format!("{what}: {}", self.describe())));
        }
        Ok(serde_json::from_slice(&self.body)?)
    }

    /// The JSON error code of the body, when there is one.
    pub(crate) fn code(&self) -> Option<String> {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_owned))
    }

    /// `status code` (with the JSON error code when there is one), for error tallies.
    pub(crate) fn describe(&self) -> String {
        match self.code() {
            Some(c) => format!("HTTP {} {c}", self.status.as_u16()),
            None => format!("HTTP {}", self.status.as_u16()),
        }
    }
}

/// One keep-alive connection.
pub(crate) struct Client {
    target: Target,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// Sent as `X-Forwarded-For` with the next requests (a client behind a trusted proxy, AB-3).
    forwarded_for: Option<HeaderValue>,
}

impl Client {
    pub(crate) fn new(target: Target) -> Self {
        Self {
            target,
            sender: None,
            forwarded_for: None,
        }
    }

    /// The client address the next requests claim through `X-Forwarded-For` (`None`: no header).
    pub(crate) fn forwarded_for(&mut self, addr: Option<&str>) -> Result<()> {
        self.forwarded_for = addr.map(HeaderValue::from_str).transpose()?;
        Ok(())
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>> {
        let stream = TcpStream::connect(&self.target.authority).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // The connection ends when the sender is dropped or the server closes it; the next
            // request then reconnects.
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// Sends one request; `bearer` goes into `Authorization`, `json` is the body.
    pub(crate) async fn send(
        &mut self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        json: Option<&serde_json::Value>,
    ) -> Result<Answer> {
        let mut sender = match self.sender.take() {
            Some(s) if !s.is_closed() => s,
            _ => self.connect().await?,
        };
        sender.ready().await?;
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.target.host.clone())
            .header(ACCEPT_LANGUAGE, "en");
        if let Some(t) = bearer {
            req = req.header(AUTHORIZATION, format!("Bearer {t}"));
        }
        if let Some(a) = &self.forwarded_for {
            req = req.header(HeaderName::from_static("x-forwarded-for"), a.clone());
        }
        let body = match json {
            Some(v) => {
                req = req.header(CONTENT_TYPE, "application/json");
                Bytes::from(serde_json::to_vec(v)?)
            }
            None => Bytes::new(),
        };
        let res = sender.send_request(req.body(Full::new(body))?).await?;
        let status = res.status();
        let retry_after = res.headers().contains_key(RETRY_AFTER);
        let body = res.into_body().collect().await?.to_bytes();
        // Kept only after a whole exchange: a failed one drops the connection.
        self.sender = Some(sender);
        Ok(Answer {
            status,
            body,
            retry_after,
        })
    }

    pub(crate) async fn post(
        &mut self,
        path: &str,
        bearer: Option<&str>,
        json: &serde_json::Value,
    ) -> Result<Answer> {
        self.send(Method::POST, path, bearer, Some(json)).await
    }

    pub(crate) async fn get(&mut self, path: &str, bearer: Option<&str>) -> Result<Answer> {
        self.send(Method::GET, path, bearer, None).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(
            Target::parse("http://127.0.0.1:8080/").unwrap().authority,
            "127.0.0.1:8080"
        );
        assert!(Target::parse("https://127.0.0.1:8080").is_err());
        assert!(Target::parse("http://127.0.0.1:8080/api").is_err());
        assert!(Target::parse("http://").is_err());
    }
}
