//! Access tokens (HS256 JWTs, short-lived, checked without a database read) and the opaque
//! random secrets behind refresh tokens and API keys (stored only as SHA-256 hashes: they are
//! 256-bit random, so a fast hash is enough — unlike passwords).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::Role;

/// Every Sable API key starts with this, so people and secret scanners recognise one.
pub const API_KEY_PREFIX: &str = "sk-sable-";
/// `iss` of Sable's access tokens.
const ISSUER: &str = "sable";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Uuid,
    role: Role,
    /// The sign-in (`sign_ins.id`) the token belongs to: refused once that is revoked.
    sid: Uuid,
    iat: u64,
    exp: u64,
    iss: String,
}

/// Signs and checks access tokens.
#[derive(Clone)]
pub struct AccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_secs: u64,
}

impl std::fmt::Debug for AccessTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokens")
            .field("ttl_secs", &self.ttl_secs)
            .finish_non_exhaustive()
    }
}

impl AccessTokens {
    pub fn new(secret: &str, ttl_secs: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        // `sid` is a required field of `Claims`: tokens from before sign-ins existed (no
        // `sid`) fail to decode and are refused; their refresh tokens still work.
        // Expiry is exact: a token is refused from the second it expires.
        validation.leeway = 0;
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            ttl_secs,
        }
    }

    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// A signed token for `user` with `role` in sign-in `sid`, valid for the configured
    /// lifetime.
    pub fn issue(
        &self,
        user: Uuid,
        role: Role,
        sid: Uuid,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: user,
            role,
            sid,
            iat: now,
            exp: now + self.ttl_secs,
            iss: ISSUER.to_owned(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// The user, role and sign-in of a valid token; why not otherwise.
    pub fn check(&self, token: &str) -> Result<TokenClaims, TokenProblem> {
        match jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation) {
            Ok(data) => Ok(TokenClaims {
                user: data.claims.sub,
                role: data.claims.role,
                sign_in: data.claims.sid,
            }),
            Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::ExpiredSignature) => {
                Err(TokenProblem::Expired)
            }
            Err(_) => Err(TokenProblem::Invalid),
        }
    }
}

/// What a valid access token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenClaims {
    pub user: Uuid,
    pub role: Role,
    pub sign_in: Uuid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    Expired,
    Invalid,
}

/// A new random secret: 32 bytes from the OS generator, base64url without padding.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A new API key (`sk-sable-…`) and the prefix shown in lists.
pub fn new_api_key() -> (String, String) {
    let key = format!("{API_KEY_PREFIX}{}", random_secret());
    let prefix = key.chars().take(API_KEY_PREFIX.len() + 6).collect();
    (key, prefix)
}

/// The stored form of a refresh token or API key.
pub fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_tokens_round_trip_and_reject_tampering() {
        let tokens = AccessTokens::new(&"s".repeat(40), 60);
        let user = Uuid::new_v4();
        let sid = Uuid::new_v4();
        let token = tokens.issue(user, Role::Admin, sid).unwrap();
        assert_eq!(
            tokens.check(&token),
            Ok(TokenClaims {
                user,
                role: Role::Admin,
                sign_in: sid
            })
        );
        let other = AccessTokens::new(&"t".repeat(40), 60);
        assert_eq!(other.check(&token), Err(TokenProblem::Invalid));
        assert_eq!(tokens.check("not.a.jwt"), Err(TokenProblem::Invalid));
    }

    #[test]
    fn expired_tokens_are_told_apart() {
        let tokens = AccessTokens::new(&"s".repeat(40), 0);
        let token = tokens
            .issue(Uuid::new_v4(), Role::User, Uuid::new_v4())
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert_eq!(tokens.check(&token), Err(TokenProblem::Expired));
    }

    #[test]
    fn secrets_are_random_and_keys_are_recognisable() {
        assert_ne!(random_secret(), random_secret());
        assert_eq!(random_secret().len(), 43);
        let (key, prefix) = new_api_key();
        assert!(key.starts_with("sk-sable-") && key.starts_with(&prefix));
        assert_eq!(digest(&key).len(), 32);
    }
}
