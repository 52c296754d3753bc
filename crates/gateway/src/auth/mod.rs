//! Who is calling. Every handler that touches data takes a [`CurrentUser`]; the repositories
//! scope every query by its id.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use uuid::Uuid;

/// The seeded user (contract §5.6, `migrations/20261123000001_initial_schema.sql`):
/// `00000000-0000-0000-0000-000000000001`.
pub const DEFAULT_USER_ID: Uuid = Uuid::from_u128(1);

/// The caller. Today always the seeded [`DEFAULT_USER_ID`]; authentication replaces this
/// extractor only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrentUser {
    pub id: Uuid,
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = Infallible;

    async fn from_request_parts(_parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            id: DEFAULT_USER_ID,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_user_is_the_seeded_one() {
        assert_eq!(
            DEFAULT_USER_ID.to_string(),
            "00000000-0000-0000-0000-000000000001"
        );
    }
}
