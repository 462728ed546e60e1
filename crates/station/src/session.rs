//! Sessions, CSRF tokens and login throttling, in memory (a restart logs everyone out, which
//! loses nothing: keyed values are in the store the moment they are taken).
//!
//! A session is a 256-bit random token in an `HttpOnly; SameSite=Strict` cookie; its CSRF
//! token is a second random value that every state-changing request must carry (the
//! synchronizer-token pattern, OWASP CSRF Prevention Cheat Sheet). Sessions expire after
//! [`IDLE_EXPIRY`] without a request. Failed logins are counted per name and per client
//! address; past [`MAX_FAILURES`] within [`FAILURE_WINDOW`] further tries are refused until the
//! window has passed.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use formscan_campaign::accounts::Role;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A session ends after this long without a request. Default 30 minutes: a keyer's break, not
/// a shift; the lease on their items runs out in 10.
pub const IDLE_EXPIRY: Duration = Duration::from_secs(30 * 60);
/// Failed logins allowed per name, and per client address, within [`FAILURE_WINDOW`]. Default 5.
pub const MAX_FAILURES: usize = 5;
/// The window for [`MAX_FAILURES`]. Default 15 minutes.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// A logged-in operator.
#[derive(Debug, Clone)]
pub struct Session {
    /// Operator name.
    pub name: String,
    /// Their role.
    pub role: Role,
    /// The token state-changing requests must carry.
    pub csrf: String,
    last_seen: Instant,
}

impl Session {
    /// A session for tests of the pages.
    #[cfg(test)]
    pub fn for_test(name: &str, role: Role) -> Session {
        Session { name: name.to_string(), role, csrf: token(), last_seen: Instant::now() }
    }
}

/// 32 random bytes as lower-case hex.
pub fn token() -> String {
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Compares two strings in time that depends on their length only.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The sessions and the failed-login counts.
#[derive(Debug, Default)]
pub struct Sessions {
    by_token: HashMap<String, Session>,
    failures: HashMap<String, Vec<Instant>>,
}

impl Sessions {
    /// Starts a session; returns its cookie token.
    pub fn start(&mut self, name: &str, role: Role) -> (String, Session) {
        let s = Session { name: name.to_string(), role, csrf: token(), last_seen: Instant::now() };
        let t = token();
        self.by_token.insert(t.clone(), s.clone());
        (t, s)
    }

    /// The session of a cookie token, when it exists and is not idle-expired (touching it).
    pub fn get(&mut self, token: &str) -> Option<Session> {
        let now = Instant::now();
        self.by_token.retain(|_, s| now.duration_since(s.last_seen) < IDLE_EXPIRY);
        let s = self.by_token.get_mut(token)?;
        s.last_seen = now;
        Some(s.clone())
    }

    /// Ends a session.
    pub fn end(&mut self, token: &str) {
        self.by_token.remove(token);
    }

    /// Whether `keys` (a name, a client address) may try to log in now.
    pub fn may_try(&mut self, keys: &[&str]) -> bool {
        let now = Instant::now();
        keys.iter().all(|k| {
            let v = self.failures.entry(k.to_string()).or_default();
            v.retain(|t| now.duration_since(*t) < FAILURE_WINDOW);
            v.len() < MAX_FAILURES
        })
    }

    /// Counts a failed login against `keys`.
    pub fn failed(&mut self, keys: &[&str]) {
        for k in keys {
            self.failures.entry(k.to_string()).or_default().push(Instant::now());
        }
    }

    /// Clears the failures of `keys` after a successful login.
    pub fn succeeded(&mut self, keys: &[&str]) {
        for k in keys {
            self.failures.remove(*k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_compared_whole() {
        let (a, b) = (token(), token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(same(&a, &a.clone()) && !same(&a, &b) && !same(&a, &a[..63]));
    }

    #[test]
    fn throttling_and_sessions() {
        let mut s = Sessions::default();
        for _ in 0..MAX_FAILURES {
            assert!(s.may_try(&["zhang", "127.0.0.1"]));
            s.failed(&["zhang", "127.0.0.1"]);
        }
        assert!(!s.may_try(&["zhang", "10.0.0.2"]), "the name is throttled from any address");
        assert!(!s.may_try(&["li", "127.0.0.1"]), "the address is throttled for any name");
        assert!(s.may_try(&["li", "10.0.0.2"]));
        let (t, sess) = s.start("li", Role::Keyer);
        assert_eq!(s.get(&t).unwrap().csrf, sess.csrf);
        s.end(&t);
        assert!(s.get(&t).is_none());
    }
}
