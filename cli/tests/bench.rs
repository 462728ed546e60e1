//! `formscan bench` as a user runs it: the figures it prints, and the batch output it writes
//! under `--out` and removes after.

use std::process::Command;

#[test]
fn bench_prints_its_figures_and_leaves_the_out_folder_as_it_was() {
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples");
    let out = std::env::temp_dir().join(format!("formscan-cli-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "a user's file").unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_formscan"))
        .args(["bench", samples.to_str().unwrap(), "--out", out.to_str().unwrap(), "--jobs", "1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
    // The bundled samples: 8 pages in 6 files.
    assert!(stdout.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["pages", "8"]), "{stdout}");
    for label in ["formscan", "decode only", "decode, engine", "ratio", "per page, ms", "peak memory"] {
        assert!(stdout.lines().any(|l| l.starts_with(label)), "no {label:?} line in\n{stdout}");
    }
    // Its own subfolder is gone; what was there stays.
    let left: Vec<_> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["keep.txt"]);
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn bench_rounds_print_each_round_and_the_medians() {
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples");
    let run = Command::new(env!("CARGO_BIN_EXE_formscan"))
        .args(["bench", samples.to_str().unwrap(), "--jobs", "1", "--rounds", "2"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
    for label in ["rounds           2", "  round 1 ", "  round 2 "] {
        assert!(stdout.lines().any(|l| l.starts_with(label)), "no {label:?} line in\n{stdout}");
    }
    // The median of two rounds lies between them.
    let per_s = |l: &str, key: &str| -> f64 {
        let at = l.find(key).unwrap_or_else(|| panic!("no {key:?} in {l:?}")) + key.len();
        l[at..].split_whitespace().next().unwrap().trim_end_matches(',').parse().unwrap()
    };
    let rounds: Vec<f64> = stdout.lines().filter(|l| l.starts_with("  round")).map(|l| per_s(l, "formscan ")).collect();
    let line = stdout.lines().find(|l| l.starts_with("formscan ")).unwrap();
    assert!(line.contains("median of 2 rounds"), "{line}");
    let m = per_s(line, "formscan");
    let (lo, hi) = (rounds[0].min(rounds[1]), rounds[0].max(rounds[1]));
    assert!(lo - 0.051 <= m && m <= hi + 0.051, "median {m} outside {lo}–{hi}");
    assert!(Command::new(env!("CARGO_BIN_EXE_formscan"))
        .args(["bench", samples.to_str().unwrap(), "--rounds", "0"])
        .output()
        .unwrap()
        .status
        .code()
        .is_some_and(|c| c != 0));
}
