//! Passwords: argon2id hashes (PHC strings) and the minimum policy.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use common::validation::FieldError;

pub const MIN_CHARS: usize = 10;
pub const MAX_CHARS: usize = 256;

/// The policy: 10..=256 code points, and not the email address. Errors name the field and
/// never echo the password.
pub fn check_policy(password: &str, email: &str) -> Option<FieldError> {
    let len = password.chars().count();
    let error = |kind: &str, msg: String| Some(FieldError::new(kind, &["body", "password"], msg));
    if len < MIN_CHARS {
        return error(
            "string_too_short",
            format!("Password should have at least {MIN_CHARS} characters"),
        );
    }
    if len > MAX_CHARS {
        return error(
            "string_too_long",
            format!("Password should have at most {MAX_CHARS} characters"),
        );
    }
    if password.trim().eq_ignore_ascii_case(email.trim()) {
        return error(
            "password_is_email",
            "Password must not be the email address".to_owned(),
        );
    }
    None
}

/// Hashes with argon2id (the crate's defaults: m=19 MiB, t=2, p=1). CPU-heavy: call it from
/// `spawn_blocking`.
pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// True when `password` matches the PHC string `stored`. With `None` (unknown email, no
/// password) a dummy hash is still verified, so the answer takes as long either way and
/// does not tell whether the account exists.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("not-a-real-password-0").unwrap_or_default());
    let (phc, real) = match stored {
        Some(s) => (s, true),
        None => (dummy.as_str(), false),
    };
    let matches = PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    });
    matches && real
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_never_contain_the_password() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(!h.contains("correct horse"));
        assert!(verify("correct horse battery", Some(&h)));
        assert!(!verify("wrong horse battery", Some(&h)));
        assert!(!verify("correct horse battery", None));
        assert!(!verify("x", Some("not a phc string")));
    }

    #[test]
    fn the_policy_names_the_field() {
        assert!(check_policy("long enough pw", "a@b.c").is_none());
        let short = check_policy("short", "a@b.c").unwrap();
        assert_eq!(short.field(), "password");
        assert!(check_policy("Me@Example.com", "me@example.com").is_some());
        assert!(check_policy(&"x".repeat(300), "a@b.c").is_some());
    }
}
