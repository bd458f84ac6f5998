//! Extractors whose rejections are [`ApiError`]s, so a bad request is always answered with the
//! JSON `{code, message}` body (never axum's plain-text rejection).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header;
use axum::http::request::Parts;
use monban_core::ports::{Mailer, Store};
use monban_core::{Error, Secret};
use serde::de::DeserializeOwned;

use crate::http_error::{ApiError, HttpProblem};
use crate::state::AppState;

/// A JSON object body. Malformed JSON, wrong types, unknown fields, a top level that is not an
/// object, a missing or wrong content type and non-UTF-8 bytes → 400 `invalid_request`; a body
/// over the limit → 413 `payload_too_large`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

/// `application/json` or `application/<something>+json`, parameters ignored.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

impl<T: DeserializeOwned, St: Send + Sync> FromRequest<St> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &St) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(HttpProblem::InvalidRequest.into());
        }
        let bytes = match Bytes::from_request(req, state).await {
            Ok(b) => b,
            Err(r) if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(HttpProblem::PayloadTooLarge.into());
            }
            Err(_) => return Err(HttpProblem::InvalidRequest.into()),
        };
        // serde would also read a struct from a JSON array; every body of this API is an object.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(HttpProblem::InvalidRequest.into());
        }
        Json::<T>::from_bytes(&bytes)
            .map(|Json(v)| ApiJson(v))
            .map_err(|_| HttpProblem::InvalidRequest.into())
    }
}

/// Path parameters; a value that does not parse → 400 `invalid_request`.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, St: Send + Sync> FromRequestParts<St> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| ApiPath(v))
            .map_err(|_| HttpProblem::InvalidRequest.into())
    }
}

/// Query parameters; a value that does not parse → 400 `invalid_request`. Unknown parameters
/// are ignored (cache busters and the like).
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, St: Send + Sync> FromRequestParts<St> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|_| HttpProblem::InvalidRequest.into())
    }
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive), if well-formed.
fn bearer(parts: &Parts) -> Option<Secret> {
    let v = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| Secret::new(token))
}

/// A session token from `Authorization: Bearer` (L-9). Missing or malformed → 401
/// `session_invalid`, the same answer as an expired or outdated token.
#[derive(Debug, Clone)]
pub struct SessionToken(pub Secret);

impl<St: Send + Sync> FromRequestParts<St> for SessionToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, ApiError> {
        bearer(parts)
            .map(SessionToken)
            .ok_or(ApiError::Core(Error::SessionInvalid))
    }
}

/// Support staff, authenticated by the support API token. No token configured → 403
/// `forbidden`; a missing or wrong token → 401 `unauthorized`.
#[derive(Debug, Clone, Copy)]
pub struct Support;

impl<S: Store + 'static, M: Mailer + 'static> FromRequestParts<AppState<S, M>> for Support {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState<S, M>,
    ) -> Result<Self, ApiError> {
        let presented = bearer(parts);
        match state.check_support(presented.as_ref().map_or("", |t| t.expose())) {
            None => Err(Error::Forbidden.into()),
            Some(true) if presented.is_some() => Ok(Support),
            Some(_) => Err(HttpProblem::Unauthorized.into()),
        }
    }
}

/// L-8: the client certificate a trusted TLS terminator vouches for: the one in a
/// [`VerifiedClientCert`] request extension (API Gateway mutual TLS, set by the Lambda adapter),
/// else the `X-Client-Cert-Sha256` header, believed only when [`AppState::trust_cert_header`] is
/// on. A request with neither has no certificate.
#[derive(Debug, Clone, Default)]
pub struct TransportCert(pub Option<monban_core::cert::ClientCert>);

/// A client certificate verified by the transport itself, as a request extension. Only server
/// code can set an extension (a client controls headers and body, never extensions): the Lambda
/// adapter puts API Gateway's mutual-TLS certificate here (`monban_server::aws::lambda`).
/// [`TransportCert`] prefers it to the header, whatever `trust_cert_header` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedClientCert(pub monban_core::cert::ClientCert);

/// The header a trusted proxy puts the client certificate's SHA-256 fingerprint in.
pub const CERT_HEADER: &str = "x-client-cert-sha256";

impl<S: Store + 'static, M: Mailer + 'static> FromRequestParts<AppState<S, M>> for TransportCert {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState<S, M>,
    ) -> Result<Self, ApiError> {
        if let Some(VerifiedClientCert(cert)) = parts.extensions.get::<VerifiedClientCert>() {
            return Ok(TransportCert(Some(cert.clone())));
        }
        if !state.trusts_cert_header() {
            return Ok(TransportCert(None));
        }
        match parts.headers.get(CERT_HEADER) {
            None => Ok(TransportCert(None)),
            Some(v) => {
                let fp = v.to_str().map_err(|_| HttpProblem::InvalidRequest)?;
                Ok(TransportCert(Some(monban_core::cert::ClientCert {
                    sha256: Some(fp.to_owned()),
                    serial: None,
                    subject_dn: None,
                })))
            }
        }
    }
}

/// Middleware (AB-5): reads a request's body within the state's body deadline before any
/// handler runs, so a client that sends headers and then a body that never completes holds a
/// connection for that long at most: 408 `request_timeout`. A body over [`crate::BODY_LIMIT`]
/// is 413 `payload_too_large` as soon as it is seen, and a broken one 400 `invalid_request`.
pub async fn read_body_in_time<S: Send + Sync + 'static, M: Send + Sync + 'static>(
    axum::extract::State(state): axum::extract::State<crate::AppState<S, M>>,
    req: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    use http_body_util::{BodyExt as _, Limited};
    let Some(deadline) = state.body_deadline() else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    if axum::body::HttpBody::is_end_stream(&body) {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let read = Limited::new(body, crate::BODY_LIMIT).collect();
    let bytes = match tokio::time::timeout(deadline, read).await {
        Err(_) => return ApiError::Http(HttpProblem::RequestTimeout).into_response(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return ApiError::Http(HttpProblem::PayloadTooLarge).into_response();
        }
        Ok(Err(_)) => return ApiError::Http(HttpProblem::InvalidRequest).into_response(),
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// An IP network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`; a bare address is a /32 or
/// /128): a trusted proxy's address range (AB-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: std::net::IpAddr,
    len: u8,
}

impl Cidr {
    /// Whether `ip` is inside (an IPv4-mapped IPv6 address counts as its IPv4 address).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.len))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let bad = || format!("{s:?} is not an IP address or CIDR range (e.g. 10.0.0.0/8)");
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l.parse::<u8>().map_err(|_| bad())?)),
            None => (s, None),
        };
        let net: std::net::IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let len = len.unwrap_or(max);
        if len > max {
            return Err(bad());
        }
        Ok(Cidr { net, len })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.net, self.len)
    }
}

/// The client address a trusted transport vouches for, as a request extension: the Lambda
/// adapter puts API Gateway's `requestContext.identity.sourceIp` (REST) or
/// `requestContext.http.sourceIp` (HTTP API) here. A client cannot set an extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedClientIp(pub std::net::IpAddr);

/// The client address the limits count (AB-3), as [`monban_core::abuse::ClientAddr`] (IPv6 by
/// /64):
///
/// 1. a [`VerifiedClientIp`] extension (API Gateway's `sourceIp` on Lambda);
/// 2. else the socket peer (`ConnectInfo<SocketAddr>`, which `monban serve` sets on every
///    request) — except when the peer is one of the operator's trusted proxies
///    ([`AppState::trusted_proxies`]): then the right-most `X-Forwarded-For` address that is not
///    itself a trusted proxy (a header a client can set is believed only that far);
/// 3. else the fixed `unknown` bucket (in-process tests, a router served without connect info).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIp(pub monban_core::abuse::ClientAddr);

/// The header a proxy appends the address it received a request from to.
pub const FORWARDED_FOR: &str = "x-forwarded-for";

/// Resolves the client address from the peer, the trusted proxies and the forwarded chain.
pub fn client_ip(
    peer: std::net::IpAddr,
    trusted: &[Cidr],
    headers: &axum::http::HeaderMap,
) -> std::net::IpAddr {
    let is_trusted = |ip: std::net::IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    // Every X-Forwarded-For line, in order, as one comma-separated chain: the right-most entry
    // was added by the nearest proxy.
    let chain: Vec<&str> = headers
        .get_all(FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut nearest = peer;
    for hop in chain.iter().rev() {
        match hop.parse::<std::net::IpAddr>() {
            // A garbled entry: what the trusted hop to its right reported is all we know.
            Err(_) => return nearest,
            Ok(ip) if is_trusted(ip) => nearest = ip,
            Ok(ip) => return ip,
        }
    }
    nearest
}

impl<S: Store + 'static, M: Mailer + 'static> FromRequestParts<AppState<S, M>> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState<S, M>,
    ) -> Result<Self, Self::Rejection> {
        use monban_core::abuse::ClientAddr;
        if let Some(VerifiedClientIp(ip)) = parts.extensions.get::<VerifiedClientIp>() {
            return Ok(ClientIp(ClientAddr::from_ip(*ip)));
        }
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientIp(match peer {
            Some(peer) => ClientAddr::from_ip(client_ip(
                peer,
                state.trusted_proxy_ranges(),
                &parts.headers,
            )),
            None => ClientAddr::unknown(),
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod client_ip_tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        // SPEC: AB-3
        let trusted: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap(), "192.0.2.1".parse().unwrap()];
        let mut h = HeaderMap::new();
        h.insert(
            FORWARDED_FOR,
            HeaderValue::from_static("6.6.6.6, 203.0.113.5, 10.1.2.3"),
        );
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        // Not from a trusted proxy: the peer, whatever the header says.
        assert_eq!(
            client_ip(ip("198.51.100.7"), &trusted, &h),
            ip("198.51.100.7")
        );
        // From one: the right-most untrusted address.
        assert_eq!(client_ip(ip("10.0.0.1"), &trusted, &h), ip("203.0.113.5"));
        assert_eq!(client_ip(ip("10.0.0.1"), &[], &h), ip("10.0.0.1"));
        // No header: the proxy itself.
        assert_eq!(
            client_ip(ip("192.0.2.1"), &trusted, &HeaderMap::new()),
            ip("192.0.2.1")
        );
        // Garbage right of a trusted hop: the trusted hop.
        h.insert(
            FORWARDED_FOR,
            HeaderValue::from_static("1.2.3.4, junk, 10.9.9.9"),
        );
        assert_eq!(client_ip(ip("10.0.0.1"), &trusted, &h), ip("10.9.9.9"));
        assert!(
            "2001:db8::/32"
                .parse::<Cidr>()
                .unwrap()
                .contains(ip("2001:db8:1::1"))
        );
        assert!(
            !"2001:db8::/32"
                .parse::<Cidr>()
                .unwrap()
                .contains(ip("2001:db9::1"))
        );
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains(ip("8.8.8.8")));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("nonsense".parse::<Cidr>().is_err());
    }
}
