//! `bench`: pages per second next to decode-only pages per second.

use anyhow::{bail, Result};
use formscan::record::StageTimes;
use formscan::{batch, Engine};
use std::path::Path;

pub(crate) fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// One round's three timed passes over the same files.
struct Round {
    /// Pages that decoded, and the seconds, in the full decode-only pass.
    decode: (usize, f64),
    /// The same in the engine's decode-only pass.
    engine_decode: (usize, f64),
    /// The timed batch.
    batch: batch::Summary,
}

impl Round {
    fn decode_pages_per_s(&self) -> f64 {
        self.decode.0 as f64 / self.decode.1
    }
    fn engine_decode_pages_per_s(&self) -> f64 {
        self.engine_decode.0 as f64 / self.engine_decode.1
    }
    /// Our time over the full decode-only time, and over the engine's decode-only time.
    fn ratios(&self) -> (f64, f64) {
        (self.batch.elapsed_s / self.decode.1, self.batch.elapsed_s / self.engine_decode.1)
    }
}

/// The median (the mean of the middle two for an even count).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Pages/s over the rounds: the one figure, or the median and the range of several.
fn pages_per_s(v: Vec<f64>, one_round: &str) -> String {
    let (lo, hi) = (v.iter().copied().fold(f64::MAX, f64::min), v.iter().copied().fold(f64::MIN, f64::max));
    let n = v.len();
    let m = median(v);
    if n > 1 {
        format!("{m:.1} pages/s (median of {n} rounds, {lo:.1}–{hi:.1})")
    } else {
        format!("{m:.1} pages/s ({one_round})")
    }
}

/// `formscan bench`: `rounds` rounds of a full decode-only pass, the engine's decode-only pass
/// and the timed batch, one after the other on the same files, so that each round's ratios
/// compare passes run under the same conditions; with several rounds the figures are medians
/// (a shared machine's speed drifts by several per cent from one minute to the next).
pub(crate) fn cmd_bench(
    dir: &Path,
    no_names: bool,
    coefficients: bool,
    out_parent: Option<&Path>,
    rounds: usize,
) -> Result<()> {
    let files = formscan::decode::list_inputs(&[dir.to_path_buf()])?;
    if files.is_empty() {
        bail!("no scans in {}", dir.display());
    }
    let mut options = formscan::EngineOptions::default();
    options.fields.names.enabled = !no_names;
    options.jpeg_coefficients = coefficients;
    let engine = Engine::new(options);
    // A folder of our own inside the one given (or the temporary folder), so that removing it
    // after never touches anything else.
    let parent = out_parent.map(Path::to_path_buf).unwrap_or_else(std::env::temp_dir);
    let out = parent.join(format!("formscan-bench-{}", std::process::id()));
    if out.exists() {
        bail!("{} exists already", out.display());
    }
    // Each round writes a folder of its own, and all go at the end: on a file system without a
    // journal (ext4 without one, as on many VMs) a new inode skips over every inode freed in
    // the last minutes, so a round writing where the previous one was just removed would pay
    // for that removal, which a real run never does.
    let rounds: Result<Vec<Round>> =
        (0..rounds.max(1)).map(|i| round(&engine, &files, &out.join(format!("round-{}", i + 1)))).collect();
    let _ = std::fs::remove_dir_all(&out);
    let rounds = rounds?;
    let first = &rounds[0].batch;
    println!("pages            {}", first.pages_in);
    println!("threads          {}", first.threads);
    println!(
        "jpeg path        {}",
        if coefficients { "DCT coefficients: red plane, colour where read" } else { "full decode" }
    );
    if rounds.len() > 1 {
        println!("rounds           {} (each: full decode only, engine decode only, formscan)", rounds.len());
        for (i, r) in rounds.iter().enumerate() {
            let (full, eng) = r.ratios();
            println!(
                "  round {:<2}      formscan {:.1} pages/s, decode only {:.1}, decode, engine {:.1}, ratios {full:.2}, {eng:.2}",
                i + 1,
                r.batch.pages_per_s,
                r.decode_pages_per_s(),
                r.engine_decode_pages_per_s()
            );
        }
    }
    let of = |f: &dyn Fn(&Round) -> f64| rounds.iter().map(f).collect::<Vec<f64>>();
    let (r0, n) = (&rounds[0], rounds.len() as f64);
    println!("formscan         {}", pages_per_s(of(&|r| r.batch.pages_per_s), &format!("{:.2} s", r0.batch.elapsed_s)));
    let (pages, s) = r0.decode;
    println!(
        "decode only      {}: full decode",
        pages_per_s(of(&|r| r.decode_pages_per_s()), &format!("{s:.2} s, {pages} pages"))
    );
    let (pages, s) = r0.engine_decode;
    println!(
        "decode, engine   {}: the engine's decode stage",
        pages_per_s(of(&|r| r.engine_decode_pages_per_s()), &format!("{s:.2} s, {pages} pages"))
    );
    println!(
        "ratio            {:.2} (our time / full decode-only time), {:.2} (our time / engine decode-only time)",
        median(of(&|r| r.ratios().0)),
        median(of(&|r| r.ratios().1))
    );
    // Per-stage means over all rounds' pages.
    let mean = |f: &dyn Fn(&StageTimes) -> f64| rounds.iter().map(|r| f(&r.batch.stage_ms_mean)).sum::<f64>() / n;
    println!(
        "per page, ms     decode {:.1}  register {:.1}  identify {:.1}  fields {:.1} (of which digits {:.1}, names {:.1})  \
         photo {:.1}  total {:.1}",
        mean(&|m| m.decode),
        mean(&|m| m.register),
        mean(&|m| m.identify),
        mean(&|m| m.fields),
        mean(&|m| m.digits),
        mean(&|m| m.names),
        mean(&|m| m.photo),
        mean(&|m| m.total)
    );
    println!("peak memory      {:.0} MiB", peak_rss_mib());
    Ok(())
}

/// One round: decode only (full), decode only (the engine's stage), then the batch into `out`.
fn round(engine: &Engine, files: &[std::path::PathBuf], out: &Path) -> Result<Round> {
    use rayon::prelude::*;
    // Decode only, same files, same threads: the yardstick, a full decode of every page.
    let t = std::time::Instant::now();
    let pages: usize = files
        .par_iter()
        .map(|f| {
            engine
                .open(f)
                .map(|ps| {
                    ps.iter().filter(|p| formscan::decode::decode_page(p, &engine.options().decode).is_ok()).count()
                })
                .unwrap_or(0)
        })
        .sum();
    let decode = (pages, t.elapsed().as_secs_f64());
    // Decode only as the engine decodes: its decode stage (the low-resolution copy included),
    // with each thread's buffers reused as in a batch.
    let t = std::time::Instant::now();
    let workers = engine.worker_pool();
    let engine_pages: usize = files
        .par_iter()
        .map_init(
            || workers.get(),
            |worker, f| {
                let pages = engine.open(f).unwrap_or_default();
                pages
                    .iter()
                    .filter(|p| match worker.decode(p) {
                        Ok(scan) => {
                            worker.recycle(scan);
                            true
                        }
                        Err(_) => false,
                    })
                    .count()
            },
        )
        .sum();
    let engine_decode = (engine_pages, t.elapsed().as_secs_f64());
    let batch =
        batch::run(engine, files, &batch::BatchOptions { out_dir: out.to_path_buf(), snippets: true }, &|_, _| {});
    Ok(Round { decode, engine_decode, batch: batch? })
}
