//! The printer's renderer: [`PageDrawing`]s as one A4 PDF document.
//!
//! The scans are registered against the template's millimetre positions, so coordinates are
//! mapped exactly (×72/25.4, y flipped at the top of the MediaBox) with no margin or scaling,
//! and numbers are written to 10⁻⁴ pt. Fonts are embedded as subset CID fonts, so the printer
//! needs none of its own; JPEGs pass through unchanged; barcode modules are painted in module
//! units so that neighbouring modules share exact edges.
//!
//! lopdf holds a document in memory until it is saved, so each page's content stream is built
//! and compressed as soon as the page is reached and only the compressed bytes are kept. Nothing
//! depends on when it runs: no dates, no random file ids, subset tags hashed from the glyph set.

use crate::render::{fonts::font_bytes, Align, DrawOp, FontKind, JpegImage, PageDrawing, Rgb};
use flate2::{write::ZlibEncoder, Compression};
use formscan::error::{Error, Result};
use formscan::geometry::{Point, Rect};
use lopdf::{dictionary, Dictionary, Document, Object, ObjectId, Stream, StringFormat};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io::Write;
use subsetter::GlyphRemapper;
use ttf_parser::{name_id, Face, GlyphId};

/// Points per millimetre: the PDF unit is 1/72 inch (ISO 32000-1, 8.3.2.3).
const PT_PER_MM: f64 = 72.0 / 25.4;
/// A4 width in points (210 mm), as written in the MediaBox.
const PAGE_W_PT: f64 = 595.2756;
/// A4 height in points (297 mm); template y is measured down from this edge.
const PAGE_H_PT: f64 = 841.8898;

/// Writes `pages` (A4 portrait) as one PDF document titled `title`.
///
/// Text uses the bundled fonts, subset to the glyphs of this document; characters the font
/// lacks print as its `.notdef` glyph, except whitespace, which prints as a space (check with
/// [`crate::render::fonts::printable`] first). Fails with [`Error::Input`] on an empty page
/// list, a JPEG that PDF cannot carry or a module grid whose size does not match its modules,
/// with [`Error::Model`] when a font cannot be read or subset, and with [`Error::Io`] when
/// writing fails.
pub fn write_pdf<W: Write>(pages: &[PageDrawing], title: &str, out: W) -> Result<()> {
    if pages.is_empty() {
        return Err(Error::input("a PDF needs at least one page"));
    }
    let mut doc = Document::with_version("1.7");
    // A classic cross-reference table rather than a stream: print servers and RIPs that stop
    // at PDF 1.4 can still read it.
    doc.reference_table.cross_reference_type = lopdf::xref::XrefType::CrossReferenceTable;
    let pages_id = doc.new_object_id();
    // A font is embedded only when a page uses it, so documents without handwriting fonts are
    // unchanged by their being available.
    let mut fonts: [Option<PdfFont>; FONT_KINDS.len()] = [None, None, None];
    for kind in FONT_KINDS {
        let chars: BTreeSet<char> = pages.iter().flat_map(|p| p.chars(kind)).collect();
        if !chars.is_empty() {
            fonts[font_index(kind)] = Some(embed_font(&mut doc, kind, &chars)?);
        }
    }
    let mut images = Images::default();
    let mut kids = Vec::with_capacity(pages.len());
    for page in pages {
        let mut w =
            PageWriter { buf: Vec::new(), fonts: &fonts, font_dict: Dictionary::new(), xobjects: Dictionary::new() };
        for op in &page.ops {
            w.draw(op, &mut doc, &mut images)?;
        }
        let content = Stream::new(dictionary! { "Filter" => "FlateDecode" }, deflate(&w.buf)?);
        let content_id = doc.add_object(content);
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
            "MediaBox" => vec![0.into(), 0.into(), PAGE_W_PT.into(), PAGE_H_PT.into()],
            "Resources" => dictionary! { "Font" => w.font_dict, "XObject" => w.xobjects },
        });
        kids.push(page_id.into());
    }
    let count = kids.len() as i64;
    doc.objects.insert(pages_id, dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }.into());
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    let info =
        doc.add_object(dictionary! { "Title" => text_string(title), "Producer" => Object::string_literal("formscan") });
    doc.trailer.set("Root", catalog);
    doc.trailer.set("Info", info);
    let mut out = std::io::BufWriter::new(out);
    doc.save_to(&mut out)?;
    out.flush()?;
    Ok(())
}

/// One embedded font: its Type0 dictionary and, per character, the subset glyph id and the
/// advance width in ems.
struct PdfFont {
    id: ObjectId,
    glyphs: HashMap<char, (u16, f64)>,
}

/// Slot of `kind` in the font table; the resource name is `F` followed by it.
fn font_index(kind: FontKind) -> usize {
    match kind {
        FontKind::Print => 0,
        FontKind::Hand => 1,
        FontKind::HandSeto => 2,
    }
}

/// Every font kind, in [`font_index`] order.
const FONT_KINDS: [FontKind; 3] = [FontKind::Print, FontKind::Hand, FontKind::HandSeto];

/// A font that cannot be read or subset is a broken bundled resource, not bad input.
fn font_err(kind: FontKind, what: impl fmt::Display) -> Error {
    Error::Model { name: "print font".into(), reason: format!("{kind:?} font: {what}") }
}

/// Embeds the bundled font `kind` cut to the glyphs of `chars`, as a composite font (ISO
/// 32000-1, 9.7): a Type0 font with the Identity-H CMap, so that every 2-byte code is a CID,
/// over a CIDFontType2 whose CIDToGIDMap is Identity, so that every CID is a glyph id of the
/// subset. The subsetter renumbers glyphs densely, so the codes in the content streams are the
/// *new* ids, and the subset has no `cmap`: copying text relies on the ToUnicode CMap alone.
fn embed_font(doc: &mut Document, kind: FontKind, chars: &BTreeSet<char>) -> Result<PdfFont> {
    let data = font_bytes(kind);
    let face = Face::parse(data, 0).map_err(|e| font_err(kind, e))?;
    let space = face.glyph_index(' ');
    // (char, old glyph, whether the font maps the char to that glyph itself)
    let old: Vec<(char, u16, bool)> = chars
        .iter()
        .map(|&c| match face.glyph_index(c) {
            Some(g) => (c, g.0, true),
            None if c.is_whitespace() => (c, space.map_or(0, |g| g.0), false),
            None => (c, 0, false),
        })
        .collect();
    let gids: Vec<u16> = old.iter().map(|&(_, g, _)| g).collect();
    let remap = GlyphRemapper::new_from_glyphs_sorted(&gids);
    let upem = f64::from(face.units_per_em().max(1));
    let advance = |g: u16| f64::from(face.glyph_hor_advance(GlyphId(g)).unwrap_or(0)) / upem;
    let em = |v: i16| (f64::from(v) * 1000.0 / upem).round() as i64;

    let mut glyphs = HashMap::with_capacity(old.len());
    let mut unicode: BTreeMap<u16, (bool, char)> = BTreeMap::new();
    for &(c, g, genuine) in &old {
        let new = remap.get(g).unwrap_or(0);
        glyphs.insert(c, (new, advance(g)));
        // A glyph borrowed for whitespace is copied as its own character when that is used too.
        let e = unicode.entry(new).or_insert((genuine, c));
        if genuine && !e.0 {
            *e = (true, c);
        }
    }
    // /W: the glyph widths in thousandths of an em (9.7.4.3); they must equal hmtx, since the
    // viewer advances by them and centred text was placed by hmtx.
    let widths: Vec<Object> = remap.remapped_gids().map(|g| Object::Real((advance(g) * 1000.0) as f32)).collect();
    let subset = subsetter::subset(data, 0, &remap).map_err(|e| font_err(kind, e))?;

    let tag = subset_tag(font_index(kind) as u8, remap.remapped_gids());
    let base = face
        .names()
        .into_iter()
        .filter(|n| n.name_id == name_id::POST_SCRIPT_NAME)
        .find_map(|n| n.to_string())
        .map(|s| s.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(56).collect::<String>())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("Formscan{kind:?}"));
    // A subset font's name is a six-letter tag, a plus sign and the PostScript name (9.6.4).
    let name = format!("{tag}+{base}");

    let len1 = subset.len() as i64;
    let file = Stream::new(dictionary! { "Length1" => len1, "Filter" => "FlateDecode" }, deflate(&subset)?);
    let file = doc.add_object(file);
    let bbox = face.global_bounding_box();
    let ascent = em(face.ascender());
    // Font descriptor (9.8): Symbolic (flag 3), as the glyphs go beyond the standard Latin
    // set; StemV has no table of its own, so it is estimated from the weight class.
    let descriptor = doc.add_object(dictionary! {
        "Type" => "FontDescriptor", "FontName" => name.clone(), "FontFile2" => file,
        "Flags" => if face.is_italic() { 4 + 64 } else { 4 }, "ItalicAngle" => face.italic_angle(),
        "FontBBox" => vec![em(bbox.x_min).into(), em(bbox.y_min).into(), em(bbox.x_max).into(), em(bbox.y_max).into()],
        "Ascent" => ascent, "Descent" => em(face.descender()), "CapHeight" => face.capital_height().map_or(ascent, em),
        "StemV" => (10.0 + 0.244 * (f64::from(face.weight().to_number()) - 50.0)).round() as i64,
    });
    // The CIDFont (9.7.4): Identity ordering, since the CIDs are plain glyph ids (9.7.3).
    let system_info = dictionary! {
        "Registry" => Object::string_literal("Adobe"), "Ordering" => Object::string_literal("Identity"), "Supplement" => 0,
    };
    let cid_font = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "CIDFontType2", "BaseFont" => name.clone(), "CIDSystemInfo" => system_info,
        "FontDescriptor" => descriptor, "DW" => 1000, "W" => vec![0.into(), widths.into()], "CIDToGIDMap" => "Identity",
    });
    let cmap = to_unicode_cmap(unicode.iter().map(|(&g, &(_, c))| (g, c)));
    let to_unicode = doc.add_object(Stream::new(dictionary! { "Filter" => "FlateDecode" }, deflate(cmap.as_bytes())?));
    // For a CIDFontType2 descendant the Type0 BaseFont is the CIDFont's name (9.7.6.1).
    let id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type0", "BaseFont" => name, "Encoding" => "Identity-H",
        "DescendantFonts" => vec![cid_font.into()], "ToUnicode" => to_unicode,
    });
    Ok(PdfFont { id, glyphs })
}

/// A ToUnicode CMap (ISO 32000-1, 9.10.3) mapping each 2-byte glyph code to UTF-16BE, the
/// only route from the subset's glyph ids back to text for copying, searching and
/// `pdftotext`. Glyph 0 (`.notdef`) stays unmapped. At most 100 entries per bfchar block.
fn to_unicode_cmap(map: impl Iterator<Item = (u16, char)>) -> String {
    use fmt::Write as _;
    let mut s = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    let entries: Vec<(u16, char)> = map.filter(|&(g, _)| g != 0).collect();
    for chunk in entries.chunks(100) {
        let _ = writeln!(s, "{} beginbfchar", chunk.len());
        for &(g, c) in chunk {
            let _ = write!(s, "<{g:04X}> <");
            for u in c.encode_utf16(&mut [0; 2]) {
                let _ = write!(s, "{u:04X}");
            }
            s.push_str(">\n");
        }
        s.push_str("endbfchar\n");
    }
    s.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    s
}

/// The six capital letters before a subset font's name, from an FNV-1a hash of the glyph set,
/// so the same document always gets the same names and different subsets usually differ.
fn subset_tag(seed: u8, gids: impl Iterator<Item = u16>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in std::iter::once(seed).chain(gids.flat_map(u16::to_le_bytes)) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (0..6).map(|i| char::from(b'A' + (h / 26u64.pow(i) % 26) as u8)).collect()
}

/// Image XObjects written so far, by `Arc` and by content, so that a logo on every page of a
/// 2,000-page print job is stored once.
#[derive(Default)]
struct Images<'a> {
    by_ptr: HashMap<*const Vec<u8>, ObjectId>,
    by_bytes: HashMap<&'a [u8], ObjectId>,
}

impl<'a> Images<'a> {
    fn get(&mut self, doc: &mut Document, img: &'a JpegImage) -> Result<ObjectId> {
        let ptr = std::sync::Arc::as_ptr(&img.data);
        if let Some(&id) = self.by_ptr.get(&ptr) {
            return Ok(id);
        }
        let bytes = img.data.as_slice();
        let id = match self.by_bytes.get(bytes) {
            Some(&id) => id,
            None => {
                let (w, h, comps) = jpeg_info(bytes)
                    .ok_or_else(|| Error::input("image is not an 8-bit baseline or progressive JPEG"))?;
                let space = match comps {
                    1 => "DeviceGray",
                    3 => "DeviceRGB",
                    n => return Err(Error::input(format!("JPEG with {n} components cannot be printed"))),
                };
                // The JPEG's own frame size wins over the struct's: the viewer decodes the data
                // with it, and a mismatch would make it reject the image.
                let dict = dictionary! {
                    "Type" => "XObject", "Subtype" => "Image", "Width" => w, "Height" => h,
                    "ColorSpace" => space, "BitsPerComponent" => 8, "Filter" => "DCTDecode",
                };
                let id = doc.add_object(Stream::new(dict, bytes.to_vec()));
                self.by_bytes.insert(bytes, id);
                id
            }
        };
        self.by_ptr.insert(ptr, id);
        Ok(id)
    }
}

/// Width, height and component count from a JPEG's SOF0–2 frame header; `None` for anything
/// PDF's DCTDecode filter cannot take (lossless, arithmetic or 12-bit coding) or cannot find.
fn jpeg_info(d: &[u8]) -> Option<(u16, u16, u8)> {
    if !d.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut i = 2;
    while i + 4 <= d.len() {
        if d[i] != 0xFF {
            return None;
        }
        let marker = d[i + 1];
        if marker == 0xFF || marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            i += if marker == 0xFF { 1 } else { 2 };
            continue;
        }
        let len = usize::from(u16::from_be_bytes([d[i + 2], d[i + 3]]));
        let seg = d.get(i + 4..i + 2 + len)?;
        match marker {
            0xC0..=0xC2 => {
                let s = seg.get(..6)?;
                let (h, w) = (u16::from_be_bytes([s[1], s[2]]), u16::from_be_bytes([s[3], s[4]]));
                return (s[0] == 8 && w > 0 && h > 0).then_some((w, h, s[5]));
            }
            0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF | 0xDA | 0xD9 => return None,
            _ => i += 2 + len,
        }
    }
    None
}

/// Content of one page under construction, with the resources it uses (setting a name again
/// keeps its first position, so the dictionaries stay in first-use order).
struct PageWriter<'f> {
    buf: Vec<u8>,
    fonts: &'f [Option<PdfFont>; FONT_KINDS.len()],
    font_dict: Dictionary,
    xobjects: Dictionary,
}

impl PageWriter<'_> {
    fn draw<'a>(&mut self, op: &'a DrawOp, doc: &mut Document, images: &mut Images<'a>) -> Result<()> {
        let b = &mut self.buf;
        match op {
            DrawOp::FillRect { rect, color } => {
                writeln!(b, "{} rg {} f", rgb(*color), re(rect))?;
            }
            DrawOp::StrokeRect { rect, color, width } => {
                writeln!(b, "{} RG {} w {} S", rgb(*color), N(width * PT_PER_MM), re(rect))?;
            }
            DrawOp::Line { from, to, color, width } => {
                let (f, t) = (xy(*from), xy(*to));
                writeln!(b, "{} RG {} w {f} m {t} l S", rgb(*color), N(width * PT_PER_MM))?;
            }
            DrawOp::Text { at, size, text, color, align, font } => {
                let i = font_index(*font);
                let fonts = self.fonts;
                let Some(f) = fonts[i].as_ref().filter(|_| !text.is_empty()) else {
                    return Ok(());
                };
                use fmt::Write as _;
                let mut hex = String::with_capacity(text.len() * 4 + 2);
                let mut advance = 0.0;
                for c in text.chars() {
                    let (g, a) = f.glyphs.get(&c).copied().unwrap_or((0, 0.0));
                    advance += a;
                    let _ = write!(hex, "{g:04X}");
                }
                // The Td origin is the baseline's left end; centring moves it by half the
                // run's advance, which the viewer reproduces exactly through /W.
                let x = match align {
                    Align::Left => at.x,
                    Align::Center => at.x - advance * size / 2.0,
                };
                let origin = xy(Point::new(x, at.y));
                writeln!(b, "{} rg BT /F{i} {} Tf {origin} Td <{hex}> Tj ET", rgb(*color), N(size * PT_PER_MM))?;
                self.font_dict.set(format!("F{i}"), f.id);
            }
            DrawOp::Image { rect, image } => {
                let id = images.get(doc, image)?;
                let name = format!("Im{}", id.0);
                // The image's unit square, first row on top, is stretched over the rectangle.
                let (w, h) = (N(rect.w * PT_PER_MM), N(rect.h * PT_PER_MM));
                let origin = xy(Point::new(rect.x, rect.bottom()));
                writeln!(b, "q {w} 0 0 {h} {origin} cm /{name} Do Q")?;
                self.xobjects.set(name, id);
            }
            DrawOp::Modules { rect, grid } => {
                let n = grid.size;
                if n.checked_mul(n) != Some(grid.dark.len()) {
                    return Err(Error::input(format!("module grid of size {n} has {} modules", grid.dark.len())));
                }
                if n == 0 {
                    return Ok(());
                }
                // One unit per module, origin at the symbol's top-left, y down: runs are
                // integer rectangles, so abutting modules share edges exactly, and one fill of
                // the whole path leaves no anti-aliasing seams between them.
                let (mw, mh) = (rect.w * PT_PER_MM / n as f64, rect.h * PT_PER_MM / n as f64);
                let origin = xy(Point::new(rect.x, rect.y));
                writeln!(b, "q {} 0 0 {} {origin} cm 0 0 0 rg", N(mw), N(-mh))?;
                let mut any = false;
                for (row, cells) in grid.dark.chunks(n).enumerate() {
                    let mut col = 0;
                    while col < n {
                        let start = col;
                        while col < n && cells[col] {
                            col += 1;
                        }
                        if col > start {
                            writeln!(b, "{start} {row} {} 1 re", col - start)?;
                            any = true;
                        }
                        col += 1;
                    }
                }
                b.extend_from_slice(if any { b"f Q\n" } else { b"Q\n" });
            }
        }
        Ok(())
    }
}

/// A number with at most four decimals (10⁻⁴ pt is 0.035 µm) and no exponent. Non-finite
/// values print as 0 and magnitudes are clamped, so no input can produce a token PDF rejects.
struct N(f64);

impl fmt::Display for N {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = if self.0.is_finite() { (self.0.clamp(-1e6, 1e6) * 1e4).round() / 1e4 } else { 0.0 };
        write!(f, "{}", if v == 0.0 { 0.0 } else { v })
    }
}

/// A template point (mm, y down) in PDF user space (pt, y up), as `x y`.
fn xy(p: Point) -> String {
    format!("{} {}", N(p.x * PT_PER_MM), N(PAGE_H_PT - p.y * PT_PER_MM))
}

/// A template rectangle as a `re` path from its bottom-left corner.
fn re(r: &Rect) -> String {
    format!("{} {} {} re", xy(Point::new(r.x, r.bottom())), N(r.w * PT_PER_MM), N(r.h * PT_PER_MM))
}

/// An sRGB colour as three DeviceRGB components (the operator follows).
fn rgb(Rgb(r, g, b): Rgb) -> String {
    let c = |v: u8| N(f64::from(v) / 255.0);
    format!("{} {} {}", c(r), c(g), c(b))
}

/// A PDF text string (7.9.2.2): PDFDocEncoding for ASCII, else UTF-16BE after a byte-order mark.
fn text_string(s: &str) -> Object {
    if s.is_ascii() {
        return Object::string_literal(s);
    }
    let mut b = vec![0xFE, 0xFF];
    b.extend(s.encode_utf16().flat_map(u16::to_be_bytes));
    Object::String(b, StringFormat::Hexadecimal)
}

/// zlib-compresses a stream body for /FlateDecode (7.4.4).
fn deflate(data: &[u8]) -> Result<Vec<u8>> {
    let mut e = ZlibEncoder::new(Vec::with_capacity(data.len() / 3 + 64), Compression::default());
    e.write_all(data)?;
    Ok(e.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::{ModuleGrid, A4_MM};
    use std::process::Command;
    use std::sync::Arc;

    const TITLE: &str = "社会保障卡申领登记表";

    fn jpeg(gray: bool) -> JpegImage {
        use image::ExtendedColorType::{Rgb8, L8};
        let (px, kind) = if gray { (vec![60u8; 128], L8) } else { ([20u8, 20, 120].repeat(128), Rgb8) };
        let mut data = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut data, 90).encode(&px, 16, 8, kind).unwrap();
        JpegImage { data: Arc::new(data), width: 16, height: 8 }
    }

    /// 21×21 modules in an irregular pattern with runs of several lengths.
    fn grid() -> ModuleGrid {
        ModuleGrid { size: 21, dark: (0..441usize).map(|i| (i * i + i / 21) % 5 < 2).collect() }
    }

    fn text(at: Point, size: f64, s: &str, align: Align, font: FontKind) -> DrawOp {
        DrawOp::Text { at, size, text: s.into(), color: Rgb::BLACK, align, font }
    }

    fn hand_char() -> char {
        let face = Face::parse(font_bytes(FontKind::Hand), 0).unwrap();
        ('\u{4e00}'..='\u{9fff}').find(|&c| face.glyph_index(c).is_some()).unwrap()
    }

    fn sample() -> Vec<PageDrawing> {
        let rgb = jpeg(false);
        let mut p1 = PageDrawing::default();
        p1.push(DrawOp::FillRect { rect: Rect::new(20.0, 30.0, 10.0, 5.0), color: Rgb::BLACK });
        p1.push(DrawOp::StrokeRect { rect: Rect::new(40.0, 30.0, 8.0, 8.0), color: Rgb::DROPOUT, width: 0.3 });
        let (from, to) = (Point::new(20.0, 60.0), Point::new(190.0, 60.0));
        p1.push(DrawOp::Line { from, to, color: Rgb::LABEL, width: 0.5 });
        p1.push(text(Point::new(105.0, 20.0), 6.0, TITLE, Align::Center, FontKind::Print));
        p1.push(text(Point::new(30.0, 100.0), 10.0, "HH", Align::Left, FontKind::Print));
        p1.push(text(Point::new(105.0, 130.0), 10.0, "HH", Align::Center, FontKind::Print));
        p1.push(DrawOp::Image { rect: Rect::new(150.0, 40.0, 30.0, 15.0), image: rgb.clone() });
        p1.push(DrawOp::Modules { rect: Rect::new(150.0, 200.0, 21.0, 21.0), grid: grid() });
        let mut p2 = PageDrawing::default();
        p2.push(DrawOp::Image { rect: Rect::new(10.0, 10.0, 30.0, 15.0), image: rgb.clone() });
        let copy = JpegImage { data: Arc::new(rgb.data.to_vec()), ..rgb };
        p2.push(DrawOp::Image { rect: Rect::new(50.0, 10.0, 30.0, 15.0), image: copy });
        p2.push(DrawOp::Image { rect: Rect::new(90.0, 10.0, 16.0, 8.0), image: jpeg(true) });
        p2.push(text(Point::new(20.0, 50.0), 8.0, "姓名 Tab\there", Align::Left, FontKind::Print));
        p2.push(text(Point::new(20.0, 70.0), 8.0, &hand_char().to_string(), Align::Left, FontKind::Hand));
        vec![p1, p2]
    }

    fn write(pages: &[PageDrawing]) -> Vec<u8> {
        let mut out = Vec::new();
        write_pdf(pages, TITLE, &mut out).unwrap();
        out
    }

    #[test]
    fn structure_fonts_and_images() {
        let bytes = write(&sample());
        assert_eq!(bytes, write(&sample()), "output must be deterministic");
        let doc = Document::load_mem(&bytes).unwrap();
        let pages = doc.get_pages();
        assert_eq!(pages.len(), 2);
        for id in pages.values() {
            let mb = doc.get_dictionary(*id).unwrap().get(b"MediaBox").unwrap().as_array().unwrap();
            let mb: Vec<f32> = mb.iter().map(|o| o.as_float().unwrap()).collect();
            assert_eq!(mb, [0.0, 0.0, 595.2756, 841.8898]);
            assert!((f64::from(mb[3]) - A4_MM.1 * PT_PER_MM).abs() < 1e-3);
        }
        let (mut fonts, mut images, mut cmaps) = (Vec::new(), Vec::new(), Vec::new());
        for obj in doc.objects.values() {
            let Ok(dict) = obj.as_dict().or_else(|_| obj.as_stream().map(|s| &s.dict)) else { continue };
            if let Ok(file) = dict.get(b"FontFile2") {
                let name = dict.get(b"FontName").unwrap().as_name().unwrap().to_vec();
                assert_eq!(name[6], b'+');
                assert!(name[..6].iter().all(u8::is_ascii_uppercase));
                let stream = doc.get_object(file.as_reference().unwrap()).unwrap().as_stream().unwrap();
                let font = stream.decompressed_content().unwrap();
                assert!(Face::parse(&font, 0).is_ok());
                fonts.push(font.len());
            }
            if dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Image") {
                images.push(dict.get(b"ColorSpace").unwrap().as_name().unwrap().to_vec());
            }
            if let Ok(tu) = dict.get(b"ToUnicode") {
                let cmap = doc.get_object(tu.as_reference().unwrap()).unwrap().as_stream().unwrap();
                cmaps.push(String::from_utf8(cmap.decompressed_content().unwrap()).unwrap());
            }
        }
        for c in TITLE.chars().chain([hand_char()]) {
            assert!(cmaps.iter().any(|m| m.contains(&format!("> <{:04X}>", c as u32))), "ToUnicode lacks {c}");
        }
        assert_eq!(fonts.len(), 2, "print and hand fonts");
        assert!(fonts.iter().all(|&n| n < 50_000), "subset sizes {fonts:?}");
        images.sort();
        assert_eq!(images, [b"DeviceGray".to_vec(), b"DeviceRGB".to_vec()], "identical images stored once");
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        let write_ops = |ops: Vec<DrawOp>| write_pdf(&[PageDrawing { ops }], "ascii (title) \\", Vec::new());
        assert!(matches!(write_pdf(&[], "", Vec::new()), Err(Error::Input { .. })));
        let image = JpegImage { data: Arc::new(vec![0xFF, 0xD8, 0xFF, 0xC0, 0, 1]), width: 1, height: 1 };
        assert!(matches!(write_ops(vec![DrawOp::Image { rect: Rect::default(), image }]), Err(Error::Input { .. })));
        let grid = ModuleGrid { size: 3, dark: vec![true] };
        assert!(matches!(write_ops(vec![DrawOp::Modules { rect: Rect::default(), grid }]), Err(Error::Input { .. })));
        write_ops(vec![
            text(Point::new(f64::NAN, f64::INFINITY), -1.0, "\u{10FFFF}x", Align::Center, FontKind::Print),
            text(Point::new(1.0, 1.0), 1.0, "", Align::Left, FontKind::Hand),
            DrawOp::Modules { rect: Rect::default(), grid: ModuleGrid { size: 0, dark: vec![] } },
            DrawOp::FillRect { rect: Rect::new(1e300, -1e300, f64::NAN, 0.0), color: Rgb::BLACK },
        ])
        .unwrap();
    }

    /// Runs a poppler tool; `None` (with a note) when it is not installed.
    fn poppler(tool: &str, args: &[&str]) -> Option<String> {
        match Command::new(tool).args(args).output() {
            Ok(o) if o.status.success() => Some(String::from_utf8_lossy(&o.stdout).into_owned()),
            Ok(o) => panic!("{tool} failed: {}", String::from_utf8_lossy(&o.stderr)),
            Err(_) => {
                eprintln!("note: {tool} not on PATH (poppler-utils); skipping its checks");
                None
            }
        }
    }

    /// Page 1 rasterised by poppler at 254 dpi (10 px per mm): marks must land where the
    /// template says to a tenth of a millimetre, and the text must come back out.
    #[test]
    fn poppler_renders_marks_in_place() {
        let dir = std::env::temp_dir().join(format!("formscan-pdf-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pdf = dir.join("t.pdf");
        std::fs::write(&pdf, write(&sample())).unwrap();
        let pdf_s = pdf.to_str().unwrap();
        if let Some(fonts) = poppler("pdffonts", &[pdf_s]) {
            eprintln!("{fonts}");
            let rows: Vec<&str> = fonts.lines().filter(|l| l.contains("CID TrueType")).collect();
            assert_eq!(rows.len(), 2, "{fonts}");
            assert!(rows.iter().all(|l| l.contains("Identity-H") && l.contains("yes yes yes")), "{fonts}");
        }
        if let Some(text) = poppler("pdftotext", &["-enc", "UTF-8", pdf_s, "-"]) {
            assert!(text.contains(TITLE), "{text}");
            assert!(text.contains("姓名"), "{text}");
        }
        let prefix = dir.join("p1");
        let args = ["-r", "254", "-f", "1", "-l", "1", "-gray", "-singlefile", pdf_s, prefix.to_str().unwrap()];
        if poppler("pdftoppm", &args).is_none() {
            return;
        }
        let pgm = std::fs::read(dir.join("p1.pgm")).unwrap();
        let header = String::from_utf8_lossy(&pgm[..15]).split_whitespace().map(String::from).collect::<Vec<_>>();
        let (w, h): (usize, usize) = (header[1].parse().unwrap(), header[2].parse().unwrap());
        let pix = &pgm[pgm.len() - w * h..];
        assert!((2100..=2101).contains(&w) && (2970..=2971).contains(&h), "{w}×{h}");
        let at = |x: f64, y: f64| pix[(y * 10.0) as usize * w + (x * 10.0) as usize];
        // The filled rectangle 20..30 × 30..35 mm, with its edges to 0.1 mm.
        assert!(at(25.0, 32.5) < 30 && at(20.05, 30.05) < 30 && at(29.95, 34.95) < 30);
        assert!(at(19.9, 32.5) > 225 && at(30.1, 32.5) > 225 && at(25.0, 29.9) > 225 && at(25.0, 35.1) > 225);
        assert!(at(100.0, 280.0) > 250, "blank paper stays white");
        assert!(at(165.0, 47.5) < 128, "the dark-blue image");
        for (i, &dark) in grid().dark.iter().enumerate() {
            let v = at(150.5 + (i % 21) as f64, 200.5 + (i / 21) as f64);
            assert_eq!(v < 30, dark, "module {i}: {v}");
        }
        // "HH" ink must match the glyph outlines placed at the baseline anchor.
        let face = Face::parse(font_bytes(FontKind::Print), 0).unwrap();
        let gid = face.glyph_index('H').unwrap();
        let bb = face.glyph_bounding_box(gid).unwrap();
        let adv = f64::from(face.glyph_hor_advance(gid).unwrap()) / 1000.0 * 10.0;
        for (x0, y) in [(30.0, 100.0), (105.0 - adv, 130.0)] {
            let (mut min, mut max) = ((usize::MAX, usize::MAX), (0, 0));
            for py in (y as usize - 15) * 10..(y as usize + 5) * 10 {
                for px in (x0 as usize - 5) * 10..(x0 as usize + 30) * 10 {
                    if pix[py * w + px] < 128 {
                        min = (min.0.min(px), min.1.min(py));
                        max = (max.0.max(px + 1), max.1.max(py + 1));
                    }
                }
            }
            let mm = |v: usize| v as f64 / 10.0;
            let ink = [mm(min.0), mm(min.1), mm(max.0), mm(max.1)];
            let want = [
                x0 + f64::from(bb.x_min) / 100.0,
                y - f64::from(bb.y_max) / 100.0,
                x0 + adv + f64::from(bb.x_max) / 100.0,
                y - f64::from(bb.y_min) / 100.0,
            ];
            for (a, b) in ink.iter().zip(want) {
                assert!((a - b).abs() <= 0.15, "ink {ink:?}, outlines {want:?}");
            }
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
