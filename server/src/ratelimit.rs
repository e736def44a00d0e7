//! Per-client request quotas and login throttling.
//!
//! Every request (except `/healthz` and static assets) takes one unit from a
//! token bucket in memory. Buckets are keyed by who the client is:
//!
//! - anonymous requests: the client address (`ip:<addr>`; IPv6 by its /64,
//!   which one subscriber usually holds whole), with the anonymous quota;
//! - requests with `Authorization: Bearer …`: a SHA-256 prefix of the token
//!   (`token:<hash>`), and with the web session cookie: of the cookie
//!   (`session:<hash>`), with the larger token quota. The token is not checked
//!   here (the handlers reject unknown ones with 401), so that made-up tokens
//!   cannot multiply a client's allowance, every credentialed request also
//!   takes a unit from a per-address ceiling (`ceiling:<addr>`) of
//!   [`IP_CEILING_FACTOR`] times the token quota, shared by all tokens seen
//!   from that address. A credentialed client is therefore not slowed down by
//!   anonymous traffic from the same address, and one address can never get
//!   more than the ceiling, whatever it presents.
//!
//! A bucket holds `burst` units and refills at `per_minute / 60` units a
//! second. Responses carry `RateLimit-Limit` (the bucket size),
//! `RateLimit-Remaining`, `RateLimit-Reset` (seconds until the bucket is full
//! again) and `RateLimit-Policy` (`600;w=60;burst=100`), following the IETF
//! draft; refused requests get 429 `rate_limited` with `Retry-After` (seconds
//! until one unit is back).
//!
//! Memory is bounded: buckets live in [`SHARDS`] mutex-guarded maps of at most
//! `max_clients / SHARDS` entries each. A bucket that has refilled completely
//! is indistinguishable from a new one and is dropped by a sweep (once a
//! minute per shard, or when a full shard needs room); if a shard is still
//! full, an arbitrary entry is dropped (that client starts again with a full
//! bucket). Keys are stored as 64-bit keyed hashes, never as tokens.
//!
//! Logins are throttled separately: an attempt takes a unit from both
//! `login-ip:<addr>` and `login-user:<name>` *before* the password is checked
//! (so Argon2 work cannot be used to burn CPU, even with many attempts in
//! flight at once) and gives it back if the login succeeds, so only failures
//! count. Once either bucket is empty, logins from that address (for any user)
//! and for that user (from any address) are refused with 429 until it refills.

use crate::error::Code;
use crate::settings::RateLimitSettings;
use crate::{ApiError, AppState};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Number of independently locked maps of buckets.
pub const SHARDS: usize = 32;

/// The per-address ceiling for credentialed requests, in multiples of the token quota.
pub const IP_CEILING_FACTOR: u32 = 4;

/// How often a shard drops its idle (full) buckets.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// A full shard sweeps at most this often before evicting arbitrary entries.
const SWEEP_WHEN_FULL_EVERY: Duration = Duration::from_secs(1);

const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// The client address a request is counted against, put into the request's
/// extensions by [`limit`] (the peer address, or the proxy's `X-Forwarded-For`
/// entry when `trust_forwarded_for` is set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// A refill rate and a bucket size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    per_minute: u32,
    burst: u32,
}

impl Quota {
    /// `per_minute` units a minute, at most `burst` at once (both at least 1).
    pub fn new(per_minute: u32, burst: u32) -> Quota {
        Quota {
            per_minute: per_minute.max(1),
            burst: burst.max(1),
        }
    }

    /// Units per second.
    fn rate(&self) -> f64 {
        f64::from(self.per_minute) / 60.0
    }

    fn capacity(&self) -> f64 {
        f64::from(self.burst)
    }

    /// Time for `units` to come back.
    fn refill(&self, units: f64) -> Duration {
        Duration::from_secs_f64((units / self.rate()).max(0.0))
    }

    /// `RateLimit-Policy` value.
    pub fn policy(&self) -> String {
        format!("{};w=60;burst={}", self.per_minute, self.burst)
    }
}

/// What a bucket said about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may go ahead.
    pub allowed: bool,
    /// The quota that decided.
    pub quota: Quota,
    /// Whole units left.
    pub remaining: u32,
    /// Seconds until the bucket is full again.
    pub reset_secs: u64,
    /// Seconds until one unit is back (0 when allowed).
    pub retry_after_secs: u64,
}

impl Decision {
    /// The `RateLimit-*` headers of this decision (and `Retry-After` if refused).
    pub fn set_headers(&self, headers: &mut HeaderMap) {
        headers.insert(RATELIMIT_LIMIT, HeaderValue::from(self.quota.burst));
        headers.insert(RATELIMIT_REMAINING, HeaderValue::from(self.remaining));
        headers.insert(RATELIMIT_RESET, HeaderValue::from(self.reset_secs));
        if let Ok(v) = HeaderValue::from_str(&self.quota.policy()) {
            headers.insert(RATELIMIT_POLICY, v);
        }
        if !self.allowed {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(self.retry_after_secs),
            );
        }
    }

    /// The 429 answer for a refused request.
    pub fn error(&self) -> ApiError {
        let n = self.retry_after_secs;
        ApiError::new(
            Code::RateLimited,
            format!("请求过于频繁，请 {n} 秒后再试 / too many requests; try again in {n} s"),
        )
        .with_details(serde_json::json!({"retry_after_secs": n}))
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
    /// When the bucket is full again if nothing is taken (then it can be forgotten).
    full_at: Instant,
}

impl Bucket {
    fn new(quota: Quota, now: Instant) -> Bucket {
        Bucket {
            tokens: quota.capacity(),
            at: now,
            full_at: now,
        }
    }

    fn refill(&mut self, quota: Quota, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * quota.rate()).min(quota.capacity());
        self.at = now.max(self.at);
    }

    fn settle(&mut self, quota: Quota) -> (u32, u64) {
        let missing = quota.capacity() - self.tokens;
        self.full_at = self.at + quota.refill(missing);
        let reset = quota.refill(missing).as_secs_f64().ceil() as u64;
        (self.tokens.max(0.0).floor() as u32, reset)
    }

    fn take(&mut self, quota: Quota, now: Instant) -> Decision {
        self.refill(quota, now);
        let allowed = self.tokens >= 1.0;
        if allowed {
            self.tokens -= 1.0;
        }
        let retry_after_secs = if allowed {
            0
        } else {
            (quota.refill(1.0 - self.tokens).as_secs_f64().ceil() as u64).max(1)
        };
        let (remaining, reset_secs) = self.settle(quota);
        Decision {
            allowed,
            quota,
            remaining: if allowed { remaining } else { 0 },
            reset_secs,
            retry_after_secs,
        }
    }

    fn give_back(&mut self, quota: Quota, now: Instant) {
        self.refill(quota, now);
        self.tokens = (self.tokens + 1.0).min(quota.capacity());
        self.settle(quota);
    }
}

struct Shard {
    map: HashMap<u64, Bucket>,
    swept: Instant,
}

impl Shard {
    fn sweep(&mut self, now: Instant) {
        self.map.retain(|_, b| b.full_at > now);
        self.swept = now;
    }
}

/// Token buckets by key, in a bounded number of entries.
pub struct Buckets {
    shards: Vec<Mutex<Shard>>,
    hasher: RandomState,
    per_shard: usize,
}

impl Buckets {
    /// Room for about `max_keys` buckets.
    pub fn new(max_keys: usize) -> Buckets {
        let now = Instant::now();
        Buckets {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        map: HashMap::new(),
                        swept: now,
                    })
                })
                .collect(),
            hasher: RandomState::new(),
            per_shard: max_keys.div_ceil(SHARDS).max(1),
        }
    }

    fn shard(&self, hash: u64) -> MutexGuard<'_, Shard> {
        let i = (hash % SHARDS as u64) as usize;
        // A panic while holding the lock cannot leave a bucket half-updated in
        // a way that matters: keep using it.
        self.shards[i]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn with<R>(
        &self,
        key: &str,
        quota: Quota,
        now: Instant,
        f: impl FnOnce(&mut Bucket) -> R,
    ) -> R {
        let hash = self.hasher.hash_one(key);
        let mut shard = self.shard(hash);
        if now.saturating_duration_since(shard.swept) >= SWEEP_EVERY {
            shard.sweep(now);
        }
        if !shard.map.contains_key(&hash) && shard.map.len() >= self.per_shard {
            if now.saturating_duration_since(shard.swept) >= SWEEP_WHEN_FULL_EVERY {
                shard.sweep(now);
            }
            while shard.map.len() >= self.per_shard {
                let Some(victim) = shard.map.keys().next().copied() else {
                    break;
                };
                shard.map.remove(&victim);
            }
        }
        let bucket = shard
            .map
            .entry(hash)
            .or_insert_with(|| Bucket::new(quota, now));
        f(bucket)
    }

    /// Takes one unit from `key`'s bucket if there is one.
    pub fn take(&self, key: &str, quota: Quota, now: Instant) -> Decision {
        self.with(key, quota, now, |b| b.take(quota, now))
    }

    /// Returns one unit to `key`'s bucket.
    pub fn give_back(&self, key: &str, quota: Quota, now: Instant) {
        self.with(key, quota, now, |b| b.give_back(quota, now));
    }

    /// Number of buckets held.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|s| s.map.len()).unwrap_or(0))
            .sum()
    }

    /// Whether no bucket is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a request presents to identify its client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// Nothing: counted by address.
    Anonymous,
    /// `Authorization: Bearer <token>` (not validated here).
    Bearer(String),
    /// The web session cookie.
    Session(String),
}

impl Credential {
    /// Reads the bearer token or, lacking one, the session cookie.
    pub fn of(headers: &HeaderMap) -> Credential {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, token)| {
                scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()
            })
            .map(|(_, token)| token.trim().to_string());
        if let Some(token) = bearer {
            return Credential::Bearer(token);
        }
        let session = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(name, value)| *name == crate::auth::SESSION_COOKIE && !value.is_empty())
            .map(|(_, value)| value.to_string());
        match session {
            Some(s) => Credential::Session(s),
            None => Credential::Anonymous,
        }
    }
}

fn secret_key(kind: &str, secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    format!("{kind}:{}", hex::encode(&digest[..16]))
}

/// The address part of a key: IPv4 whole, IPv6 by its /64.
fn address_key(ip: Option<IpAddr>) -> String {
    match ip {
        None => "unknown".into(),
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// Request quotas and login throttling of one server.
pub struct Limiter {
    enabled: bool,
    trust_forwarded_for: bool,
    anonymous: Quota,
    token: Quota,
    ceiling: Quota,
    login: Option<Quota>,
    requests: Buckets,
    logins: Buckets,
}

impl Limiter {
    /// A limiter with the given settings.
    pub fn new(s: &RateLimitSettings) -> Limiter {
        let token = Quota::new(s.token_per_minute, s.token_burst);
        Limiter {
            enabled: s.enabled,
            trust_forwarded_for: s.trust_forwarded_for,
            anonymous: Quota::new(s.anonymous_per_minute, s.burst),
            token,
            ceiling: Quota::new(
                token.per_minute.saturating_mul(IP_CEILING_FACTOR),
                token.burst.saturating_mul(IP_CEILING_FACTOR),
            ),
            login: (s.login_per_minute > 0)
                .then(|| Quota::new(s.login_per_minute, s.login_per_minute)),
            requests: Buckets::new(s.max_clients),
            logins: Buckets::new(s.max_clients),
        }
    }

    /// The address to count a request against: the peer, or with
    /// `trust_forwarded_for` the last `X-Forwarded-For` entry (the one the
    /// proxy in front of us appended; earlier ones are whatever the client sent).
    pub fn client_ip(&self, headers: &HeaderMap, peer: Option<IpAddr>) -> Option<IpAddr> {
        if self.trust_forwarded_for {
            let forwarded = headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .rfind(|s| !s.is_empty())
                .and_then(|s| s.parse::<IpAddr>().ok());
            if forwarded.is_some() {
                return forwarded;
            }
        }
        peer
    }

    /// Takes one request from the client's quota (always allowed when disabled).
    pub fn check(&self, ip: Option<IpAddr>, credential: &Credential, now: Instant) -> Decision {
        let address = address_key(ip);
        let key = match credential {
            Credential::Anonymous => {
                return self
                    .requests
                    .take(&format!("ip:{address}"), self.anonymous, now);
            }
            Credential::Bearer(t) => secret_key("token", t),
            Credential::Session(s) => secret_key("session", s),
        };
        let own = self.requests.take(&key, self.token, now);
        if !own.allowed {
            return own;
        }
        let ceiling_key = format!("ceiling:{address}");
        let ceiling = self.requests.take(&ceiling_key, self.ceiling, now);
        if ceiling.allowed {
            own
        } else {
            self.requests.give_back(&key, self.token, now);
            ceiling
        }
    }

    /// Starts a login attempt by `client` (an address, as text) for `user`:
    /// 429 if either has used up its failed logins. Call
    /// [`LoginAttempt::succeeded`] on success; otherwise the attempt counts.
    pub fn login_attempt(&self, client: &str, user: &str) -> Result<LoginAttempt<'_>, ApiError> {
        let Some(quota) = self.login else {
            return Ok(LoginAttempt {
                limiter: self,
                keys: Vec::new(),
            });
        };
        let address = address_key(client.parse().ok());
        let address = if address == "unknown" {
            client.chars().take(64).collect()
        } else {
            address
        };
        let name: String = user.chars().take(64).collect();
        let now = Instant::now();
        let mut taken: Vec<String> = Vec::new();
        for key in [format!("login-ip:{address}"), format!("login-user:{name}")] {
            let d = self.logins.take(&key, quota, now);
            if !d.allowed {
                for k in &taken {
                    self.logins.give_back(k, quota, now);
                }
                let n = d.retry_after_secs;
                return Err(ApiError::new(Code::RateLimited,
                    format!(
                        "登录失败次数过多，请 {n} 秒后再试 / too many failed sign-ins; try again in {n} s"
                    ),
                )
                .with_details(serde_json::json!({"retry_after_secs": n})));
            }
            taken.push(key);
        }
        Ok(LoginAttempt {
            limiter: self,
            keys: taken,
        })
    }
}

/// A login attempt that has been counted; [`LoginAttempt::succeeded`] uncounts it.
pub struct LoginAttempt<'a> {
    limiter: &'a Limiter,
    keys: Vec<String>,
}

impl LoginAttempt<'_> {
    /// The login succeeded: it does not count against the client or user.
    pub fn succeeded(self) {
        if let Some(quota) = self.limiter.login {
            let now = Instant::now();
            for k in &self.keys {
                self.limiter.logins.give_back(k, quota, now);
            }
        }
    }
}

/// Paths never counted: the health check and static assets.
fn exempt(path: &str) -> bool {
    path == "/healthz" || path == "/favicon.ico" || path.starts_with("/static/")
}

/// Middleware: records the client address, then counts the request against
/// its client's quota, answering 429 when it is used up. Every counted
/// response carries the `RateLimit-*` headers.
pub async fn limit(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let limiter = &state.limiter;
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = limiter.client_ip(request.headers(), peer);
    if let Some(ip) = ip {
        request.extensions_mut().insert(ClientIp(ip));
    }
    if !limiter.enabled || exempt(request.uri().path()) {
        return next.run(request).await;
    }
    let decision = limiter.check(ip, &Credential::of(request.headers()), Instant::now());
    let mut response = if decision.allowed {
        next.run(request).await
    } else {
        tracing::debug!(client = %address_key(ip), "rate limited");
        decision.error().into_response()
    };
    decision.set_headers(response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(f: impl FnOnce(&mut RateLimitSettings)) -> Limiter {
        let mut s = RateLimitSettings::default();
        f(&mut s);
        Limiter::new(&s)
    }

    const HOME: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)));

    #[test]
    fn a_bucket_empties_and_refills_with_time() {
        let l = limiter(|s| {
            s.anonymous_per_minute = 60;
            s.burst = 3;
        });
        let t0 = Instant::now();
        let anon = Credential::Anonymous;
        let remaining: Vec<u32> = (0..3)
            .map(|_| l.check(HOME, &anon, t0))
            .inspect(|d| assert!(d.allowed))
            .map(|d| d.remaining)
            .collect();
        assert_eq!(remaining, [2, 1, 0]);
        let refused = l.check(HOME, &anon, t0);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_secs, 1);
        assert_eq!(refused.reset_secs, 3);
        assert_eq!(refused.quota.policy(), "60;w=60;burst=3");
        // One unit a second comes back.
        let later = l.check(HOME, &anon, t0 + Duration::from_millis(1100));
        assert!(later.allowed);
        assert_eq!(later.remaining, 0);
        // Another address has its own bucket.
        let other = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2)));
        assert!(l.check(other, &anon, t0).allowed);
    }

    #[test]
    fn tokens_have_their_own_quota_under_a_per_address_ceiling() {
        let l = limiter(|s| {
            s.burst = 1;
            s.token_burst = 2;
        });
        let t0 = Instant::now();
        assert!(l.check(HOME, &Credential::Anonymous, t0).allowed);
        assert!(!l.check(HOME, &Credential::Anonymous, t0).allowed);
        let token = Credential::Bearer("gk_a".into());
        let d = l.check(HOME, &token, t0);
        assert!(d.allowed);
        assert_eq!(d.quota.burst, 2);
        // Made-up tokens from one address stop at the ceiling (4 × 2 units).
        let allowed = (0..20)
            .filter(|i| {
                l.check(HOME, &Credential::Bearer(format!("fake{i}")), t0)
                    .allowed
            })
            .count();
        assert_eq!(allowed, 8 - 1);
        // The refusal by the ceiling did not use up the real token's own bucket.
        let d = l.check(HOME, &token, t0);
        assert!(!d.allowed);
        assert_eq!(d.quota.burst, 8);
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_slash_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(address_key(Some(a)), address_key(Some(b)));
        assert_eq!(address_key(Some(a)), "2001:db8:1:2::/64");
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(address_key(Some(mapped)), "192.0.2.1");
    }

    #[test]
    fn credentials_are_read_from_the_bearer_token_or_the_session_cookie() {
        let mut h = HeaderMap::new();
        assert_eq!(Credential::of(&h), Credential::Anonymous);
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("lang=en; gongkai_session=abc"),
        );
        assert_eq!(Credential::of(&h), Credential::Session("abc".into()));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer  t1 "),
        );
        assert_eq!(Credential::of(&h), Credential::Bearer("t1".into()));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic eDp5"),
        );
        h.insert(header::COOKIE, HeaderValue::from_static("gongkai_session="));
        assert_eq!(Credential::of(&h), Credential::Anonymous);
    }

    #[test]
    fn forwarded_for_is_used_only_when_trusted_and_from_the_proxy_end() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("10.9.9.9, 198.51.100.7"),
        );
        let peer = Some("127.0.0.1".parse().unwrap());
        assert_eq!(limiter(|_| {}).client_ip(&h, peer), peer);
        let trusting = limiter(|s| s.trust_forwarded_for = true);
        assert_eq!(
            trusting.client_ip(&h, peer),
            Some("198.51.100.7".parse().unwrap())
        );
        h.insert("x-forwarded-for", HeaderValue::from_static("garbage"));
        assert_eq!(trusting.client_ip(&h, peer), peer);
    }

    #[test]
    fn memory_stays_bounded() {
        let b = Buckets::new(SHARDS * 4);
        let q = Quota::new(60, 2);
        let t0 = Instant::now();
        for i in 0..10_000 {
            b.take(&format!("ip:{i}"), q, t0);
        }
        assert!(b.len() <= SHARDS * 4, "{} buckets", b.len());
    }

    #[test]
    fn buckets_that_have_refilled_are_forgotten() {
        let b = Buckets::new(1 << 20);
        let t0 = Instant::now();
        let fast = Quota::new(60, 2);
        for i in 0..500 {
            b.take(&format!("a:{i}"), fast, t0);
        }
        // Still refilling two minutes later: ten units at one a minute.
        let slow = Quota::new(1, 10);
        for _ in 0..10 {
            b.take("slow", slow, t0);
        }
        assert_eq!(b.len(), 501);
        let t1 = t0 + Duration::from_secs(120);
        for i in 0..1000 {
            b.take(&format!("b:{i}"), fast, t1);
        }
        assert_eq!(b.len(), 1001);
        // The kept bucket remembers what was taken: two units are back, one is used now.
        assert_eq!(b.take("slow", slow, t1).remaining, 1);
    }

    #[test]
    fn failed_logins_count_and_successful_ones_do_not() {
        let l = limiter(|s| s.login_per_minute = 2);
        l.login_attempt("192.0.2.1", "alice").unwrap().succeeded();
        l.login_attempt("192.0.2.1", "alice").unwrap().succeeded();
        l.login_attempt("192.0.2.1", "alice").unwrap().succeeded();
        drop(l.login_attempt("192.0.2.1", "alice").unwrap());
        drop(l.login_attempt("192.0.2.1", "alice").unwrap());
        let e = l.login_attempt("192.0.2.1", "alice").err().unwrap();
        assert_eq!(e.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        // The address is blocked for other users; the user from other addresses.
        assert!(l.login_attempt("192.0.2.1", "bob").is_err());
        assert!(l.login_attempt("192.0.2.9", "alice").is_err());
        // A refusal by the user key did not charge the new address.
        l.login_attempt("192.0.2.9", "carol").unwrap();
        let off = limiter(|s| s.login_per_minute = 0);
        for _ in 0..100 {
            drop(off.login_attempt("192.0.2.1", "alice").unwrap());
        }
    }
}
