//! Turns scan files (JPEG, PNG, multi-page TIFF, scanner PDFs) into 8-bit page images, safely.
//!
//! Scan files come from a vendor and are untrusted: any of them may be truncated, mislabelled
//! or hostile. Decoding is therefore split in two steps so that every page ends with exactly one
//! outcome and one bad page never takes its neighbours down:
//!
//! 1. [`open_file`] / [`open_bytes`] sniff the format from magic bytes, apply the file-size and
//!    page-count limits and split the file into [`PageSource`]s without decoding pixels. Only
//!    problems that make the whole file unusable (empty, not an image, broken or encrypted PDF)
//!    fail here.
//! 2. [`decode_page`] decodes one page, checking its pixel count against the limit *before* any
//!    pixel buffer is allocated. Problems confined to one page (an unsupported PDF filter, a
//!    damaged TIFF directory, a truncated JPEG) surface here, for that page only.
//!
//! Decoders are third-party code fed with hostile bytes, so both steps also turn a panic into an
//! [`Error::Input`] rather than letting it stop a batch.

pub(crate) mod dct;
mod jpeg_scan;
mod pdf;

use std::collections::HashSet;
use std::fmt;
use std::io::{self, BufRead, Cursor, Read, Seek, SeekFrom};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::codecs::{png::PngDecoder, tiff::TiffDecoder};
use image::{DynamicImage, ImageDecoder, ImageError};

use crate::error::{Error, Result};

/// Limits applied to untrusted scan files.
///
/// Each default is generous for real scans yet stops a hostile file from exhausting memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest file read, in bytes. Default 256 MiB: some 200 colour pages at 300 dpi (0.5–1.5
    /// MB each as JPEG), or 2000 bilevel ones; the whole file stays in memory while its pages are
    /// decoded.
    pub max_file_bytes: u64,
    /// Largest page, in pixels (width × height), checked before the pixel buffer is allocated.
    /// Default 120 Mpx: A3 at 600 dpi is 70 Mpx, so no real form comes near, while a
    /// decompression bomb declaring 60000×60000 px (3.6 Gpx, 10 GiB in RGB) is refused.
    pub max_pixels: u64,
    /// Most pages in one file. Default 2000: more than a real file within the size limit holds,
    /// so a larger count hints at a corrupt page tree or IFD chain.
    pub max_pages: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits { max_file_bytes: 256 << 20, max_pixels: 120_000_000, max_pages: 2000 }
    }
}

/// Extensions picked up inside folders (compared in lower case).
const SCAN_EXTENSIONS: [&str; 6] = ["jpg", "jpeg", "png", "tif", "tiff", "pdf"];

/// Recursively lists the scan files under `paths`, sorted and de-duplicated.
///
/// A file named explicitly is always kept, whatever its extension (the caller asked for it, and
/// formats are sniffed from content anyway). Inside folders only `.jpg .jpeg .png .tif .tiff .pdf`
/// files are kept, case-insensitively, and hidden files and folders (names starting with '.')
/// are skipped. Symbolic links are followed, each folder visited once. A path that does not exist
/// is an [`Error::Input`]; an unreadable folder is an [`Error::Io`]. A named path that is no
/// regular file (a FIFO, a device) is listed, so that it gets an outcome of its own from
/// [`open_file`], which refuses it without opening it; inside folders such entries are skipped.
pub fn list_inputs(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut seen_dirs = HashSet::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::input_at(path, "no such file or folder"),
            _ => Error::io_at(path, e),
        })?;
        if meta.is_dir() {
            walk_dir(path, &mut seen_dirs, &mut out)?;
        } else {
            out.push(path.clone());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk_dir(dir: &Path, seen: &mut HashSet<PathBuf>, out: &mut Vec<PathBuf>) -> Result<()> {
    // Canonical paths guard against symlink loops and folders reached twice.
    let canonical = dir.canonicalize().map_err(|e| Error::io_at(dir, e))?;
    if !seen.insert(canonical) {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io_at(dir, e))? {
        let entry = entry.map_err(|e| Error::io_at(dir, e))?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        // `fs::metadata` follows symlinks; a dangling link is skipped rather than failing a run.
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            walk_dir(&path, seen, out)?;
        } else if meta.is_file() && has_scan_extension(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// Why a path that is no regular file cannot be read, in words.
fn not_regular(meta: &std::fs::Metadata) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        let what = if t.is_fifo() {
            "a named pipe (FIFO)"
        } else if t.is_socket() {
            "a socket"
        } else if t.is_block_device() || t.is_char_device() {
            "a device"
        } else if t.is_dir() {
            "a folder"
        } else {
            "not a regular file"
        };
        format!("{what}, not a scan file: only regular files are read")
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        "not a regular file: only regular files are read".to_string()
    }
}

/// Whether `path` is a regular file (following symbolic links), checked without opening it: a
/// FIFO would block the opener.
pub fn is_regular_file(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file())
}

/// The name a scan file is recorded under (`source.file` of its records, the store's path):
/// the path as given, with every byte that is not UTF-8 written `\xNN` and every backslash
/// `\\`, so that two files whose names differ only in such bytes keep distinct names (Rust's
/// `Path::display` would turn both into U+FFFD).
pub fn path_label(path: &Path) -> String {
    #[cfg(unix)]
    {
        use std::fmt::Write;
        use std::os::unix::ffi::OsStrExt;
        let bytes = path.as_os_str().as_bytes();
        let mut out = String::with_capacity(bytes.len());
        for chunk in bytes.utf8_chunks() {
            for c in chunk.valid().chars() {
                if c == '\\' {
                    out.push_str("\\\\");
                } else {
                    out.push(c);
                }
            }
            for b in chunk.invalid() {
                let _ = write!(out, "\\x{b:02X}");
            }
        }
        out
    }
    #[cfg(not(unix))]
    {
        path.display().to_string()
    }
}

fn has_scan_extension(path: &Path) -> bool {
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
    ext.is_some_and(|ext| SCAN_EXTENSIONS.contains(&ext.as_str()))
}

/// One page of a scan file, not yet decoded.
///
/// Cheap to hold and to clone: the file's compressed bytes are shared by [`Arc`], so a batch can
/// open files ahead and decode pages in parallel. Decode it with [`decode_page`].
#[derive(Clone)]
pub struct PageSource {
    index: usize,
    path: Option<Arc<Path>>,
    kind: PageKind,
}

#[derive(Clone)]
enum PageKind {
    Jpeg(Arc<Vec<u8>>),
    Png(Arc<Vec<u8>>),
    /// A TIFF page is the image file directory at `ifd` (byte offset) of the shared file.
    Tiff {
        data: Arc<Vec<u8>>,
        ifd: u64,
        big: bool,
    },
    Pdf(pdf::PdfImage),
    /// A page known to exist but already known to be undecodable, with the reason why. Kept
    /// as a page so that it still gets an outcome (an error) of its own.
    Failed(String),
}

impl PageSource {
    /// The 0-based index of this page in its file.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The file this page came from, when it was opened with [`open_file`].
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

impl fmt::Debug for PageSource {
    // Hand-written so that debugging output never dumps megabytes of compressed data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            PageKind::Jpeg(_) => "JPEG",
            PageKind::Png(_) => "PNG",
            PageKind::Tiff { .. } => "TIFF",
            PageKind::Pdf(_) => "PDF",
            PageKind::Failed(_) => "undecodable",
        };
        f.debug_struct("PageSource").field("index", &self.index).field("path", &self.path).field("kind", &kind).finish()
    }
}

/// Reads the file at `path` and splits it into pages without decoding pixels.
///
/// The format is sniffed from magic bytes, never from the extension, so a text file named `.jpg`
/// is an [`Error::Input`] ("not an image or PDF"). An empty file is an input error
/// ("empty file"); a file over `max_file_bytes`, or with more than `max_pages` pages, is an
/// [`Error::Limits`]. Errors carry `path`.
pub fn open_file(path: &Path, limits: &DecodeLimits) -> Result<Vec<PageSource>> {
    // Only regular files: opening a FIFO blocks until a writer comes (forever, in a batch), and
    // a device or socket is no scan. Checked before opening, by the path's metadata.
    let meta = std::fs::metadata(path).map_err(|e| Error::io_at(path, e))?;
    if !meta.is_file() {
        return Err(Error::input_at(path, not_regular(&meta)));
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io_at(path, e))?;
    let len = file.metadata().map_err(|e| Error::io_at(path, e))?.len();
    check_file_bytes(len, limits).map_err(|e| e.with_path(path))?;
    // Read at most one byte past the limit: the file may grow after `metadata`, or be a device.
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(limits.max_file_bytes.saturating_add(1)).read_to_end(&mut bytes).map_err(|e| Error::io_at(path, e))?;
    let path: Arc<Path> = Arc::from(path);
    let mut pages = open_bytes(bytes, limits).map_err(|e| e.with_path(path.as_ref()))?;
    for page in &mut pages {
        page.path = Some(Arc::clone(&path));
    }
    Ok(pages)
}

/// Splits a scan file already in memory into pages without decoding pixels.
///
/// Behaves as [`open_file`], except that errors and pages carry no path.
pub fn open_bytes(bytes: Vec<u8>, limits: &DecodeLimits) -> Result<Vec<PageSource>> {
    check_file_bytes(bytes.len() as u64, limits)?;
    if bytes.is_empty() {
        return Err(Error::input("empty file"));
    }
    let data = Arc::new(bytes);
    let kinds = guard("file", || match sniff(&data) {
        Some(Format::Jpeg) => Ok(vec![PageKind::Jpeg(Arc::clone(&data))]),
        Some(Format::Png) => Ok(vec![PageKind::Png(Arc::clone(&data))]),
        Some(Format::Tiff) => tiff_pages(&data, limits),
        Some(Format::Pdf) => pdf::open(&data, limits),
        None => Err(Error::input("not an image or PDF")),
    })?;
    let pages = kinds.into_iter().enumerate();
    Ok(pages.map(|(index, kind)| PageSource { index, path: None, kind }).collect())
}

/// Reads a JPEG page into `dct`, the coefficient form the engine reads JPEGs in
/// ([`dct`](self::dct)). `Err` gives the buffers back when the page is not a JPEG or not one
/// the coefficient decoder takes (progressive, CMYK, truncated, damaged…): decode it with
/// [`decode_page`], whose checks and messages then apply.
pub(crate) fn read_dct(
    page: &PageSource,
    limits: &DecodeLimits,
    mut dct: Box<dct::DctPage>,
) -> std::result::Result<Box<dct::DctPage>, Box<dct::DctPage>> {
    let PageKind::Jpeg(data) = &page.kind else { return Err(dct) };
    // The decoder is ours and meant never to panic, but it reads hostile bytes: a panic is
    // one more reason to take the ordinary path.
    match catch_unwind(AssertUnwindSafe(|| dct.read(data, limits.max_pixels).is_ok())) {
        Ok(true) => Ok(dct),
        Ok(false) => Err(dct),
        // After a panic the buffers may be half-written: start afresh.
        Err(_) => Err(Box::default()),
    }
}

/// Decodes one page to 8-bit pixels: always [`DynamicImage::ImageLuma8`] or
/// [`DynamicImage::ImageRgb8`], whatever the source (16-bit, alpha, CMYK, 1-bit and PNG
/// palette images are converted; alpha is composited onto white paper).
///
/// The page's dimensions are read from its header and checked against `max_pixels` before the
/// pixel buffer is allocated ([`Error::Limits`] with `what: "pixels"`). A damaged or unsupported
/// page is an [`Error::Input`] naming the problem, e.g. "truncated JPEG".
pub fn decode_page(page: &PageSource, limits: &DecodeLimits) -> Result<DynamicImage> {
    decode_page_into(page, limits, Vec::new())
}

/// [`decode_page`], decoding a JPEG into `spare`: the pixel buffer of an earlier page (say,
/// `into_raw` of its image), so that a batch does not allocate and zero 26 MB a page (that
/// zeroing was 4 % of a page's time). Its old bytes never show: see `decode_zune`.
pub fn decode_page_into(page: &PageSource, limits: &DecodeLimits, spare: Vec<u8>) -> Result<DynamicImage> {
    let decoded = guard("page", || match &page.kind {
        PageKind::Jpeg(data) => decode_jpeg(data, limits, spare),
        PageKind::Png(data) => decode_png(data, limits),
        PageKind::Tiff { data, ifd, big } => decode_tiff(data, *ifd, *big, limits),
        PageKind::Pdf(image) => pdf::decode(image, limits),
        PageKind::Failed(reason) => Err(Error::input(reason.clone())),
    });
    match &page.path {
        Some(path) => decoded.map_err(|e| e.with_path(path.as_ref())),
        None => decoded,
    }
}

/// Runs a decoder, turning a panic on hostile data into an input error instead of a crashed
/// batch (the panic message still goes to stderr through the panic hook).
fn guard<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let msg = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(Error::input(format!("decoder crashed on this {what}: {msg}")))
    })
}

fn check_file_bytes(len: u64, limits: &DecodeLimits) -> Result<()> {
    if len > limits.max_file_bytes {
        return Err(Error::Limits { path: None, what: "file bytes", actual: len, limit: limits.max_file_bytes });
    }
    Ok(())
}

fn check_pixels(width: u32, height: u32, limits: &DecodeLimits) -> Result<()> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels == 0 {
        return Err(Error::input(format!("image has no pixels ({width}×{height})")));
    }
    if pixels > limits.max_pixels {
        return Err(Error::Limits { path: None, what: "pixels", actual: pixels, limit: limits.max_pixels });
    }
    Ok(())
}

fn check_pages(pages: usize, limits: &DecodeLimits) -> Result<()> {
    if pages > limits.max_pages {
        return Err(Error::Limits { path: None, what: "pages", actual: pages as u64, limit: limits.max_pages as u64 });
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Jpeg,
    Png,
    Tiff,
    Pdf,
}

fn sniff(data: &[u8]) -> Option<Format> {
    match data {
        [0xFF, 0xD8, 0xFF, ..] => Some(Format::Jpeg),
        [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1A, b'\n', ..] => Some(Format::Png),
        [b'I', b'I', 42 | 43, 0, ..] | [b'M', b'M', 0, 42 | 43, ..] => Some(Format::Tiff),
        // Some producers put junk (e.g. a mail header) before `%PDF-`; readers accept 1 KiB.
        _ if data[..data.len().min(1024)].windows(5).any(|w| w == b"%PDF-") => Some(Format::Pdf),
        _ => None,
    }
}

/// Decodes a JPEG, refusing truncated and lying ones: zune-jpeg, lenient, fills data it does
/// not have with the last DC value, and a half-flat form must not be read as "no marks".
///
/// Three checks: [`jpeg_frame`] wants an EOI marker after the scan header (a file cut short);
/// the decode runs in zune-jpeg's strict mode first, where data that ends before the frame's
/// last MCU row without a marker is an error ("Premature end of buffer"); and a page whose last
/// rows come out flat has its Huffman codes walked ([`jpeg_scan::mcus_present`]) to count the
/// MCUs the data really holds: a frame header that claims 10900×10900 over the data of a
/// 2480×3508 scan ends in EOI and passes the first two. Strict mode also refuses harmless
/// quirks of real encoders (junk between segments, unexpected markers), so any other
/// strict-mode error gets a second, lenient decode.
///
/// zune-jpeg is called directly rather than through `image`'s wrapper, which copies the
/// compressed file first and offers no strict mode.
fn decode_jpeg(data: &[u8], limits: &DecodeLimits, mut buf: Vec<u8>) -> Result<DynamicImage> {
    let frame = jpeg_frame(data)?;
    let (width, height) = (frame.width, frame.height);
    check_pixels(width, height, limits)?;
    let short = || {
        Error::input(format!(
            "truncated JPEG: its data ends before the {width}×{height} pixels its frame header declares"
        ))
    };
    // Before any pixel buffer: a Huffman-coded frame spends at least one bit on each 8×8
    // block's DC difference, so data shorter than that cannot hold the frame (a 10900×10900
    // header over 6 KB of data is refused here, not after a 356 MB decode).
    if frame.min_scan_bits.is_some_and(|bits| (frame.scan_bytes as u64) * 8 < bits) {
        return Err(short());
    }
    let image = match decode_zune(data, true, &mut buf) {
        Ok(image) => image,
        Err(e) if data_ran_out(&e) => return Err(short()),
        Err(_) => decode_zune(data, false, &mut buf).map_err(|e| Error::input(format!("corrupt JPEG: {e}")))?,
    };
    if bottom_is_flat(&image) && jpeg_scan::mcus_present(data).is_some_and(|(present, declared)| present < declared) {
        return Err(short());
    }
    Ok(image)
}

/// Whether the last 8 rows of a decoded page are one flat colour, as the fill after the end of
/// a JPEG's data is (a real scan has sensor noise there).
fn bottom_is_flat(image: &DynamicImage) -> bool {
    let bytes = image.as_bytes();
    let row = image.width() as usize * usize::from(image.color().bytes_per_pixel());
    let rows = (image.height() as usize).min(8);
    let tail = &bytes[bytes.len() - rows * row..];
    let px = usize::from(image.color().bytes_per_pixel());
    tail.chunks_exact(px).all(|p| p == &tail[..px])
}

/// zune-jpeg's errors for entropy-coded data that stops short of the frame's pixels.
fn data_ran_out(e: &zune_jpeg::errors::DecodeErrors) -> bool {
    let m = e.to_string();
    m.contains("Premature end") || m.contains("Premature End") || m.contains("No more bytes")
}

/// Decodes with zune-jpeg into `buf` (any earlier contents; on success the buffer becomes
/// the image's). Resizing keeps the bytes already there, so a buffer reused for pages of one
/// size costs no zeroing.
///
/// zune-jpeg writes rows in order and may stop early without an error (a second scan after a
/// complete one, an EOI before the last MCU row), leaving the rest of the buffer as it was:
/// in a fresh zeroed buffer, black, which [`bottom_is_flat`] and [`jpeg_scan::mcus_present`]
/// then catch; in a reused one, the previous page, which nothing would. So the last row is
/// first filled with a pattern no decoder writes (a byte ramp with step 37, no smooth image
/// row), and if the pattern is still there afterwards the decode runs again into a zeroed
/// buffer, exactly as with a fresh one (a real row that happened to match would only cost
/// that second decode).
fn decode_zune(
    data: &[u8],
    strict: bool,
    buf: &mut Vec<u8>,
) -> std::result::Result<DynamicImage, zune_jpeg::errors::DecodeErrors> {
    let (w, h, grey) = match decode_zune_into(data, strict, buf, true)? {
        Some(frame) => frame,
        None => {
            buf.fill(0);
            decode_zune_into(data, strict, buf, false)?
                .ok_or(zune_jpeg::errors::DecodeErrors::FormatStatic("no frame header"))?
        }
    };
    let wrong = || zune_jpeg::errors::DecodeErrors::FormatStatic("decoded size differs from the frame header");
    let pixels = std::mem::take(buf);
    Ok(if grey {
        DynamicImage::ImageLuma8(image::GrayImage::from_raw(w, h, pixels).ok_or_else(wrong)?)
    } else {
        DynamicImage::ImageRgb8(image::RgbImage::from_raw(w, h, pixels).ok_or_else(wrong)?)
    })
}

/// The byte [`decode_zune`] writes at offset `i` of the last row before decoding.
fn unwritten_mark(i: usize) -> u8 {
    (i as u8).wrapping_mul(37) ^ 0x5a
}

/// One zune-jpeg decode into `buf`: `(width, height, grey)`, or `None` when `mark_last_row`
/// and the last row was left unwritten.
fn decode_zune_into(
    data: &[u8],
    strict: bool,
    buf: &mut Vec<u8>,
    mark_last_row: bool,
) -> std::result::Result<Option<(u32, u32, bool)>, zune_jpeg::errors::DecodeErrors> {
    use zune_core::colorspace::ColorSpace;
    use zune_jpeg::errors::DecodeErrors;
    let options = zune_core::options::DecoderOptions::default()
        .set_strict_mode(strict)
        .set_max_width(usize::MAX)
        .set_max_height(usize::MAX);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(zune_core::bytestream::ZCursor::new(data), options);
    decoder.decode_headers()?;
    // Grey stays grey; YCbCr, CMYK and YCCK come out as RGB.
    let grey = matches!(decoder.input_colorspace(), Some(ColorSpace::Luma | ColorSpace::LumaA));
    let out = if grey { ColorSpace::Luma } else { ColorSpace::RGB };
    decoder.set_options(options.jpeg_set_out_colorspace(out));
    let (w, h) = decoder.dimensions().ok_or(DecodeErrors::FormatStatic("no frame header"))?;
    let size = decoder.output_buffer_size().ok_or(DecodeErrors::FormatStatic("no frame header"))?;
    buf.resize(size, 0);
    let row = w * if grey { 1 } else { 3 };
    let last = size.saturating_sub(row)..size;
    if mark_last_row {
        buf[last.clone()].iter_mut().enumerate().for_each(|(i, b)| *b = unwritten_mark(i));
    }
    decoder.decode_into(buf)?;
    if mark_last_row && buf[last].iter().enumerate().all(|(i, &b)| b == unwritten_mark(i)) {
        return Ok(None);
    }
    Ok(Some((w as u32, h as u32, grey)))
}

/// What [`jpeg_frame`] reads from a JPEG's headers.
struct JpegFrame {
    width: u32,
    height: u32,
    /// The fewest entropy-coded bits that can hold the frame, for Huffman-coded sequential and
    /// progressive frames (SOF0–SOF2): one per 8×8 block of every component, the shortest
    /// Huffman code of a DC difference (ITU-T T.81, F.1.2.1 and G.1.2.1; a code is at least one
    /// bit long). `None` for other frames (lossless, arithmetic coding), which can go lower.
    min_scan_bits: Option<u64>,
    /// Bytes from the first scan's data to the end of the file.
    scan_bytes: usize,
}

/// The blocks of a frame (T.81, A.1.1): each component is `ceil(X·Hi/Hmax)` by
/// `ceil(Y·Vi/Vmax)` samples, in 8×8 blocks. `None` for a malformed component list.
fn jpeg_blocks(width: u32, height: u32, components: &[u8]) -> Option<u64> {
    let sampling: Vec<(u64, u64)> =
        components.chunks_exact(3).map(|c| (u64::from(c[1] >> 4), u64::from(c[1] & 15))).collect();
    let h_max = sampling.iter().map(|s| s.0).max()?;
    let v_max = sampling.iter().map(|s| s.1).max()?;
    if h_max == 0 || v_max == 0 {
        return None;
    }
    let (w, h) = (u64::from(width), u64::from(height));
    Some(
        sampling
            .iter()
            .map(|&(hi, vi)| (w * hi).div_ceil(h_max).div_ceil(8) * (h * vi).div_ceil(v_max).div_ceil(8))
            .sum(),
    )
}

/// Walks the JPEG marker segments up to the first scan and returns the frame's dimensions;
/// a JPEG without an EOI marker after that point is a "truncated JPEG" input error.
///
/// Segment lengths are followed, so an EXIF thumbnail's EOI (inside APP1) cannot pass for the
/// main image's. Inside entropy-coded data 0xFF is always followed by 0x00 or a restart marker,
/// so any FF D9 after the scan header is a real EOI; searching for it from the end of the file
/// costs nothing for a complete file (a forward walk through 2 MB of scan data took 5 ms).
fn jpeg_frame(data: &[u8]) -> Result<JpegFrame> {
    let truncated = || Error::input("truncated JPEG");
    let mut frame = None;
    let mut pos = 2; // after SOI
    loop {
        // Skip to the next marker, tolerating junk and fill bytes between segments.
        pos += data.get(pos..).and_then(|d| d.iter().position(|&b| b == 0xFF)).ok_or_else(truncated)?;
        while data.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let marker = *data.get(pos).ok_or_else(truncated)?;
        pos += 1;
        match marker {
            0xD9 => return Err(Error::input("corrupt JPEG: no image data")),
            0x00 | 0x01 | 0xD0..=0xD8 => continue, // stuffing and markers without a segment
            _ => {}
        }
        let len = data.get(pos..pos + 2).ok_or_else(truncated)?;
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        if len < 2 {
            return Err(Error::input("corrupt JPEG: bad segment length"));
        }
        let segment = data.get(pos..pos + len).ok_or_else(truncated)?;
        // SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC), carry the frame size.
        if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) && len >= 7 {
            let height = u32::from(u16::from_be_bytes([segment[3], segment[4]]));
            let width = u32::from(u16::from_be_bytes([segment[5], segment[6]]));
            let huffman = matches!(marker, 0xC0..=0xC2);
            let components = segment.get(8..).unwrap_or_default();
            let min_scan_bits = jpeg_blocks(width, height, components).filter(|_| huffman);
            frame = Some(JpegFrame { width, height, min_scan_bits, scan_bytes: 0 });
        }
        pos += len;
        if marker == 0xDA {
            let scan = &data[pos..];
            scan.windows(2).rposition(|w| w == [0xFF, 0xD9]).ok_or_else(truncated)?;
            let mut frame = frame.ok_or_else(|| Error::input("corrupt JPEG: no frame header"))?;
            frame.scan_bytes = scan.len();
            return Ok(frame);
        }
    }
}

fn decode_png(data: &[u8], limits: &DecodeLimits) -> Result<DynamicImage> {
    // Read IHDR ourselves, so that a bomb is refused by the pixel limit before the png crate
    // (which reads on to the first IDAT) sees the file at all.
    let ihdr = data.get(8..24).filter(|h| &h[4..8] == b"IHDR").ok_or_else(|| Error::input("corrupt PNG: no IHDR"))?;
    let width = u32::from_be_bytes([ihdr[8], ihdr[9], ihdr[10], ihdr[11]]);
    let height = u32::from_be_bytes([ihdr[12], ihdr[13], ihdr[14], ihdr[15]]);
    check_pixels(width, height, limits)?;
    let decoder = PngDecoder::new(Cursor::new(data)).map_err(|e| image_error("PNG", e))?;
    decode_with(decoder, "PNG", limits)
}

/// Most IFDs followed when counting TIFF pages (or `max_pages + 1` if more), so that the count
/// in the limits error is exact up to here while a hostile chain costs bounded time and memory.
const TIFF_MAX_WALK: usize = 100_000;

/// Splits a TIFF into pages by walking its chain of image file directories (IFDs), reading
/// only the directory headers. A broken link in the chain becomes a failed page of its own.
fn tiff_pages(data: &Arc<Vec<u8>>, limits: &DecodeLimits) -> Result<Vec<PageKind>> {
    let le = data.starts_with(b"II");
    let u16_at = |p: u64| -> Option<u64> {
        let b = data.get(usize::try_from(p).ok()?..)?.get(..2)?;
        let v = [b[0], b[1]];
        Some(u64::from(if le { u16::from_le_bytes(v) } else { u16::from_be_bytes(v) }))
    };
    let uint_at = |p: u64, n: usize| -> Option<u64> {
        let b = data.get(usize::try_from(p).ok()?..)?.get(..n)?;
        let mut v = [0u8; 8];
        if le {
            v[..n].copy_from_slice(b);
            Some(u64::from_le_bytes(v))
        } else {
            v[8 - n..].copy_from_slice(b);
            Some(u64::from_be_bytes(v))
        }
    };
    let big = u16_at(2) == Some(43);
    // Classic TIFF: 2-byte entry count, 12-byte entries, 4-byte offsets. BigTIFF: 8, 20, 8.
    let (count_len, entry_len, offset_len) = if big { (8u64, 20u64, 8usize) } else { (2, 12, 4) };
    let first = if big { uint_at(8, 8) } else { uint_at(4, 4) };
    let mut next = first.ok_or_else(|| Error::input("truncated TIFF header"))?;
    let mut ifds = Vec::new();
    let mut seen = HashSet::new();
    let mut broken = None;
    let walk = TIFF_MAX_WALK.max(limits.max_pages.saturating_add(1));
    while next != 0 && seen.insert(next) && ifds.len() < walk {
        let count = if big { uint_at(next, 8) } else { u16_at(next) };
        let next_at = count.and_then(|n| n.checked_mul(entry_len)?.checked_add(next.checked_add(count_len)?));
        match next_at.and_then(|at| uint_at(at, offset_len)) {
            Some(link) => {
                ifds.push(next);
                next = link;
            }
            None => {
                broken = Some(format!("corrupt TIFF: page directory at byte {next} lies outside the file"));
                break;
            }
        }
    }
    check_pages(ifds.len() + usize::from(broken.is_some()), limits)?;
    if ifds.is_empty() {
        // A file must yield at least one outcome; a TIFF without a readable page is bad input.
        return Err(Error::input("corrupt TIFF: no readable page directory"));
    }
    let mut pages: Vec<_> = ifds.into_iter().map(|ifd| PageKind::Tiff { data: Arc::clone(data), ifd, big }).collect();
    pages.extend(broken.map(PageKind::Failed));
    Ok(pages)
}

/// Decodes the TIFF page whose directory is at `ifd`. `image`'s TIFF decoder only reads the
/// first directory, so it is handed a view of the file whose header points at `ifd` instead:
/// no copy of the file, and `image` keeps doing the colour conversions (1-bit, CMYK, 16-bit).
fn decode_tiff(data: &Arc<Vec<u8>>, ifd: u64, big: bool, limits: &DecodeLimits) -> Result<DynamicImage> {
    let header_len = if big { 16 } else { 8 };
    let mut header = [0u8; 16];
    header[..header_len].copy_from_slice(data.get(..header_len).ok_or_else(|| Error::input("truncated TIFF header"))?);
    let le = header[0] == b'I';
    match (big, le) {
        (false, true) => header[4..8].copy_from_slice(&(ifd as u32).to_le_bytes()),
        (false, false) => header[4..8].copy_from_slice(&(ifd as u32).to_be_bytes()),
        (true, true) => header[8..16].copy_from_slice(&ifd.to_le_bytes()),
        (true, false) => header[8..16].copy_from_slice(&ifd.to_be_bytes()),
    }
    let reader = PatchedHeader { data: Arc::clone(data), header, header_len, pos: 0 };
    let decoder = TiffDecoder::new(reader).map_err(|e| image_error("TIFF", e))?;
    decode_with(decoder, "TIFF", limits)
}

/// A reader over shared file bytes whose first `header_len` bytes are replaced by `header`.
struct PatchedHeader {
    data: Arc<Vec<u8>>,
    header: [u8; 16],
    header_len: usize,
    pos: u64,
}

impl BufRead for PatchedHeader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let pos = usize::try_from(self.pos).unwrap_or(usize::MAX);
        if pos < self.header_len {
            Ok(&self.header[pos..self.header_len])
        } else {
            Ok(self.data.get(pos..).unwrap_or_default())
        }
    }

    fn consume(&mut self, amt: usize) {
        self.pos = self.pos.saturating_add(amt as u64);
    }
}

impl Read for PatchedHeader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl Seek for PatchedHeader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => (self.data.len() as u64).checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before start"))?;
        Ok(self.pos)
    }
}

/// Runs an `image` decoder whose header has been read: pixel check, allocation limit, decode,
/// conversion to 8 bits.
fn decode_with(mut decoder: impl ImageDecoder, format: &str, limits: &DecodeLimits) -> Result<DynamicImage> {
    let (width, height) = decoder.dimensions();
    check_pixels(width, height, limits)?;
    // The largest buffer a page within the pixel limit can need: 16-bit RGBA, 8 bytes a pixel.
    let max_alloc = limits.max_pixels.saturating_mul(8).max(64 << 20);
    let mut image_limits = image::Limits::default();
    image_limits.max_alloc = Some(max_alloc);
    let to_error = |e: ImageError| match e {
        ImageError::Limits(_) => Error::Limits {
            path: None,
            what: "decoder memory bytes",
            actual: decoder_bytes(width, height),
            limit: max_alloc,
        },
        e => image_error(format, e),
    };
    decoder.set_limits(image_limits).map_err(to_error)?;
    let image = DynamicImage::from_decoder(decoder).map_err(to_error)?;
    Ok(to_8bit(image))
}

fn decoder_bytes(width: u32, height: u32) -> u64 {
    u64::from(width) * u64::from(height) * 8
}

fn image_error(format: &str, e: ImageError) -> Error {
    match e {
        // Reading from memory only fails at the end of the data.
        ImageError::IoError(e) => Error::input(format!("truncated {format}: {e}")),
        ImageError::Unsupported(e) => Error::input(format!("unsupported {format}: {e}")),
        e => Error::input(format!("corrupt {format}: {e}")),
    }
}

/// Converts any decoded image to Luma8 or Rgb8. 8-bit grey and RGB pass through without a copy.
fn to_8bit(image: DynamicImage) -> DynamicImage {
    use DynamicImage as D;
    match image {
        D::ImageLuma8(_) | D::ImageRgb8(_) => image,
        D::ImageLuma16(_) => D::ImageLuma8(image.to_luma8()),
        D::ImageLumaA8(_) | D::ImageLumaA16(_) => {
            let la = image.into_luma_alpha8();
            let luma = la.pixels().map(|p| over_white(p.0[0], p.0[1])).collect();
            D::ImageLuma8(image::GrayImage::from_raw(la.width(), la.height(), luma).unwrap_or_default())
        }
        _ if image.color().has_alpha() => {
            let (w, h) = (image.width(), image.height());
            let rgba = image.into_rgba8().into_raw();
            let rgb = rgba.chunks_exact(4).flat_map(|p| [0, 1, 2].map(|c| over_white(p[c], p[3]))).collect();
            D::ImageRgb8(image::RgbImage::from_raw(w, h, rgb).unwrap_or_default())
        }
        _ => D::ImageRgb8(image.into_rgb8()),
    }
}

/// Composites a sample with coverage `alpha` onto white paper: transparent means blank.
fn over_white(value: u8, alpha: u8) -> u8 {
    let (v, a) = (u32::from(value), u32::from(alpha));
    ((v * a + 255 * (255 - a) + 127) / 255) as u8
}

#[cfg(test)]
mod tests;
