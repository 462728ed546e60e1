//! TEMPORARY STUB (replaced by the trained CNN).
#![allow(missing_docs)]
pub trait DigitClassifier: Send + Sync {
    fn classify(&self, cell: &[f32; 784]) -> [f32; 11];
}
pub struct CnnDigits;
impl CnnDigits {
    pub fn bundled() -> &'static CnnDigits {
        &CnnDigits
    }
}
impl DigitClassifier for CnnDigits {
    fn classify(&self, _c: &[f32; 784]) -> [f32; 11] {
        [1.0 / 11.0; 11]
    }
}
pub const CLASSES: [char; 11] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'X'];
pub fn normalise_cell(patch: &[u8], _w: usize, _h: usize, paper: f32) -> Option<[f32; 784]> {
    if patch.iter().any(|&v| (v as f32) < paper * 0.55) {
        Some([0.0; 784])
    } else {
        None
    }
}
