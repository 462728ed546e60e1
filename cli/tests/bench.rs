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
