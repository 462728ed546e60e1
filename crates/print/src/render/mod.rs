//! A page as a list of drawing operations in millimetres, and its two renderers: PDF for the
//! printer ([`pdf`]) and a raster image for the scan simulator and tests ([`raster`]).
//!
//! Both renderers read the same [`PageDrawing`], so what is printed and what the reader's tests
//! are made of cannot drift apart.

pub mod fonts;
pub mod pdf;
pub mod raster;

use formscan::geometry::{Point, Rect};
use std::sync::Arc;

/// A4 portrait in millimetres (ISO 216).
pub const A4_MM: (f64, f64) = (210.0, 297.0);

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// Pure black, for registration marks, barcodes and printed data.
    pub const BLACK: Rgb = Rgb(0, 0, 0);
    /// The drop-out red of comb and checkbox outlines: bright in the scanner's red channel,
    /// so the reader sees only ink there (census forms use the same trick).
    pub const DROPOUT: Rgb = Rgb(240, 110, 110);
    /// Dark grey for labels, distinct from the black of data.
    pub const LABEL: Rgb = Rgb(40, 40, 40);
}

/// A raster image placed on the page, already encoded as a baseline JPEG (the PDF embeds
/// the bytes unchanged with DCTDecode).
#[derive(Debug, Clone)]
pub struct JpegImage {
    /// The JPEG file bytes.
    pub data: Arc<Vec<u8>>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// A QR code's modules, as [`formscan::barcode::encode_qr`] makes them.
pub use formscan::barcode::ModuleGrid;

/// Horizontal alignment of a text run relative to its anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// The anchor is the left end of the baseline.
    Left,
    /// The anchor is the middle of the baseline.
    Center,
}

/// Which bundled font a text run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FontKind {
    /// Noto Sans CJK SC (GB 2312 subset): labels and printed roster data.
    Print,
    /// LXGW WenKai: simulated handwriting (raster only; never printed).
    Hand,
    /// Seto font (a felt-pen handwriting font): the scan simulator's second handwriting
    /// (raster only; never printed). Some simplified hanzi are missing; see
    /// [`fonts::has_glyph`].
    HandSeto,
}

/// One drawing operation.
#[derive(Debug, Clone)]
pub enum DrawOp {
    /// A filled rectangle.
    FillRect {
        /// Where.
        rect: Rect,
        /// Fill colour.
        color: Rgb,
    },
    /// A rectangle outline; the stroke is centred on the rectangle's edges.
    StrokeRect {
        /// Where.
        rect: Rect,
        /// Stroke colour.
        color: Rgb,
        /// Stroke width in millimetres.
        width: f64,
    },
    /// A straight line.
    Line {
        /// Start.
        from: Point,
        /// End.
        to: Point,
        /// Colour.
        color: Rgb,
        /// Width in millimetres.
        width: f64,
    },
    /// A run of text on one line.
    Text {
        /// Baseline anchor, see `align`.
        at: Point,
        /// Em size in millimetres.
        size: f64,
        /// The characters.
        text: String,
        /// Colour.
        color: Rgb,
        /// Alignment to the anchor.
        align: Align,
        /// Font.
        font: FontKind,
    },
    /// A JPEG image stretched to fill `rect`.
    Image {
        /// Where.
        rect: Rect,
        /// The image.
        image: JpegImage,
    },
    /// A 2-D barcode: each module a dark square, `rect` the symbol without quiet zone.
    Modules {
        /// Where.
        rect: Rect,
        /// The module grid.
        grid: ModuleGrid,
    },
}

/// One A4 page as drawing operations, painted in order.
#[derive(Debug, Clone, Default)]
pub struct PageDrawing {
    /// The operations.
    pub ops: Vec<DrawOp>,
}

impl PageDrawing {
    /// Appends an operation.
    pub fn push(&mut self, op: DrawOp) {
        self.ops.push(op);
    }

    /// Every character drawn with `font`, for font subsetting.
    pub fn chars(&self, font: FontKind) -> impl Iterator<Item = char> + '_ {
        self.ops
            .iter()
            .flat_map(move |op| match op {
                DrawOp::Text { text, font: f, .. } if *f == font => Some(text.chars()),
                _ => None,
            })
            .flatten()
    }
}
