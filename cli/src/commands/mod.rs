//! One module per command.

pub(crate) mod bench;
pub(crate) mod db;
pub(crate) mod demo;
pub(crate) mod eval;
pub(crate) mod key;
pub(crate) mod print;
pub(crate) mod process;
pub(crate) mod roster;
pub(crate) mod status;
pub(crate) mod synth;
pub(crate) mod user;
