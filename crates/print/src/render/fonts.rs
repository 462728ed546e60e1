//! The bundled fonts, compiled into the binary so that printing needs no system fonts.
//!
//! Both are subsets made by `tools/make_font_subsets.py` from Debian's packages; their
//! licences (SIL Open Font License 1.1) are in `assets/fonts/`.

/// Noto Sans CJK SC Regular, ASCII + GB 2312, TrueType outlines.
pub const PRINT_TTF: &[u8] = include_bytes!("../../../../assets/fonts/print.ttf");
/// LXGW WenKai Regular, cut to the characters of the synthetic name lists.
pub const HAND_TTF: &[u8] = include_bytes!("../../../../assets/fonts/hand.ttf");

/// The font bytes for `kind`.
pub fn font_bytes(kind: super::FontKind) -> &'static [u8] {
    match kind {
        super::FontKind::Print => PRINT_TTF,
        super::FontKind::Hand => HAND_TTF,
    }
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
