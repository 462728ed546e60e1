//! The `user` and `key` commands as an operator runs them: accounts from standard input, no
//! password in the store, exit statuses.

use std::io::Write;
use std::process::{Command, Stdio};

fn formscan(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_formscan"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn accounts_and_keying_from_the_terminal() {
    let dir = std::env::temp_dir().join(format!("formscan-cli-accounts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("campaign.db");
    let db = db.to_str().unwrap();
    let (code, out, err) = formscan(&["user", "add", "zhang", "--role", "keyer", "--db", db], "a long password 7\n");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("zhang"), "{out}");
    assert_eq!(formscan(&["user", "add", "li", "--role", "boss", "--db", db], "a long password 8\n").0, 2);
    assert_eq!(formscan(&["user", "add", "wang", "--role", "keyer", "--db", db], "short\n").0, 2);
    assert_eq!(formscan(&["user", "add", "zhang", "--role", "admin", "--db", db], "a long password 9\n").0, 2);
    formscan(&["user", "disable", "zhang", "--db", db], "");
    let (code, out, _) = formscan(&["user", "list", "--db", db], "");
    assert_eq!((code, out.trim()), (0, "zhang\tkeyer\tdisabled"));
    let bytes = std::fs::read(db).unwrap();
    assert!(!bytes.windows(17).any(|w| w == b"a long password 7"), "the password is stored");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(db).unwrap().permissions().mode() & 0o077, 0, "the store is owner-only");
    }
    // Nothing waits in an empty campaign; keying needs a person, a field, a value and an operator.
    let (code, out, _) = formscan(&["key", "--db", db, "--list"], "");
    assert_eq!((code, out.trim()), (0, "0 fields waiting for a value"));
    let (code, _, err) = formscan(
        &["key", "--db", db, "--id-number", "11010519491231002X", "--field", "agent_phone", "--value", "13812345678"],
        "",
    );
    assert_eq!(code, 2);
    assert!(err.contains("--operator"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
