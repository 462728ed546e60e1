//! The bundled fonts, compiled into the binary so that printing needs no system fonts.
//!
//! All are subsets made by `tools/make_font_subsets.py` from Debian's packages; their
//! licences (SIL Open Font License 1.1) are in `assets/fonts/`.

/// Noto Sans CJK SC Regular, ASCII + GB 2312, TrueType outlines.
pub const PRINT_TTF: &[u8] = include_bytes!("../../../../assets/fonts/print.ttf");
/// LXGW WenKai Regular, cut to the characters of the synthetic name lists.
pub const HAND_TTF: &[u8] = include_bytes!("../../../../assets/fonts/hand.ttf");
/// Seto font, cut to the characters of the synthetic name lists that it has a glyph for.
pub const HAND_SETO_TTF: &[u8] = include_bytes!("../../../../assets/fonts/hand-seto.ttf");

/// The font bytes for `kind`.
pub fn font_bytes(kind: super::FontKind) -> &'static [u8] {
    match kind {
        super::FontKind::Print => PRINT_TTF,
        super::FontKind::Hand => HAND_TTF,
        super::FontKind::HandSeto => HAND_SETO_TTF,
    }
}

/// True when the bundled font `kind` has a glyph for `c` (the subsets map nothing they lack, so
/// a miss would draw `.notdef`).
pub fn has_glyph(kind: super::FontKind, c: char) -> bool {
    // Parsing reads only the table directory, so a face per call costs next to nothing.
    ttf_parser::Face::parse(font_bytes(kind), 0).is_ok_and(|f| f.glyph_index(c).is_some())
}

/// True when the print font has a glyph for every character of `text` (roster values that
/// fail this are reported instead of printing empty boxes).
pub fn printable(text: &str) -> bool {
    thread_local! {
        static FACE: ttf_parser::Face<'static> =
            ttf_parser::Face::parse(PRINT_TTF, 0).expect("bundled print font parses");
    }
    FACE.with(|f| text.chars().all(|c| c.is_whitespace() || f.glyph_index(c).is_some()))
}
