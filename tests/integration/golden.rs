//! The golden record: one simulated page's full record, compared field by field with
//! `tests/golden/mild-page.json`. `REGENERATE=1 cargo test` rewrites it after a deliberate
//! change; review the diff before committing.

use formscan::{Engine, Template};
use formscan_synth as synth;
use serde_json::Value;

#[test]
fn golden_record() {
    let t = Template::sbk_student();
    let page = synth::simulate_one(&t, &synth::sample_person(42), 42, 200.0);
    let mut rec = Engine::default().process_image(&page.image);
    rec.timing_ms = Default::default();
    let mut v = serde_json::to_value(&rec).unwrap();
    crate::round_floats(&mut v);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/mild-page.json");
    if std::env::var_os("REGENERATE").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap() + "\n").unwrap();
    }
    let want: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("golden file; run with REGENERATE=1")).unwrap();
    assert_eq!(v, want, "record differs from {}; REGENERATE=1 rewrites it", path.display());
}
