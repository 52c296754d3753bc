//! What a gateway remembers of the database for a few seconds, so that the common request
//! costs no query: whether a sign-in is live ([`crate::auth::sign_ins`]) and which models an
//! account or key may use ([`crate::access`]). A change made through this gateway is applied
//! to its cache at once; another replica sees it when its entry is older than the TTL
//! (`SIGN_IN_CHECK_SECS`).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The cache never holds more than this many entries; past it, stale entries are dropped (and
/// if all are fresh, everything: the next requests simply ask the database again).
const MAX_ENTRIES: usize = 50_000;

#[derive(Debug)]
pub struct TtlCache<K, V> {
    ttl: Duration,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The remembered value when it is younger than the TTL.
    pub fn fresh(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, value)| value.clone())
    }

    pub fn remember(&self, key: K, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), value));
    }

    /// Drops the entries whose key matches, so the next request reads the database.
    pub fn forget_where(&self, matches: impl Fn(&K) -> bool) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|key, _| !matches(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_only_while_fresh_and_forgets_on_demand() {
        let cache = TtlCache::new(Duration::from_millis(50));
        assert_eq!(cache.fresh(&1), None);
        cache.remember(1, "one");
        cache.remember(2, "two");
        assert_eq!(cache.fresh(&1), Some("one"));
        cache.forget_where(|k| *k == 1);
        assert_eq!(cache.fresh(&1), None);
        assert_eq!(cache.fresh(&2), Some("two"));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(cache.fresh(&2), None, "stale answers are asked again");
    }
}
