//! What the router holds: the service, the support credential and the transport settings.

use monban_core::secret::Digest;
use monban_core::{AuthService, Secret};
use std::sync::Arc;
use std::time::Duration;

/// How long a request's body may take to arrive unless told otherwise (AB-5).
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// The router's state: the [`AuthService`], the SHA-256 of the support API token (never the
/// token itself) and whether a trusted proxy's certificate header is believed.
///
/// Cloning is cheap (one `Arc`). Nothing in it is locked while a request runs: the service's
/// argon2 work goes through its `Offload` port (a server passes
/// `monban_embedded::TokioOffload`).
pub struct AppState<S, M> {
    inner: Arc<Inner<S, M>>,
}

struct Inner<S, M> {
    service: Arc<AuthService<S, M>>,
    support: Option<Digest>,
    trust_cert_header: bool,
    body_timeout: Option<Duration>,
    trusted_proxies: Arc<[crate::extract::Cidr]>,
    theme: Arc<crate::pages::Theme>,
    cors_origins: Arc<[axum::http::HeaderValue]>,
}

impl<S, M> Clone for Inner<S, M> {
    fn clone(&self) -> Self {
        Self {
            service: Arc::clone(&self.service),
            support: self.support,
            trust_cert_header: self.trust_cert_header,
            body_timeout: self.body_timeout,
            trusted_proxies: Arc::clone(&self.trusted_proxies),
            theme: Arc::clone(&self.theme),
            cors_origins: Arc::clone(&self.cors_origins),
        }
    }
}

impl<S, M> Clone for AppState<S, M> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S, M> std::fmt::Debug for AppState<S, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("service", &self.inner.service)
            .field("support_token", &self.inner.support.map(|_| "[configured]"))
            .field("trust_cert_header", &self.inner.trust_cert_header)
            .field("body_timeout", &self.inner.body_timeout)
            .field("trusted_proxies", &self.inner.trusted_proxies)
            .field("theme", &self.inner.theme)
            .field("cors_origins", &self.inner.cors_origins)
            .finish()
    }
}

impl<S, M> AppState<S, M> {
    /// State over `service`. `support_token` is the support staff's API token, configured at
    /// start; only its SHA-256 is kept, and a request's `Authorization: Bearer` is compared with
    /// it in constant time. `None` (or an empty token) turns the `/support/*` routes off: they
    /// answer 403 `forbidden`.
    pub fn new(service: impl Into<Arc<AuthService<S, M>>>, support_token: Option<Secret>) -> Self {
        let support = support_token
            .filter(|t| !t.expose().trim().is_empty())
            .map(|t| Digest::of(t.expose().trim().as_bytes()));
        Self {
            inner: Arc::new(Inner {
                service: service.into(),
                support,
                trust_cert_header: false,
                body_timeout: Some(DEFAULT_BODY_TIMEOUT),
                trusted_proxies: Arc::from(Vec::new()),
                theme: Arc::new(crate::pages::Theme::default()),
                cors_origins: Arc::from(Vec::new()),
            }),
        }
    }

    /// L-8: believe an `X-Client-Cert-Sha256` header (the SHA-256 fingerprint of the client
    /// certificate, hex) on `POST /login`. Only for a server behind a TLS terminator that
    /// verifies client certificates and sets — and strips from clients — that header. Off by
    /// default: anyone can send any header, and a fingerprint is no secret.
    #[must_use]
    pub fn trust_cert_header(self, trust: bool) -> Self {
        let mut inner = Inner::clone(&self.inner);
        inner.trust_cert_header = trust;
        Self {
            inner: Arc::new(inner),
        }
    }

    /// AB-5: a request body must arrive within `limit` of its headers, else the answer is 408
    /// `request_timeout` (default [`DEFAULT_BODY_TIMEOUT`]). Bodies arrive whole on Lambda, so
    /// there it never applies.
    #[must_use]
    pub fn body_timeout(self, limit: Duration) -> Self {
        let mut inner = Inner::clone(&self.inner);
        inner.body_timeout = Some(limit);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// AB-3: requests whose socket peer is inside one of `proxies` are from a proxy the
    /// operator trusts: their client address is the right-most `X-Forwarded-For` entry that is
    /// not itself a trusted proxy. Empty (the default): the peer is the client, and
    /// `X-Forwarded-For` is never read.
    #[must_use]
    pub fn trusted_proxies(self, proxies: Vec<crate::extract::Cidr>) -> Self {
        let mut inner = Inner::clone(&self.inner);
        inner.trusted_proxies = Arc::from(proxies);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// UI-3: the pages' templates, texts, stylesheet and cookie mode (default: the embedded
    /// theme with `__Host-` cookies).
    #[must_use]
    pub fn theme(self, theme: impl Into<Arc<crate::pages::Theme>>) -> Self {
        let mut inner = Inner::clone(&self.inner);
        inner.theme = theme.into();
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Browser apps on these origins (`https://app.example.com`, no path) may call the JSON API
    /// (CORS, without cookies: the API takes `Authorization: Bearer`). Empty (the default): no
    /// CORS headers, so browsers keep other origins out. The pages under `/ui/` never answer
    /// other origins.
    #[must_use]
    pub fn cors_origins(self, origins: Vec<axum::http::HeaderValue>) -> Self {
        let mut inner = Inner::clone(&self.inner);
        inner.cors_origins = Arc::from(origins);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The CORS origins.
    pub fn cors_allowed(&self) -> &[axum::http::HeaderValue] {
        &self.inner.cors_origins
    }

    /// The pages' theme.
    pub fn page_theme(&self) -> &crate::pages::Theme {
        &self.inner.theme
    }

    /// The trusted proxies' ranges.
    pub fn trusted_proxy_ranges(&self) -> &[crate::extract::Cidr] {
        &self.inner.trusted_proxies
    }

    /// The body deadline, if any.
    pub fn body_deadline(&self) -> Option<Duration> {
        self.inner.body_timeout
    }

    /// The service, shared (for a courier task, see [`crate::courier::spawn`]).
    pub fn shared_service(&self) -> Arc<AuthService<S, M>> {
        Arc::clone(&self.inner.service)
    }

    /// The service.
    pub fn service(&self) -> &AuthService<S, M> {
        &self.inner.service
    }

    /// Whether the certificate header is believed.
    pub fn trusts_cert_header(&self) -> bool {
        self.inner.trust_cert_header
    }

    /// `Some(ok)` when a support token is configured: whether `presented` is it (constant-time
    /// comparison of the SHA-256 digests). `None` when support is off.
    pub(crate) fn check_support(&self, presented: &str) -> Option<bool> {
        self.inner
            .support
            .map(|d| Digest::of(presented.trim().as_bytes()) == d)
    }
}

/// A CORS origin ([`AppState::cors_origins`]) as browsers send it: `http(s)://host[:port]`, without path, query or a trailing
/// slash, and never `*` (a wildcard would let every site call the API from its users' browsers).
pub fn parse_cors_origin(s: &str) -> Result<axum::http::HeaderValue, String> {
    let s = s.trim();
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| format!("{s:?}: an origin starts with https:// or http://"))?;
    if rest.is_empty()
        || rest.contains(['/', '?', '#', '*', ' ', '@'])
        || rest.chars().any(|c| c.is_control())
    {
        return Err(format!(
            "{s:?}: an origin is scheme://host[:port], nothing after it"
        ));
    }
    axum::http::HeaderValue::from_str(s).map_err(|e| format!("{s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cors_origins_are_scheme_host_and_port_only() {
        for ok in ["https://app.example.com", "http://localhost:5173"] {
            assert_eq!(parse_cors_origin(ok).unwrap(), ok);
        }
        for bad in [
            "*",
            "app.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://*.example.com",
            "https://",
            "ftp://app.example.com",
        ] {
            assert!(parse_cors_origin(bad).is_err(), "{bad}");
        }
    }
}
