//! Verification of Google ID tokens (RS256 JWTs) against Google's published keys.
//!
//! The key set is cached for as long as its `Cache-Control: max-age` allows and
//! fetched again when a token names a key id the cache does not hold (Google rotates
//! keys), at most once per [`MIN_REFETCH_INTERVAL`] so forged key ids cannot turn the
//! server into a fetch amplifier.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::{config::AuthConfig, error::AppError};

const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(10);
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3600);

/// Who a verified token says the user is.
#[derive(Debug, Clone)]
pub struct GoogleIdentity {
    pub subject: String,
    pub email: String,
    pub name: String,
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    email: Option<String>,
    #[serde(default, deserialize_with = "bool_or_string")]
    email_verified: bool,
    name: Option<String>,
}

fn bool_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flexible {
        Bool(bool),
        Text(String),
    }
    Ok(match Flexible::deserialize(d)? {
        Flexible::Bool(b) => b,
        Flexible::Text(s) => s == "true",
    })
}

struct CachedKeys {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Instant,
    max_age: Duration,
}

pub struct GoogleVerifier {
    http: reqwest::Client,
    config: AuthConfig,
    cache: Mutex<Option<CachedKeys>>,
}

impl GoogleVerifier {
    pub fn new(http: reqwest::Client, config: AuthConfig) -> Self {
        GoogleVerifier {
            http,
            config,
            cache: Mutex::new(None),
        }
    }

    pub async fn verify(&self, id_token: &str) -> Result<GoogleIdentity, AppError> {
        let client_id = self.config.google_client_id.as_deref().ok_or_else(|| {
            AppError::forbidden(
                "Google sign-in is not configured on this server (GOOGLE_CLIENT_ID)",
            )
        })?;
        let invalid =
            |why: &str| AppError::Unauthenticated(format!("invalid Google ID token: {why}"));

        let header = jsonwebtoken::decode_header(id_token).map_err(|_| invalid("malformed"))?;
        if header.alg != Algorithm::RS256 {
            return Err(invalid("not signed with RS256"));
        }
        let kid = header.kid.ok_or_else(|| invalid("no key id"))?;
        let key = self
            .key(&kid)
            .await?
            .ok_or_else(|| invalid("unknown signing key"))?;

        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[client_id]);
        validation.set_issuer(&self.config.google_issuers);
        validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        validation.leeway = 30;
        let claims = jsonwebtoken::decode::<Claims>(id_token, &key, &validation)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind as K;
                invalid(match e.kind() {
                    K::ExpiredSignature => "expired",
                    K::InvalidAudience => "wrong audience",
                    K::InvalidIssuer => "wrong issuer",
                    K::InvalidSignature => "bad signature",
                    K::MissingRequiredClaim(_) => "missing claim",
                    _ => "rejected",
                })
            })?
            .claims;
        let email = claims
            .email
            .filter(|e| !e.is_empty())
            .ok_or_else(|| invalid("no email"))?;
        if !claims.email_verified {
            return Err(invalid("email not verified"));
        }
        Ok(GoogleIdentity {
            subject: claims.sub,
            name: claims.name.unwrap_or_default(),
            email,
        })
    }

    async fn key(&self, kid: &str) -> Result<Option<DecodingKey>, AppError> {
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref() {
            let fresh = cached.fetched_at.elapsed() < cached.max_age;
            if let Some(key) = cached.keys.get(kid).filter(|_| fresh) {
                return Ok(Some(key.clone()));
            }
            if fresh && cached.fetched_at.elapsed() < MIN_REFETCH_INTERVAL {
                return Ok(None);
            }
        }
        let fetched = self.fetch().await?;
        let key = fetched.keys.get(kid).cloned();
        *cache = Some(fetched);
        Ok(key)
    }

    async fn fetch(&self) -> Result<CachedKeys, AppError> {
        let unavailable = |e: reqwest::Error| {
            tracing::warn!(error = %e, "fetching Google's signing keys failed");
            AppError::GatewayUnavailable(
                "Google's signing keys are unreachable, retry later".into(),
            )
        };
        let response = self
            .http
            .get(&self.config.google_jwks_url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(unavailable)?;
        let max_age = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_max_age)
            .unwrap_or(DEFAULT_MAX_AGE);
        let set: JwkSet = response.json().await.map_err(unavailable)?;
        let keys = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                DecodingKey::from_jwk(jwk).ok().map(|key| (kid, key))
            })
            .collect();
        Ok(CachedKeys {
            keys,
            fetched_at: Instant::now(),
            max_age,
        })
    }
}

fn parse_max_age(cache_control: &str) -> Option<Duration> {
    cache_control
        .split(',')
        .filter_map(|part| part.trim().strip_prefix("max-age="))
        .find_map(|secs| secs.parse().ok())
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_max_age() {
        assert_eq!(
            super::parse_max_age("public, max-age=19845, must-revalidate, no-transform"),
            Some(std::time::Duration::from_secs(19845))
        );
        assert_eq!(super::parse_max_age("no-store"), None);
    }
}
