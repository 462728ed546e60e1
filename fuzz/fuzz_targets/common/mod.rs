//! Helpers shared by the fuzz targets (each target includes this module; not every target uses
//! every helper).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use formscan::Error;

/// A scratch folder of this process, created once: `<base>/formscan-fuzz-<target>-<pid>`, where
/// `<base>` is `$FUZZ_SCRATCH` when set, else `/dev/shm` when it is a folder (memory: the
/// intake target writes and syncs several files per input), else the system's temp folder.
/// libFuzzer runs one input at a time per process, so a process owns its folder; it is removed
/// when the process exits normally (libFuzzer's `-runs=N`, `-max_total_time`), and left behind
/// after a crash.
pub fn scratch(target: &str) -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = match std::env::var_os("FUZZ_SCRATCH") {
            Some(dir) => PathBuf::from(dir),
            None if Path::new("/dev/shm").is_dir() => PathBuf::from("/dev/shm"),
            None => std::env::temp_dir(),
        };
        let dir = base.join(format!("formscan-fuzz-{target}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch folder");
        let cleanup = dir.clone();
        // libFuzzer calls exit() when it is done; remove the folder then.
        CLEANUP.get_or_init(|| cleanup);
        extern "C" fn remove() {
            if let Some(dir) = CLEANUP.get() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
        unsafe { atexit(remove) };
        dir
    })
}

static CLEANUP: OnceLock<PathBuf> = OnceLock::new();

extern "C" {
    fn atexit(f: extern "C" fn()) -> i32;
}

/// Untrusted input may only ever fail as `Input` or `Limits` (never `Io`, `Template`, `Model`),
/// and the message must render.
pub fn input_or_limits(e: &Error) {
    let _ = e.to_string();
    assert!(matches!(e, Error::Input { .. } | Error::Limits { .. }), "unexpected error kind: {e:?}");
}

/// As [`input_or_limits`], and the error must name `path`.
pub fn input_or_limits_at(e: &Error, path: &Path) {
    input_or_limits(e);
    let at = match e {
        Error::Input { path, .. } | Error::Limits { path, .. } => path.as_deref(),
        _ => None,
    };
    assert_eq!(at, Some(path), "error does not name its file: {e:?}");
}
