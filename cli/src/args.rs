//! The command line: the commands and their arguments (clap derive).

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};
use formscan_synth as synth;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "formscan", version, about = "Print personalised application forms and read their scans.")]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Print one PDF per school from a roster CSV, plus manifest.csv.
    Print {
        /// Roster CSV (UTF-8 or GBK; Chinese or English headers).
        #[arg(long)]
        roster: PathBuf,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Template file (default: the built-in sbk-student form).
        #[arg(long)]
        template: Option<PathBuf>,
        /// Print-run id (default: derived from the roster).
        #[arg(long)]
        run: Option<String>,
        /// Campaign store: record the persons and form serials of this run. An SQLite file, or
        /// a PostgreSQL URL (`postgres://user@host/campaign`; the password in `PGPASSWORD`).
        /// Only when given: `FORMSCAN_DB` does not make a print run write to a campaign.
        #[arg(long)]
        db: Option<PathBuf>,
        /// The campaign's reference date for ages (YYYY-MM-DD; default: today when the store
        /// is created).
        #[arg(long)]
        reference_date: Option<String>,
    },
    /// Roster preparation: data cleaning (数据清洗) and synthetic input lists.
    Roster {
        #[command(subcommand)]
        command: RosterCommand,
    },
    /// The keying station (录入): a web app on the campaign store (docs/station.md).
    Serve {
        /// Campaign store: an SQLite file or a `postgres://` URL (`FORMSCAN_DB` if not given).
        #[arg(long, env = "FORMSCAN_DB", hide_env_values = true)]
        db: PathBuf,
        /// Address to listen on (loopback by default).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Allow a non-loopback address without TLS: only on a LAN you trust or behind a TLS
        /// reverse proxy.
        #[arg(long)]
        trust_lan: bool,
        /// Serve HTTPS with this certificate chain (PEM), so other machines may reach the
        /// station directly; needs --tls-key.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM); needs --tls-cert.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// The campaign store itself: copy it between SQLite and PostgreSQL, check it.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Operators' accounts for keying and review (passwords kept as Argon2id hashes).
    User {
        /// Campaign store: an SQLite file or a `postgres://` URL (`FORMSCAN_DB` if not given).
        #[arg(long, global = true, env = "FORMSCAN_DB", hide_env_values = true)]
        db: Option<PathBuf>,
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Simulate scans of filled-in forms for a roster, with ground truth JSON.
    Synth {
        /// Roster CSV.
        #[arg(long)]
        roster: PathBuf,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Scan resolution.
        #[arg(long, default_value_t = 300.0)]
        dpi: f64,
        /// Scanner effects: none, mild or harsh.
        #[arg(long, default_value = "mild")]
        degrade: String,
        /// Template file.
        #[arg(long)]
        template: Option<PathBuf>,
        /// Print-run id (default: derived from the roster, as `print` does).
        #[arg(long)]
        run: Option<String>,
        /// Write digits from the calibration set (MNIST 50,000–54,999) instead of the test set.
        #[arg(long)]
        calibration_digits: bool,
        /// Handwriting of the names: wenkai (a brush font), seto (a handwriting-style font) or
        /// strokes (Make Me a Hanzi stroke medians drawn with a jittered pen).
        #[arg(long, default_value = "wenkai")]
        hand: String,
        #[command(flatten)]
        scenario: ScenarioArgs,
    },
    /// Read scans (files or folders of JPEG, PNG, TIFF, PDF) into records.
    Process {
        /// Scan files or folders.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Worker threads (default: all cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Extra template files (the built-in template stays loaded).
        #[arg(long)]
        template: Vec<PathBuf>,
        /// Do not save snippet images.
        #[arg(long)]
        no_snippets: bool,
        /// Campaign store: commit every page there; a rerun skips files already done. `--db`
        /// alone means `<out>/campaign.db`. A `postgres://` URL is a store several stations
        /// share (docs/deployment.md; the password in `PGPASSWORD`). Only when given:
        /// `FORMSCAN_DB` does not make a run write to a campaign.
        #[arg(long, num_args = 0..=1, default_missing_value = OUT_DB)]
        db: Option<PathBuf>,
        /// Print-run manifest(s) (`manifest.csv` from `print`): name photo files by ID number
        /// and school, and know ages for the photo rule. Repeatable.
        #[arg(long)]
        manifest: Vec<PathBuf>,
        /// Digit fields (phone, ID numbers): accept a field without review when its posterior
        /// reaches this. The default (0.996) was calibrated on simulated harsh scans;
        /// `formscan eval OUT --pool OUT2 ...` computes the threshold for pages of your own
        /// whose truth you know.
        #[arg(long, value_name = "P")]
        accept_posterior: Option<f64>,
    },
    /// Progress per school and class from the campaign store.
    Status {
        /// Campaign store: an SQLite file or a `postgres://` URL (`FORMSCAN_DB` if not given).
        #[arg(long, env = "FORMSCAN_DB", hide_env_values = true)]
        db: PathBuf,
        /// Also write the table as CSV.
        #[arg(long)]
        csv: Option<PathBuf>,
        /// Also write the table as an Excel workbook.
        #[arg(long)]
        xlsx: Option<PathBuf>,
        /// List the forms in review and the flagged pages.
        #[arg(long)]
        details: bool,
    },
    /// Export card data and photos of accepted forms (see docs/export.md).
    Export {
        /// Campaign store: an SQLite file or a `postgres://` URL (`FORMSCAN_DB` if not given).
        #[arg(long, env = "FORMSCAN_DB", hide_env_values = true)]
        db: PathBuf,
        /// Output folder (one folder per school).
        #[arg(long)]
        out: PathBuf,
        /// Export only this school (repeatable; default all).
        #[arg(long)]
        school: Vec<String>,
        /// CSV encoding: utf-8 or gbk.
        #[arg(long, default_value = "utf-8")]
        encoding: String,
        /// Write the earlier export batch N again, identically.
        #[arg(long)]
        batch: Option<i64>,
    },
    /// Record a review decision for a person's form.
    Review {
        /// Campaign store: an SQLite file or a `postgres://` URL (`FORMSCAN_DB` if not given).
        #[arg(long, env = "FORMSCAN_DB", hide_env_values = true)]
        db: PathBuf,
        /// The person's ID number.
        #[arg(long)]
        id_number: String,
        /// accept, reject, or choose:PAGE (a page key shown by `status --details`).
        #[arg(long)]
        decision: String,
        /// Why (a rejection's reason for the school); kept in the form's history.
        #[arg(long)]
        reason: Option<String>,
        /// Who decides (kept in the form's history). Default: the login name ($USER).
        #[arg(long)]
        operator: Option<String>,
    },
    /// Key in (录入) a value the reader could not read, or list the fields waiting for one.
    Key {
        /// Campaign store: an SQLite file or a `postgres://` URL (`FORMSCAN_DB` if not given).
        #[arg(long, env = "FORMSCAN_DB", hide_env_values = true)]
        db: PathBuf,
        /// List the fields waiting for a value (exit status 1 while any is left).
        #[arg(long)]
        list: bool,
        /// The person's ID number.
        #[arg(long)]
        id_number: Option<String>,
        /// The field: applicant_phone, agent_phone, agent_id, applicant_id_fix, agent_name,
        /// applicant_name_fix.
        #[arg(long)]
        field: Option<String>,
        /// The value as written on the form.
        #[arg(long)]
        value: Option<String>,
        /// Who keys (recorded with the value; double entry needs two different operators).
        #[arg(long)]
        operator: Option<String>,
        /// The value is the reader's reading, confirmed (no second keyer needed; refused when it
        /// is not what the reader read).
        #[arg(long, conflicts_with = "supervisor")]
        confirm: bool,
        /// Settle the value as a supervisor (after two keyers disagreed).
        #[arg(long)]
        supervisor: bool,
    },
    /// Measure pages/s on a folder of scans, against decode-only time on the same files.
    Bench {
        /// Folder of scans.
        dir: PathBuf,
        /// Worker threads (default: all cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Leave handwritten names unread (text boxes stay "ink or no ink"), to see what the
        /// name reader costs.
        #[arg(long)]
        no_names: bool,
        /// Read baseline JPEGs as DCT coefficients: the red channel made for the whole page,
        /// colour only where the reader looks (experimental: `EngineOptions::jpeg_coefficients`).
        #[arg(long)]
        coefficients: bool,
        /// Folder in which the timed batch writes its output (records, photos, snippets) into
        /// a new subfolder, removed after: one on the disk a real run would write to, since
        /// creating files costs differently from one file system to another (default: the
        /// system's temporary folder).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Rounds of the three timed passes; with more than one, each round is printed and the
        /// figures are medians (a shared machine's speed drifts from minute to minute).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=100))]
        rounds: u16,
    },
    /// Score a processed synth folder against its ground truth.
    Eval {
        /// The output folder of `process` (holding records.jsonl).
        out: PathBuf,
        /// More processed synth folders (calibration pages) whose digit fields are pooled
        /// with OUT's for the accept-threshold calibration line; a 0.1 % error rate needs
        /// thousands of fields to show. Repeatable.
        #[arg(long)]
        pool: Vec<PathBuf>,
    },
    /// Name reader accuracy per handwriting source on simulated name boxes, and the accept
    /// threshold they support (docs/names.md).
    EvalNames {
        /// Handwriting: wenkai, seto, strokes, or all.
        #[arg(long, default_value = "all")]
        hand: String,
        /// Name boxes per source.
        #[arg(long, default_value_t = 1000)]
        count: usize,
        /// Random seed (calibrate on one seed, report on another).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Scanner effects: none, mild or harsh.
        #[arg(long, default_value = "harsh")]
        degrade: String,
        /// Accept threshold to score with (default: the library's).
        #[arg(long)]
        accept_above: Option<f64>,
        /// Horizontal squeeze of the line before recognition (default: the library's).
        #[arg(long)]
        squeeze: Option<f64>,
    },
    /// Print, simulate and read a small sample batch, then show the summary and accuracy.
    Demo {
        /// Working folder.
        #[arg(long, default_value = "demo-out")]
        out: PathBuf,
        /// Number of students.
        #[arg(long, default_value_t = 24)]
        students: usize,
        /// Scanner effects.
        #[arg(long, default_value = "harsh")]
        degrade: String,
    },
}

/// Batch-workflow scenarios for `synth` (all off by default; see `formscan_synth::scenario`),
/// defective prints, and how pages are printed and written.
#[derive(clap::Args)]
pub(crate) struct ScenarioArgs {
    /// Share of forms never scanned (0–1).
    #[arg(long, default_value_t = 0.0)]
    pub(crate) missing: f64,
    /// Share of forms whose scan file appears twice under another name (0–1).
    #[arg(long, default_value_t = 0.0)]
    pub(crate) duplicates: f64,
    /// Share of forms scanned a second time, a new image of the same sheet (0–1).
    #[arg(long, default_value_t = 0.0)]
    pub(crate) rescans: f64,
    /// Share of forms made to break one audit rule (0–1).
    #[arg(long, default_value_t = 0.0)]
    pub(crate) rule_breaking: f64,
    /// Class (0-based, in print order) in which every pupil writes the same phone number.
    #[arg(long)]
    pub(crate) shared_phone_class: Option<usize>,
    /// Share of pasted prints that are defective: grey photocopies, dark or blurred (0–1).
    #[arg(long, default_value_t = 0.0)]
    pub(crate) defective_prints: f64,
    /// Scan files: jpeg420 (chroma subsampled, as scanners write), jpeg444 or png.
    #[arg(long, default_value = "jpeg420")]
    pub(crate) format: String,
    /// The printed page: internal (the simulator's rasteriser) or pdftoppm (the form's PDF
    /// rendered by poppler, the real print path; needs poppler-utils).
    #[arg(long, default_value = "internal")]
    pub(crate) render: String,
}

impl Default for ScenarioArgs {
    fn default() -> Self {
        ScenarioArgs {
            missing: 0.0,
            duplicates: 0.0,
            rescans: 0.0,
            rule_breaking: 0.0,
            shared_phone_class: None,
            defective_prints: 0.0,
            format: "jpeg420".into(),
            render: "internal".into(),
        }
    }
}

impl ScenarioArgs {
    pub(crate) fn to_options(&self) -> Result<synth::Scenarios> {
        for (v, flag) in [
            (self.missing, "--missing"),
            (self.duplicates, "--duplicates"),
            (self.rescans, "--rescans"),
            (self.rule_breaking, "--rule-breaking"),
            (self.defective_prints, "--defective-prints"),
        ] {
            if !(0.0..=1.0).contains(&v) {
                bail!("{flag} must be between 0 and 1");
            }
        }
        Ok(synth::Scenarios {
            missing: self.missing,
            duplicates: self.duplicates,
            rescans: self.rescans,
            rule_breaking: self.rule_breaking,
            shared_phone_class: self.shared_phone_class,
        })
    }
}

#[derive(Subcommand)]
pub(crate) enum UserCommand {
    /// Add an account. The password is read from the terminal (twice, not echoed), or as one
    /// line from standard input when that is not a terminal.
    Add {
        /// Login name (letters, digits, '.', '-', '_').
        name: String,
        /// keyer, supervisor or admin.
        #[arg(long)]
        role: String,
    },
    /// List the accounts (names, roles, disabled); never the hashes.
    List,
    /// Disable an account (its keyed values stay); --enable undoes it.
    Disable {
        /// Login name.
        name: String,
        /// Enable the account again instead.
        #[arg(long)]
        enable: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum RosterCommand {
    /// Pending list from the insured-residents list and the school roll, minus card holders and
    /// already-submitted people, grouped by school and class; plus a report of who was left out.
    Clean {
        /// Insured-residents CSV (UTF-8 or GBK; Chinese or English headers).
        #[arg(long)]
        insured: PathBuf,
        /// School-roll CSV.
        #[arg(long)]
        roll: PathBuf,
        /// Card-holder CSV (ID number column); may be repeated.
        #[arg(long)]
        holders: Vec<PathBuf>,
        /// Already-submitted CSV (ID number column); may be repeated.
        #[arg(long)]
        submitted: Vec<PathBuf>,
        /// Pending list to write (a roster CSV that `print` reads).
        #[arg(long)]
        out: PathBuf,
        /// Report CSV of dropped, flagged and ignored rows.
        #[arg(long)]
        report: PathBuf,
    },
    /// Write synthetic insured, roll, holder and submitted lists with known drop-outs.
    SynthLists {
        /// Output folder (insured.csv, roll.csv, holders.csv, submitted.csv, expected.json).
        #[arg(long)]
        out: PathBuf,
        /// Students on the roll.
        #[arg(long, default_value_t = 120)]
        students: usize,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

/// What `process --db` alone stands for: the campaign store in the output folder.
pub(crate) const OUT_DB: &str = "<out>/campaign.db";

/// `formscan db ...`
#[derive(Subcommand)]
pub(crate) enum DbCommand {
    /// Copy a campaign into an empty store (SQLite to PostgreSQL, or back), keys and all;
    /// verified table by table by row counts and checksums.
    Migrate {
        /// The campaign's store now (an SQLite file or a `postgres://` URL).
        #[arg(long)]
        from: PathBuf,
        /// The new store: an SQLite file that does not exist yet, or an empty PostgreSQL
        /// database.
        #[arg(long)]
        to: PathBuf,
    },
    /// Report the store's schema version, counts and integrity (exit status 1 on a problem).
    Check {
        /// Campaign store: an SQLite file or a `postgres://` URL (`FORMSCAN_DB` if not given).
        #[arg(long, env = "FORMSCAN_DB", hide_env_values = true)]
        db: PathBuf,
    },
}
