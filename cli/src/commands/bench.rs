//! `bench`: pages per second next to decode-only pages per second.

use anyhow::{bail, Result};
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

pub(crate) fn cmd_bench(dir: &Path, no_names: bool, coefficients: bool, out_parent: Option<&Path>) -> Result<()> {
    use rayon::prelude::*;
    let files = formscan::decode::list_inputs(&[dir.to_path_buf()])?;
    if files.is_empty() {
        bail!("no scans in {}", dir.display());
    }
    let mut options = formscan::EngineOptions::default();
    options.fields.names.enabled = !no_names;
    options.jpeg_coefficients = coefficients;
    let engine = Engine::new(options);
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
    let decode_s = t.elapsed().as_secs_f64();
    // Decode only as the engine decodes: its decode stage (the low-resolution copy included),
    // with each thread's buffers reused as in a batch.
    let t = std::time::Instant::now();
    let engine_pages: usize = files
        .par_iter()
        .map_init(
            || engine.worker(),
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
    let engine_decode_s = t.elapsed().as_secs_f64();
    // A folder of our own inside the one given (or the temporary folder), so that removing it
    // after never touches anything else.
    let parent = out_parent.map(Path::to_path_buf).unwrap_or_else(std::env::temp_dir);
    let out = parent.join(format!("formscan-bench-{}", std::process::id()));
    if out.exists() {
        bail!("{} exists already", out.display());
    }
    let s = batch::run(&engine, &files, &batch::BatchOptions { out_dir: out.clone(), snippets: true }, &|_, _| {})?;
    let _ = std::fs::remove_dir_all(&out);
    let m = &s.stage_ms_mean;
    println!("pages            {}", s.pages_in);
    println!("threads          {}", s.threads);
    println!("jpeg path        {}", if coefficients { "DCT coefficients, pixels where read" } else { "full decode" });
    println!("formscan         {:.1} pages/s ({:.2} s)", s.pages_per_s, s.elapsed_s);
    println!(
        "decode only      {:.1} pages/s ({:.2} s, {} pages): full decode",
        pages as f64 / decode_s,
        decode_s,
        pages
    );
    println!(
        "decode, engine   {:.1} pages/s ({:.2} s, {} pages): the engine's decode stage",
        engine_pages as f64 / engine_decode_s,
        engine_decode_s,
        engine_pages
    );
    println!(
        "ratio            {:.2} (our time / full decode-only time), {:.2} (our time / engine decode-only time)",
        s.elapsed_s / decode_s,
        s.elapsed_s / engine_decode_s
    );
    println!(
        "per page, ms     decode {:.1}  register {:.1}  identify {:.1}  fields {:.1} (of which digits {:.1}, names {:.1})  \
         photo {:.1}  total {:.1}",
        m.decode, m.register, m.identify, m.fields, m.digits, m.names, m.photo, m.total
    );
    println!("peak memory      {:.0} MiB", peak_rss_mib());
    Ok(())
}
