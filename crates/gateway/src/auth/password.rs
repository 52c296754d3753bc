//! Passwords: argon2id hashes (PHC strings) and the policy (NIST SP 800-63B 5.1.1.2: a length
//! floor, no composition rules, and a check against a list of commonly used passwords).

use std::collections::HashSet;
use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use common::validation::FieldError;

pub const MIN_CHARS: usize = 10;
pub const MAX_CHARS: usize = 256;

/// The most common passwords of at least [`MIN_CHARS`] characters, lowercased
/// (`data/README.md` says where they come from).
const COMMON_PASSWORDS: &str = include_str!("../../data/common_passwords.txt");

/// Whether `password` is on the bundled list of common passwords (case-insensitively).
pub fn is_common(password: &str) -> bool {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    let set = SET.get_or_init(|| COMMON_PASSWORDS.lines().filter(|l| !l.is_empty()).collect());
    set.contains(password.trim().to_lowercase().as_str())
}

/// The policy of the `password` field: see [`check_policy_of`].
pub fn check_policy(password: &str, email: &str) -> Option<FieldError> {
    check_policy_of("password", password, email)
}

/// The policy: 10..=256 code points, not only whitespace, not the email address, not a
/// commonly used password. Errors name the field and why, and never echo the password.
pub fn check_policy_of(field: &str, password: &str, email: &str) -> Option<FieldError> {
    let len = password.chars().count();
    let error = |kind: &str, msg: String| Some(FieldError::new(kind, &["body", field], msg));
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
    if password.trim().is_empty() {
        return error(
            "password_blank",
            "Password must not be only spaces or other whitespace".to_owned(),
        );
    }
    if !email.trim().is_empty() && password.trim().eq_ignore_ascii_case(email.trim()) {
        return error(
            "password_is_email",
            "Password must not be the email address".to_owned(),
        );
    }
    if is_common(password) {
        return error(
            "password_too_common",
            "This password is one of the most commonly used passwords, which attackers try first: choose another".to_owned(),
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

    #[test]
    fn blank_and_common_passwords_are_refused_with_a_reason() {
        let blank = check_policy(&" ".repeat(12), "a@b.c").unwrap();
        assert!(blank.msg.contains("whitespace"), "{blank:?}");
        for common in ["qwertyuiop", "Password123", " 1234567890 ", "BASKETBALL"] {
            let refused = check_policy(common, "a@b.c").expect(common);
            assert!(refused.msg.contains("commonly used"), "{refused:?}");
        }
        assert!(check_policy("correct horse battery", "a@b.c").is_none());
        let other = check_policy_of("new_password", "qwertyuiop", "").unwrap();
        assert_eq!(other.field(), "new_password");
    }
}
