//! `user`: operators' accounts in the campaign store ([`formscan_campaign::accounts`]).

use crate::args::UserCommand;
use crate::open_store;
use anyhow::{bail, Context, Result};
use formscan_campaign::accounts::{self, Role};
use std::io::IsTerminal;
use std::path::Path;

/// The password: from the terminal without echo (asked twice), else one line of standard input.
fn read_password() -> Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password: ").context("reading the password")?;
        let again = rpassword::prompt_password("again: ").context("reading the password")?;
        if first != again {
            bail!("the two passwords differ");
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).context("reading the password from standard input")?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

pub(crate) fn cmd_user(db: Option<&Path>, command: UserCommand) -> Result<bool> {
    let Some(db) = db else { bail!("user: --db campaign.db is needed") };
    let mut store = open_store(db, None)?;
    match command {
        UserCommand::Add { name, role } => {
            let role: Role = role.parse()?;
            let password = read_password()?;
            accounts::add_user(&mut *store, &name, role, &password)?;
            println!("account {name} ({}) added", role.as_str());
        }
        UserCommand::List => {
            for a in store.accounts()? {
                println!("{}\t{}{}", a.name, a.role.as_str(), if a.disabled { "\tdisabled" } else { "" });
            }
        }
        UserCommand::Disable { name, enable } => {
            store.set_account_disabled(&name, !enable)?;
            println!("account {name} {}", if enable { "enabled" } else { "disabled" });
        }
    }
    Ok(true)
}
