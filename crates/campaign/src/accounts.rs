//! Operators' accounts for keying and review: a name, a [`Role`], and a password kept only as an
//! Argon2id hash (RFC 9106, the `argon2` crate's default parameters: 19 MiB, 2 passes, one
//! lane, OWASP's minimum for Argon2id) in the campaign store.
//!
//! The roles, from least to most: a **keyer** keys values; a **supervisor** also settles
//! double-entry mismatches, decides forms and sees the operators' figures; an **admin** also
//! manages accounts.

use crate::store::Store;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use formscan::error::{Error, Result};

/// What an operator may do (module notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Keys values.
    Keyer,
    /// Keys, settles mismatches, decides forms, sees figures.
    Supervisor,
    /// Everything, and accounts.
    Admin,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Keyer => "keyer",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Role> {
        match s {
            "keyer" => Ok(Role::Keyer),
            "supervisor" => Ok(Role::Supervisor),
            "admin" => Ok(Role::Admin),
            _ => Err(Error::input(format!("unknown role `{s}` (keyer, supervisor or admin)"))),
        }
    }
}

/// An account as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// The password's Argon2id hash in PHC string form (`$argon2id$v=19$...`).
    pub password_hash: String,
    /// A disabled account cannot log in; its keyed values stay.
    pub disabled: bool,
}

/// Shortest password accepted: 10 characters (NIST SP 800-63B asks at least 8; a station on a
/// shared LAN deserves a little more).
pub const MIN_PASSWORD_CHARS: usize = 10;

/// A login name: 1 to 32 letters, digits, `.`, `-`, `_` (it appears in logs and keyed values).
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.chars().count() <= 32
        && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(Error::input("an account name is 1 to 32 letters, digits, '.', '-' or '_'"))
    }
}

/// The Argon2id hash of `password` with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::input(format!("a password has at least {MIN_PASSWORD_CHARS} characters")));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::input(format!("password hashing failed: {e}")))
}

/// Whether `password` matches a stored hash (constant-time comparison inside `argon2`).
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Adds an account; fails when the name is taken.
pub fn add_user(store: &mut dyn Store, name: &str, role: Role, password: &str) -> Result<()> {
    check_name(name)?;
    let hash = hash_password(password)?;
    store.add_account(&Account { name: name.to_string(), role, password_hash: hash, disabled: false })
}

/// The role of an enabled account whose password matches; `None` otherwise (unknown name,
/// wrong password, disabled: the caller cannot tell which, nor can an attacker). An unknown
/// name costs a hash too, so that timing does not tell names apart.
pub fn login(store: &mut dyn Store, name: &str, password: &str) -> Result<Option<Role>> {
    let account = store.accounts()?.into_iter().find(|a| a.name == name);
    match account {
        Some(a) if !a.disabled && verify_password(&a.password_hash, password) => Ok(Some(a.role)),
        Some(_) => Ok(None),
        None => {
            let _ = verify_password(DUMMY_HASH, password);
            Ok(None)
        }
    }
}

/// A valid Argon2id hash of no one's password, verified against when a name is unknown.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$CCDXe0RG2c1QGd1a3SUxxlzczJK6HEi7+Ok3G7YFh0o";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_salted() {
        let a = hash_password("correct horse battery").unwrap();
        let b = hash_password("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "a fresh salt each time");
        assert!(verify_password(&a, "correct horse battery"));
        assert!(!verify_password(&a, "correct horse batterY"));
        assert!(!verify_password("not a hash", "x"));
        assert!(hash_password("short").is_err());
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn names_and_roles() {
        assert!(check_name("zhang.wei-2").is_ok());
        assert!(check_name("").is_err() && check_name("a b").is_err() && check_name("<script>").is_err());
        assert_eq!("supervisor".parse::<Role>().unwrap(), Role::Supervisor);
        assert!("root".parse::<Role>().is_err());
        assert!(Role::Keyer < Role::Supervisor && Role::Supervisor < Role::Admin);
    }
}
