//! Scanner PDFs: each page wraps one scanned image, which is found and decoded directly,
//! without a PDF renderer.
//!
//! Opening parses the document once (lopdf), picks each page's scan (the largest image XObject
//! the page draws) and keeps only that image's description and compressed bytes, so the parsed
//! document is dropped before any page is decoded. A page whose image cannot be found or is in
//! an unsupported encoding becomes a failed page: its error surfaces in `decode_page` and the
//! other pages still decode.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::Arc;

use image::{DynamicImage, GrayImage, RgbImage};
use lopdf::{Dictionary, Document, Object, ObjectId, Stream};

use super::{check_pages, check_pixels, decode_jpeg, DecodeLimits, PageKind};
use crate::error::{Error, Result};

/// Most bytes of content stream read in one file to find which images its pages draw. A
/// scanner page draws its image in a few dozen bytes; this bounds the work a hostile file can
/// cause. Once spent, every image in a page's resources counts as drawn.
const CONTENT_BUDGET: u64 = 64 << 20;

/// Most form XObjects searched for a page's image.
const MAX_FORMS: usize = 64;

/// A page's scanned image: its XObject dictionary, digested, and its still-compressed bytes.
#[derive(Clone)]
pub(super) struct PdfImage {
    width: u32,
    height: u32,
    /// Bits per component; 8 for JPEG.
    bits: u8,
    /// `None` only for JPEG without /ColorSpace, whose own header then says.
    colour: Option<Colour>,
    filter: Filter,
    /// /Decode is [1 0 …]: samples are inverted (e.g. 1-bit scans stored with 1 = black).
    invert: bool,
    /// Shared: several pages may draw the same image.
    data: Arc<Vec<u8>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Colour {
    Gray,
    Rgb,
    Cmyk,
}

impl Colour {
    fn components(self) -> usize {
        match self {
            Colour::Gray => 1,
            Colour::Rgb => 3,
            Colour::Cmyk => 4,
        }
    }
}

#[derive(Clone, Copy)]
enum Filter {
    Raw,
    Flate(Predictor),
    Dct,
    /// CCITTFaxDecode, the usual bilevel scanner encoding.
    Fax(FaxParams),
}

/// /DecodeParms of a CCITTFaxDecode stream (PDF 32000-1:2008, table 11).
#[derive(Clone, Copy)]
struct FaxParams {
    /// < 0: pure two-dimensional Group 4 (T.6); 0: one-dimensional Group 3 (T.4 MH);
    /// > 0: mixed Group 3, which is not supported.
    k: i64,
    /// 1 bits are black (the default, false, makes 0 bits black).
    black_is_1: bool,
}

/// /DecodeParms of a FlateDecode stream.
#[derive(Clone, Copy)]
struct Predictor {
    /// 1: none, 2: TIFF horizontal differencing, ≥ 10: PNG filters, one per row.
    kind: i64,
    colors: usize,
    bits: usize,
    columns: usize,
}

/// What a page without a drawn image gets.
const NO_IMAGE: &str = "PDF page holds no scanned image";

/// Parses a PDF and describes each page's scan. Fails only if the whole file is unusable.
///
/// A stream whose /Length is wrong makes lopdf drop its object, so its page seems to hold no
/// image. Poppler recovers such files by looking for the `endstream` keyword instead
/// (`Parser::makeStream`, which re-measures a stream whose length disagrees); so does this,
/// when the first reading has failed pages or failed whole: see [`repair_lengths`].
pub(super) fn open(data: &[u8], limits: &DecodeLimits) -> Result<Vec<PageKind>> {
    let first = open_document(data, limits, &[]);
    let failed = |pages: &[PageKind]| pages.iter().filter(|p| matches!(p, PageKind::Failed(_))).count();
    let worth_repairing = match &first {
        Ok(pages) => pages.iter().any(|p| matches!(p, PageKind::Failed(r) if r == NO_IMAGE)),
        Err(e) => !e.to_string().contains("encrypted PDF"),
    };
    if !worth_repairing {
        return first;
    }
    let Some((fixed, streams)) = repair_lengths(data) else { return first };
    match (open_document(&fixed, limits, &streams), &first) {
        (Ok(repaired), Ok(pages)) if failed(&repaired) < failed(pages) => Ok(repaired),
        (Ok(repaired), Err(_)) => Ok(repaired),
        _ => first,
    }
}

/// A stream re-measured by [`repair_lengths`]: its object and where its data lies.
type Remeasured = (ObjectId, std::ops::Range<usize>);

/// Finds streams whose direct /Length disagrees with the position of their `endstream`, and
/// returns a copy of the file in which each such `/Length n` is blanked out (same size, so no
/// offset moves), with the objects and true extents of those streams. lopdf then loads the
/// objects without their data, which [`open_document`] fills in. `None` when every length is
/// right.
fn repair_lengths(data: &[u8]) -> Option<(Vec<u8>, Vec<Remeasured>)> {
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let mut fixed: Option<Vec<u8>> = None;
    let mut streams = Vec::new();
    let mut at = 0;
    while let Some(k) = data.get(at..).and_then(|d| find(d, b"stream")).map(|k| at + k) {
        at = k + 6;
        // The keyword after a dictionary, not `endstream` or the word inside data.
        let before = data[..k].iter().rev().position(|b| !b.is_ascii_whitespace()).map(|n| k - n);
        if k >= 3 && &data[k - 3..k] == b"end" || before.is_none_or(|b| b < 2 || &data[b - 2..b] != b">>") {
            continue;
        }
        let start = match data.get(at..at + 2) {
            Some([b'\r', b'\n']) => at + 2,
            Some([b'\n', _]) | Some([b'\r', _]) => at + 1,
            _ => continue,
        };
        let Some(end_kw) = data.get(start..).and_then(|d| find(d, b"endstream")).map(|e| start + e) else {
            continue;
        };
        let mut end = end_kw;
        if end > start && data[end - 1] == b'\n' {
            end -= 1;
        }
        if end > start && data[end - 1] == b'\r' {
            end -= 1;
        }
        // The object header `n g obj` before the dictionary.
        let from = k.saturating_sub(1 << 16);
        let Some(obj) = data[from..k].windows(3).rposition(|w| w == b"obj").map(|o| from + o) else { continue };
        let Some(id) = object_id_before(&data[..obj]) else { continue };
        let dict = &data[obj + 3..k];
        let Some(l) = find(dict, b"/Length") else { continue };
        let digits_at = l + 7 + dict[l + 7..].iter().take_while(|b| b.is_ascii_whitespace()).count();
        let digits = dict[digits_at..].iter().take_while(|b| b.is_ascii_digit()).count();
        let rest = &dict[digits_at + digits..];
        let rest = &rest[rest.iter().take_while(|b| b.is_ascii_whitespace()).count()..];
        // An indirect length (`12 0 R`) is not re-measured.
        if digits == 0 || rest.first().is_some_and(u8::is_ascii_digit) {
            continue;
        }
        let Ok(length) = std::str::from_utf8(&dict[digits_at..digits_at + digits]).unwrap_or("").parse::<usize>()
        else {
            continue;
        };
        // Writers differ on whether the EOL before `endstream` counts: both are right.
        if length == end - start || length == end_kw - start {
            at = end_kw + 9;
            continue;
        }
        let copy = fixed.get_or_insert_with(|| data.to_vec());
        let span = obj + 3 + l..obj + 3 + digits_at + digits;
        copy[span].fill(b' ');
        streams.push((id, start..end));
        at = end_kw + 9;
    }
    fixed.map(|f| (f, streams))
}

/// Parses `n g` at the end of `text` (before an `obj` keyword).
fn object_id_before(text: &[u8]) -> Option<ObjectId> {
    let text = &text[..text.len() - text.iter().rev().take_while(|b| b.is_ascii_whitespace()).count()];
    let g_len = text.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    let gen: u16 = std::str::from_utf8(&text[text.len() - g_len..]).ok()?.parse().ok()?;
    let text = &text[..text.len() - g_len];
    let text = &text[..text.len() - text.iter().rev().take_while(|b| b.is_ascii_whitespace()).count()];
    let n_len = text.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    let num: u32 = std::str::from_utf8(&text[text.len() - n_len..]).ok()?.parse().ok()?;
    Some((num, gen))
}

/// [`open`] on `data`, whose `remeasured` streams get their data from the given extents.
fn open_document(data: &[u8], limits: &DecodeLimits, remeasured: &[Remeasured]) -> Result<Vec<PageKind>> {
    let mut doc = match Document::load_mem(data) {
        Ok(doc) => doc,
        // lopdf may fail on an encryption dictionary it cannot handle; name the real cause.
        Err(_) if data.windows(8).any(|w| w == b"/Encrypt") => return Err(Error::input("encrypted PDF")),
        Err(e) => return Err(Error::input(format!("broken PDF: {e}"))),
    };
    // Refused even when lopdf could decrypt it with the empty user password: one simple rule,
    // and no page read through a half-supported security handler.
    if doc.trailer.has(b"Encrypt") {
        return Err(Error::input("encrypted PDF"));
    }
    for (id, range) in remeasured {
        if let Ok(stream) = doc.get_object_mut(*id).and_then(Object::as_stream_mut) {
            stream.set_content(data[range.clone()].to_vec());
        }
    }
    let page_ids: Vec<ObjectId> = doc.page_iter().collect();
    check_pages(page_ids.len(), limits)?;
    if page_ids.is_empty() {
        return Err(Error::input("broken PDF: no pages found"));
    }
    let mut shared: HashMap<ObjectId, Arc<Vec<u8>>> = HashMap::new();
    let mut budget = CONTENT_BUDGET;
    let mut pages = Vec::with_capacity(page_ids.len());
    for page_id in page_ids {
        pages.push(match page_image(&doc, page_id, &mut budget) {
            Ok((image_id, mut image)) => {
                // Move the compressed bytes out of the document instead of copying them.
                let bytes = shared.entry(image_id).or_insert_with(|| {
                    let stream = doc.get_object_mut(image_id).and_then(Object::as_stream_mut);
                    Arc::new(stream.map(|s| std::mem::take(&mut s.content)).unwrap_or_default())
                });
                image.data = Arc::clone(bytes);
                PageKind::Pdf(image)
            }
            Err(reason) => PageKind::Failed(reason),
        });
    }
    Ok(pages)
}

/// Finds the largest image a page draws and describes it; the error is the page's outcome.
fn page_image(
    doc: &Document,
    page_id: ObjectId,
    budget: &mut u64,
) -> std::result::Result<(ObjectId, PdfImage), String> {
    let page = doc.get_dictionary(page_id).map_err(|e| format!("broken PDF page: {e}"))?;
    let resources = inherited_resources(doc, page);
    // Only images the content stream actually draws count: some producers share one
    // resource dictionary, listing every page's scan, between all pages.
    let drawn = content_bytes(doc, page.get(b"Contents").ok(), budget).map(|c| drawn_names(&c));
    let mut search = Search { doc, budget, forms_seen: HashSet::new(), best: None };
    search.largest_image(resources, drawn.as_ref());
    let best = search.best;
    let (_, image_id) = best.ok_or_else(|| NO_IMAGE.to_string())?;
    let stream = doc.get_object(image_id).and_then(Object::as_stream).map_err(|e| format!("broken PDF image: {e}"))?;
    Ok((image_id, describe(doc, &stream.dict)?))
}

fn resolve<'a>(doc: &'a Document, object: &'a Object) -> Option<&'a Object> {
    doc.dereference(object).ok().map(|(_, o)| o)
}

fn get<'a>(doc: &'a Document, dict: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
    resolve(doc, dict.get(key).ok()?)
}

fn get_int(doc: &Document, dict: &Dictionary, key: &[u8]) -> Option<i64> {
    get(doc, dict, key)?.as_i64().ok()
}

/// /Resources is inheritable: the nearest one on the way up the page tree applies.
fn inherited_resources<'a>(doc: &'a Document, page: &'a Dictionary) -> Option<&'a Dictionary> {
    let mut node = page;
    for _ in 0..64 {
        if node.has(b"Resources") {
            return get(doc, node, b"Resources")?.as_dict().ok();
        }
        node = get(doc, node, b"Parent")?.as_dict().ok()?;
    }
    None
}

/// The decompressed content streams (an array of streams is concatenated). `None` when they
/// cannot be read, in which case every image in the resources is a candidate.
fn content_bytes(doc: &Document, contents: Option<&Object>, budget: &mut u64) -> Option<Vec<u8>> {
    let Some(contents) = contents else {
        return Some(Vec::new());
    };
    let streams: Vec<&Object> = match resolve(doc, contents)? {
        Object::Array(parts) => parts.iter().collect(),
        _ => vec![contents],
    };
    let mut out = Vec::new();
    for part in streams {
        let stream = resolve(doc, part)?.as_stream().ok()?;
        out.extend(stream_bytes(doc, stream, budget)?);
        out.push(b'\n');
    }
    Some(out)
}

/// A content stream's bytes, charged to `budget`; `None` once the budget is spent or when the
/// stream's filter is not Flate.
fn stream_bytes(doc: &Document, stream: &Stream, budget: &mut u64) -> Option<Vec<u8>> {
    let left = *budget;
    let mut out = Vec::new();
    // Read one byte past what is left, to tell "fits exactly" from "too long".
    match filter_names(doc, &stream.dict).as_slice() {
        [] => out.extend(stream.content.iter().take(left.saturating_add(1) as usize)),
        [f] if is_flate(f) => {
            let inflater = flate2::read::ZlibDecoder::new(stream.content.as_slice());
            // A content stream cut short still names the images it drew so far.
            let _ = inflater.take(left.saturating_add(1)).read_to_end(&mut out);
        }
        _ => return None,
    }
    // A stream over the budget spends all of it, so that hostile streams cannot each cost the
    // maximum.
    *budget = left.saturating_sub(out.len() as u64);
    (out.len() as u64 <= left).then_some(out)
}

/// The names used with the `Do` operator in a content stream. A small tokenizer that skips
/// strings, comments and inline image data, enough to find `/Im0 Do`.
fn drawn_names(content: &[u8]) -> HashSet<Vec<u8>> {
    let is_delim = |b: u8| b.is_ascii_whitespace() || b"()<>[]{}/%".contains(&b);
    let mut names = HashSet::new();
    let mut last_name: Option<&[u8]> = None;
    let mut i = 0;
    while let Some(&b) = content.get(i) {
        match b {
            b'/' => {
                let end = content[i + 1..].iter().position(|&c| is_delim(c)).map_or(content.len(), |n| i + 1 + n);
                last_name = Some(&content[i + 1..end]);
                i = end;
            }
            b'(' => {
                // Literal string: balanced parentheses, backslash escapes.
                let mut depth = 0usize;
                while let Some(&c) = content.get(i) {
                    match c {
                        b'\\' => i += 1,
                        b'(' => depth += 1,
                        b')' => depth -= 1,
                        _ => {}
                    }
                    i += 1;
                    if depth == 0 {
                        break;
                    }
                }
                last_name = None;
            }
            b'%' => i += content[i..].iter().position(|&c| c == b'\n' || c == b'\r').unwrap_or(content.len() - i),
            _ if is_delim(b) => i += 1,
            _ => {
                let end = content[i..].iter().position(|&c| is_delim(c)).map_or(content.len(), |n| i + n);
                match &content[i..end] {
                    b"Do" => names.extend(last_name.map(<[u8]>::to_vec)),
                    // Inline image data is binary: jump to the `EI` that ends it.
                    b"ID" => {
                        let rest = &content[end..];
                        let ei = rest
                            .windows(4)
                            .position(|w| w[0].is_ascii_whitespace() && &w[1..3] == b"EI" && is_delim(w[3]));
                        i = ei.map_or(content.len(), |n| end + n + 3);
                        last_name = None;
                        continue;
                    }
                    _ => {}
                }
                // `Do` takes the name right before it; any other token breaks that pairing.
                last_name = None;
                i = end;
            }
        }
    }
    names
}

/// The search for a page's largest drawn image.
struct Search<'a, 'b> {
    doc: &'a Document,
    budget: &'b mut u64,
    forms_seen: HashSet<ObjectId>,
    /// Declared pixel count and id of the largest image so far.
    best: Option<(u64, ObjectId)>,
}

impl Search<'_, '_> {
    /// Looks at the image XObjects drawn from `resources`, and into drawn form XObjects.
    /// `drawn: None` means every XObject counts.
    fn largest_image(&mut self, resources: Option<&Dictionary>, drawn: Option<&HashSet<Vec<u8>>>) {
        let doc = self.doc;
        let Some(xobjects) = resources.and_then(|r| get(doc, r, b"XObject")).and_then(|x| x.as_dict().ok()) else {
            return;
        };
        for (name, value) in xobjects.iter() {
            if drawn.is_some_and(|d| !d.contains(name)) {
                continue;
            }
            let Ok(id) = value.as_reference() else {
                continue;
            };
            let Ok(stream) = doc.get_object(id).and_then(Object::as_stream) else {
                continue;
            };
            match get(doc, &stream.dict, b"Subtype").and_then(|s| s.as_name().ok()) {
                Some(b"Image") => {
                    let side =
                        |key: &[u8]| get_int(doc, &stream.dict, key).unwrap_or(0).clamp(0, u32::MAX.into()) as u64;
                    let pixels = side(b"Width") * side(b"Height");
                    if self.best.is_none_or(|(most, _)| pixels > most) {
                        self.best = Some((pixels, id));
                    }
                }
                // Some producers wrap the scan in a form. Each form is searched once, which
                // also stops reference cycles and exponential fan-out.
                Some(b"Form") if self.forms_seen.len() < MAX_FORMS && self.forms_seen.insert(id) => {
                    let form_resources = get(doc, &stream.dict, b"Resources").and_then(|r| r.as_dict().ok());
                    let form_drawn = stream_bytes(doc, stream, self.budget).map(|c| drawn_names(&c));
                    self.largest_image(form_resources, form_drawn.as_ref());
                }
                _ => {}
            }
        }
    }
}

fn is_flate(name: &[u8]) -> bool {
    name == b"FlateDecode" || name == b"Fl"
}

fn is_dct(name: &[u8]) -> bool {
    name == b"DCTDecode" || name == b"DCT"
}

fn is_fax(name: &[u8]) -> bool {
    name == b"CCITTFaxDecode" || name == b"CCF"
}

/// The /Filter names in order; an entry that is not a name reads as "(invalid)", which no
/// decoder supports.
fn filter_names(doc: &Document, dict: &Dictionary) -> Vec<Vec<u8>> {
    let name = |f: &Object| match resolve(doc, f).map(Object::as_name) {
        Some(Ok(name)) => name.to_vec(),
        _ => b"(invalid)".to_vec(),
    };
    match get(doc, dict, b"Filter") {
        None => Vec::new(),
        Some(Object::Array(list)) => list.iter().map(name).collect(),
        Some(f) => vec![name(f)],
    }
}

/// Digests an image XObject dictionary, refusing what `decode` cannot handle.
fn describe(doc: &Document, dict: &Dictionary) -> std::result::Result<PdfImage, String> {
    let side = |key: &[u8]| {
        let value = get_int(doc, dict, key).and_then(|v| u32::try_from(v).ok()).filter(|&v| v > 0);
        value.ok_or_else(|| format!("broken PDF image: no valid /{}", String::from_utf8_lossy(key)))
    };
    let (width, height) = (side(b"Width")?, side(b"Height")?);
    let filters = filter_names(doc, dict);
    if let Some(name) = filters.iter().find(|f| !is_flate(f) && !is_dct(f) && !is_fax(f)) {
        let name = String::from_utf8_lossy(name);
        return Err(format!("unsupported PDF image filter /{name}"));
    }
    let (dct, fax) = match filters.as_slice() {
        [] => (false, false),
        [f] => (is_dct(f), is_fax(f)),
        _ => return Err("unsupported PDF image filter chain".to_string()),
    };
    let is_mask = matches!(get(doc, dict, b"ImageMask"), Some(Object::Boolean(true)));
    // A stencil mask paints sample 0 (black ink on white paper, as a 1-bit grey scan reads).
    let colour = match get(doc, dict, b"ColorSpace") {
        _ if is_mask => Some(Colour::Gray),
        None if dct => None,
        None => return Err("broken PDF image: no /ColorSpace".to_string()),
        Some(space) => Some(colour_space(doc, space)?),
    };
    let bits = match get_int(doc, dict, b"BitsPerComponent") {
        _ if is_mask || fax => 1,
        Some(bits @ (1 | 2 | 4 | 8 | 16)) => bits as u8,
        None if dct => 8,
        Some(bits) => return Err(format!("unsupported PDF image: {bits} bits per component")),
        None => return Err("broken PDF image: no /BitsPerComponent".to_string()),
    };
    let filter = match filters.first() {
        None => Filter::Raw,
        Some(_) if dct => Filter::Dct,
        Some(_) if fax => Filter::Fax(fax_params(doc, dict, width, height)?),
        Some(_) => {
            let components = colour.map_or(1, Colour::components);
            Filter::Flate(predictor(doc, dict, components, bits, width))
        }
    };
    let invert = match get(doc, dict, b"Decode").and_then(|d| d.as_array().ok()) {
        None => false,
        Some(range) => {
            let range: Vec<f32> = range.iter().filter_map(|v| v.as_float().ok()).collect();
            if range.chunks(2).all(|p| p == [0.0, 1.0]) {
                false
            } else if range.chunks(2).all(|p| p == [1.0, 0.0]) {
                true
            } else {
                return Err(format!("unsupported PDF image /Decode {range:?}"));
            }
        }
    };
    Ok(PdfImage { width, height, bits, colour, filter, invert, data: Arc::default() })
}

fn colour_space(doc: &Document, space: &Object) -> std::result::Result<Colour, String> {
    let (family, params) = match space {
        Object::Name(name) => (name.as_slice(), None),
        Object::Array(list) => match list.first().and_then(|f| resolve(doc, f)).and_then(|f| f.as_name().ok()) {
            Some(name) => (name, list.get(1).and_then(|p| resolve(doc, p))),
            None => return Err("broken PDF image: bad /ColorSpace".to_string()),
        },
        _ => return Err("broken PDF image: bad /ColorSpace".to_string()),
    };
    match family {
        b"DeviceGray" | b"CalGray" | b"G" => Ok(Colour::Gray),
        b"DeviceRGB" | b"CalRGB" | b"RGB" => Ok(Colour::Rgb),
        b"DeviceCMYK" | b"CMYK" => Ok(Colour::Cmyk),
        // An ICC profile's component count tells grey, RGB or CMYK; colour management is not
        // needed to read pen marks.
        b"ICCBased" => match params.and_then(|p| p.as_stream().ok()).and_then(|s| get_int(doc, &s.dict, b"N")) {
            Some(1) => Ok(Colour::Gray),
            Some(3) => Ok(Colour::Rgb),
            Some(4) => Ok(Colour::Cmyk),
            _ => Err("broken PDF image: bad ICC colour space".to_string()),
        },
        other => Err(format!("unsupported PDF colour space /{}", String::from_utf8_lossy(other))),
    }
}

/// Reads a CCITTFaxDecode stream's /DecodeParms. /Columns and /Rows must agree with the image's
/// /Width and /Height when given (the decoder is run with the image's size).
fn fax_params(doc: &Document, dict: &Dictionary, width: u32, height: u32) -> std::result::Result<FaxParams, String> {
    let parms = match get(doc, dict, b"DecodeParms") {
        Some(Object::Array(list)) => list.first().and_then(|p| resolve(doc, p)),
        other => other,
    };
    let parms = parms.and_then(|p| p.as_dict().ok());
    let int = |key: &[u8]| parms.and_then(|p| get_int(doc, p, key));
    let flag = |key: &[u8]| parms.and_then(|p| get(doc, p, key)).and_then(|v| v.as_bool().ok()).unwrap_or(false);
    let k = int(b"K").unwrap_or(0);
    if k > 0 {
        return Err("unsupported PDF image: mixed one- and two-dimensional CCITT G3 (K > 0)".to_string());
    }
    if int(b"Columns").is_some_and(|c| c != i64::from(width))
        || int(b"Rows").is_some_and(|r| r > 0 && r != i64::from(height))
    {
        return Err("broken PDF image: CCITT /Columns or /Rows disagree with the image size".to_string());
    }
    if width > u32::from(u16::MAX) || height > u32::from(u16::MAX) {
        return Err(format!("unsupported PDF image: CCITT image of {width}×{height} pixels"));
    }
    if flag(b"EncodedByteAlign") {
        return Err("unsupported PDF image: byte-aligned CCITT rows (EncodedByteAlign)".to_string());
    }
    Ok(FaxParams { k, black_is_1: flag(b"BlackIs1") })
}

/// Reads /DecodeParms, defaulting to the image's own layout where a field is missing (the spec
/// defaults, 1 colour of 8 bits in 1 column, are wrong for any real scan).
fn predictor(doc: &Document, dict: &Dictionary, colors: usize, bits: u8, width: u32) -> Predictor {
    let parms = match get(doc, dict, b"DecodeParms") {
        Some(Object::Array(list)) => list.first().and_then(|p| resolve(doc, p)),
        other => other,
    };
    let parms = parms.and_then(|p| p.as_dict().ok());
    let field = |key: &[u8], default: usize| {
        parms.and_then(|p| get_int(doc, p, key)).and_then(|v| usize::try_from(v).ok()).unwrap_or(default)
    };
    Predictor {
        kind: parms.and_then(|p| get_int(doc, p, b"Predictor")).unwrap_or(1),
        colors: field(b"Colors", colors),
        bits: field(b"BitsPerComponent", usize::from(bits)),
        columns: field(b"Columns", width as usize),
    }
}

/// Decodes a page's scan to Luma8 or Rgb8.
pub(super) fn decode(image: &PdfImage, limits: &DecodeLimits) -> Result<DynamicImage> {
    match image.filter {
        Filter::Dct => {
            if image.invert && image.colour == Some(Colour::Cmyk) {
                return Err(Error::input("unsupported PDF image: inverted CMYK JPEG"));
            }
            let mut decoded = decode_jpeg(&image.data, limits, Vec::new())?;
            if image.invert {
                decoded.invert();
            }
            Ok(decoded)
        }
        Filter::Raw | Filter::Flate(_) => decode_samples(image, limits),
        Filter::Fax(params) => decode_fax(image, params, limits),
    }
}

/// Decodes a CCITT (ITU-T T.4 / T.6) bilevel image with the `fax` crate to Luma8: black 0,
/// white 255, after /BlackIs1 and /Decode. Missing rows at the end (some encoders stop at the
/// last black row) are white; a stream that stops in the middle of a row is an error.
fn decode_fax(image: &PdfImage, params: FaxParams, limits: &DecodeLimits) -> Result<DynamicImage> {
    check_pixels(image.width, image.height, limits)?;
    let (w, h) = (image.width as usize, image.height as usize);
    let mut pixels = Vec::with_capacity(w * h);
    // With BlackIs1 false, the filter writes 0 for black, and sample 0 is black; with it
    // true, black comes out as 1, which DeviceGray shows white unless /Decode inverts it.
    let (black, white) = if params.black_is_1 { (255u8, 0u8) } else { (0, 255) };
    let mut rows = 0usize;
    let mut line = |transitions: &[u16]| {
        if rows < h {
            pixels.extend(fax::decoder::pels(transitions, w as u16).map(|c| match c {
                fax::Color::Black => black,
                fax::Color::White => white,
            }));
            rows += 1;
        }
    };
    let data = image.data.iter().copied();
    let ok = if params.k < 0 {
        fax::decoder::decode_g4(data, w as u16, Some(h as u16), &mut line)
    } else {
        fax::decoder::decode_g3(data, &mut line)
    };
    if ok.is_none() && rows == 0 {
        return Err(Error::input("corrupt PDF image data: CCITT stream does not decode"));
    }
    if ok.is_none() {
        return Err(Error::input(format!("corrupt PDF image data: CCITT stream fails after {rows} of {h} rows")));
    }
    pixels.resize(w * h, white);
    if image.invert {
        pixels.iter_mut().for_each(|s| *s = !*s);
    }
    let wrong = || Error::input("PDF image: sample count mismatch");
    Ok(DynamicImage::ImageLuma8(GrayImage::from_raw(image.width, image.height, pixels).ok_or_else(wrong)?))
}

/// Decodes uncompressed or Flate samples. For the common 8-bit grey or RGB scan the inflated
/// buffer becomes the image buffer: no copy.
fn decode_samples(image: &PdfImage, limits: &DecodeLimits) -> Result<DynamicImage> {
    check_pixels(image.width, image.height, limits)?;
    let colour = image.colour.unwrap_or(Colour::Gray);
    let (width, height) = (image.width as usize, image.height as usize);
    let comps = colour.components();
    let bits = usize::from(image.bits);
    let too_big = || Error::input("PDF image too large for this machine");
    let row_bytes = width.checked_mul(comps * bits).ok_or_else(too_big)?.div_ceil(8);
    let size = row_bytes.checked_mul(height).ok_or_else(too_big)?;
    let mut samples = match image.filter {
        Filter::Flate(p) if p.kind >= 10 => {
            let pred_row = p.columns.saturating_mul(p.colors).saturating_mul(p.bits).div_ceil(8);
            if pred_row != row_bytes {
                return Err(Error::input("broken PDF image: /DecodeParms disagree with the image size"));
            }
            // Each row is preceded by its filter-type byte.
            let mut data = inflate(&image.data, size + height)?;
            let bpp = p.colors.saturating_mul(p.bits).div_ceil(8).max(1);
            unfilter_png(&mut data, row_bytes, height, bpp)?;
            data
        }
        Filter::Flate(p) if p.kind > 2 => {
            let kind = p.kind;
            return Err(Error::input(format!("unsupported PDF image predictor {kind}")));
        }
        Filter::Flate(p) => {
            let mut data = inflate(&image.data, size)?;
            if p.kind == 2 {
                if bits != 8 {
                    return Err(Error::input(format!("unsupported PDF image: TIFF predictor on {bits}-bit samples")));
                }
                for row in data.chunks_exact_mut(row_bytes) {
                    for i in comps..row.len() {
                        row[i] = row[i].wrapping_add(row[i - comps]);
                    }
                }
            }
            data
        }
        _ => {
            let data = image.data.get(..size).ok_or_else(|| short(image.data.len(), size))?;
            data.to_vec()
        }
    };
    samples = to_8bit_samples(samples, width * comps, row_bytes, bits);
    if image.invert {
        samples.iter_mut().for_each(|s| *s = !*s);
    }
    let (w, h) = (image.width, image.height);
    let wrong = || Error::input("PDF image: sample count mismatch");
    Ok(match colour {
        Colour::Gray => DynamicImage::ImageLuma8(GrayImage::from_raw(w, h, samples).ok_or_else(wrong)?),
        Colour::Rgb => DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, samples).ok_or_else(wrong)?),
        Colour::Cmyk => {
            // Naive CMYK to RGB, in place (each RGB pixel is written behind its CMYK source).
            let pixels = samples.len() / 4;
            for i in 0..pixels {
                let [c, m, y, k] = [0, 1, 2, 3].map(|j| u32::from(255 - samples[4 * i + j]));
                samples[3 * i..3 * i + 3].copy_from_slice(&[c, m, y].map(|v| (v * k / 255) as u8));
            }
            samples.truncate(pixels * 3);
            DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, samples).ok_or_else(wrong)?)
        }
    })
}

fn short(got: usize, want: usize) -> Error {
    Error::input(format!("truncated PDF image data: {got} of {want} bytes"))
}

/// Inflates exactly `want` bytes; more is never produced, so a Flate bomb costs nothing.
fn inflate(data: &[u8], want: usize) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(want);
    let result = flate2::read::ZlibDecoder::new(data).take(want as u64).read_to_end(&mut out);
    // Some writers end streams without a valid checksum: enough bytes is good enough.
    match result {
        _ if out.len() == want => Ok(out),
        Err(e) => Err(Error::input(format!("corrupt PDF image data: {e}"))),
        Ok(_) => Err(short(out.len(), want)),
    }
}

/// Undoes PNG row filters in place and drops the filter byte that starts each row, leaving
/// `height` rows of `row_bytes`.
fn unfilter_png(data: &mut Vec<u8>, row_bytes: usize, height: usize, bpp: usize) -> Result<()> {
    for r in 0..height {
        let src = r * (row_bytes + 1);
        let kind = data[src];
        data.copy_within(src + 1..src + 1 + row_bytes, r * row_bytes);
        let (done, rest) = data.split_at_mut(r * row_bytes);
        let row = &mut rest[..row_bytes];
        let up = |i: usize| {
            if r == 0 {
                0
            } else {
                done[(r - 1) * row_bytes + i]
            }
        };
        match kind {
            0 => {}
            1 => (bpp..row_bytes).for_each(|i| row[i] = row[i].wrapping_add(row[i - bpp])),
            2 if r > 0 => (0..row_bytes).for_each(|i| row[i] = row[i].wrapping_add(up(i))),
            2 => {}
            3 => (0..row_bytes).for_each(|i| {
                let left = if i >= bpp { row[i - bpp] } else { 0 };
                row[i] = row[i].wrapping_add(((u16::from(left) + u16::from(up(i))) / 2) as u8);
            }),
            4 => (0..row_bytes).for_each(|i| {
                let (a, b) = (if i >= bpp { row[i - bpp] } else { 0 }, up(i));
                let c = if i >= bpp { up(i - bpp) } else { 0 };
                row[i] = row[i].wrapping_add(paeth(a, b, c));
            }),
            other => return Err(Error::input(format!("corrupt PDF image data: PNG filter {other}"))),
        }
    }
    data.truncate(row_bytes * height);
    Ok(())
}

pub(super) fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = ((p - i16::from(a)).abs(), (p - i16::from(b)).abs(), (p - i16::from(c)).abs());
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

/// Turns rows of `bits`-bit samples into 8-bit samples, `per_row` a row: 1, 2 and 4 bits are
/// scaled to 0..=255 (1-bit: 0 → 0, 1 → 255), 16 bits keep their high byte.
fn to_8bit_samples(data: Vec<u8>, per_row: usize, row_bytes: usize, bits: usize) -> Vec<u8> {
    match bits {
        8 => data,
        16 => {
            let mut data = data;
            for i in 0..data.len() / 2 {
                data[i] = data[2 * i];
            }
            data.truncate(data.len() / 2);
            data
        }
        _ => {
            let (max, per_byte) = ((1u8 << bits) - 1, 8 / bits);
            let scale = 255 / max;
            let mut out = Vec::with_capacity(per_row * (data.len() / row_bytes.max(1)));
            for row in data.chunks_exact(row_bytes) {
                let samples = row
                    .iter()
                    .flat_map(|&byte| (0..per_byte).map(move |j| ((byte >> (8 - bits * (j + 1))) & max) * scale));
                out.extend(samples.take(per_row));
            }
            out
        }
    }
}
