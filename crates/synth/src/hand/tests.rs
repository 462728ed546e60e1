use super::*;
use crate::names::{GIVEN, SURNAMES};
use formscan_print::render::Rgb;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The template's two name boxes (agent_name, applicant_name_fix), w × h mm.
const BOXES: [(f64, f64); 2] = [(50.0, 8.0), (60.0, 7.0)];

/// Names with the extremes: a two-character surname and the longest name, characters Seto
/// lacks, a single stroke (一) and a 21-stroke one (馨).
const HARD: [&str; 4] = ["欧阳馨鹏", "陈一", "马颖", "谢诺龙"];

fn name_chars() -> impl Iterator<Item = char> {
    SURNAMES.iter().chain(GIVEN).flat_map(|s| s.chars())
}

/// Ink pixels (any channel below 250) whose centres are inside and outside `b`, and the ink's
/// bounding box in mm.
fn ink(c: &Canvas, b: Rect) -> (usize, usize, Option<Rect>) {
    let s = c.px_per_mm;
    let (mut inside, mut outside) = (0, 0);
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for (x, y, p) in c.image.enumerate_pixels() {
        if p.0.iter().all(|&v| v >= 250) {
            continue;
        }
        let m = Point::new((x as f64 + 0.5) / s, (y as f64 + 0.5) / s);
        if b.contains(m) {
            inside += 1;
        } else {
            outside += 1;
        }
        (x0, y0, x1, y1) = (x0.min(m.x), y0.min(m.y), x1.max(m.x), y1.max(m.y));
    }
    (inside, outside, (inside + outside > 0).then(|| Rect::new(x0, y0, x1 - x0, y1 - y0)))
}

fn written_text(source: HandSource, seed: u64, text: &str, b: Rect) -> Canvas {
    let mut c = Canvas::new(b.right() + 5.0, b.bottom() + 4.0, 200.0);
    draw_text_with(&mut c, &mut ChaCha8Rng::seed_from_u64(seed), b, text, source);
    c
}

#[test]
fn every_source_writes_inside_its_box_at_the_usual_size() {
    for source in HandSource::ALL {
        for seed in 0..48u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let (w, h) = BOXES[seed as usize % 2];
            let b = Rect::new(5.0, 4.0, w, h);
            let text =
                if seed % 6 == 0 { HARD[seed as usize / 6 % HARD.len()].to_string() } else { crate::name(&mut rng) };
            let c = written_text(source, seed, &text, b);
            let (inside, outside, bb) = ink(&c, b);
            let bb = bb.unwrap();
            assert_eq!(outside, 0, "{source:?} {text} seed {seed}: ink outside the box");
            assert!(inside > 150 * text.chars().count(), "{source:?} {text} seed {seed}: {inside} ink pixels");
            // Characters 60–78 % of the box height (the ink of a line of them a little less or,
            // with slant and drift, a little more), starting 1–4 mm in.
            assert!((0.4 * h..0.92 * h).contains(&bb.h), "{source:?} {text} seed {seed}: ink {:.2} mm high", bb.h);
            assert!(
                (b.x + 0.5..b.x + 5.5).contains(&bb.x),
                "{source:?} {text} seed {seed}: starts at {:.2}",
                bb.x - b.x
            );
        }
    }
}

#[test]
fn wenkai_source_is_draw_text() {
    let b = Rect::new(5.0, 4.0, 50.0, 8.0);
    for seed in 0..4 {
        let mut c = Canvas::new(60.0, 16.0, 200.0);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        draw_text(&mut c, &mut rng, b, "欧阳馨鹏");
        let after = rng.gen::<u64>();
        let mut rng2 = ChaCha8Rng::seed_from_u64(seed);
        let d = {
            let mut d = Canvas::new(60.0, 16.0, 200.0);
            draw_text_with(&mut d, &mut rng2, b, "欧阳馨鹏", HandSource::WenKai);
            d
        };
        assert!(c.image == d.image, "seed {seed}: pixels differ");
        assert_eq!(after, rng2.gen::<u64>(), "seed {seed}: the two draw differently often");
    }
}

#[test]
fn every_source_takes_the_same_draws_so_pages_differ_only_in_the_names() {
    let b = Rect::new(5.0, 4.0, 50.0, 8.0);
    for seed in 0..6 {
        let next: Vec<u64> = HandSource::ALL
            .into_iter()
            .flat_map(|source| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let mut c = Canvas::new(60.0, 16.0, 100.0);
                draw_text_with(&mut c, &mut rng, b, "欧阳馨鹏", source);
                let plain = rng.gen::<u64>();
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                draw_text_with_correction(&mut c, &mut rng, b, "欧阳馨鹏", 2, '梦', source);
                [plain, rng.gen::<u64>()]
            })
            .collect();
        assert!(next.iter().all(|&n| n == next[0]), "seed {seed}: {next:?}");
    }
    // A whole page: the same truth in every hand, different pixels.
    let t = formscan::template::Template::sbk_student();
    let person = crate::sample_person(3);
    let payload = formscan::payload::PagePayload {
        template: t.id.clone(),
        version: t.version,
        run: "RHAND".into(),
        serial: "000003".into(),
        page: 1,
        photo_printed: false,
    };
    let pages: Vec<_> = HandSource::ALL
        .into_iter()
        .map(|hand| {
            let opts = crate::SynthOptions { dpi: 100.0, seed: 3, blank_backs: 0.0, hand, ..Default::default() };
            crate::simulate_form(&t, &person, &payload, None, &opts, &mut crate::rng_for(3, 0)).unwrap()
        })
        .collect();
    assert!(pages[0].truth.fields.values().any(|f| f.text.is_some()), "the page has a written name");
    for p in &pages[1..] {
        assert_eq!(p.truth, pages[0].truth);
        assert!(p.image != pages[0].image);
    }
}

#[test]
fn strokes_are_the_same_for_a_seed_and_differ_between_seeds() {
    let b = Rect::new(5.0, 4.0, 50.0, 8.0);
    let a = written_text(HandSource::Strokes, 3, "王子涵", b);
    assert!(a.image == written_text(HandSource::Strokes, 3, "王子涵", b).image);
    assert!(a.image != written_text(HandSource::Strokes, 4, "王子涵", b).image);
    let s = written_text(HandSource::Seto, 3, "陈子涵", b);
    assert!(s.image == written_text(HandSource::Seto, 3, "陈子涵", b).image);
}

#[test]
fn every_name_character_has_medians_and_all_but_the_known_gaps_a_seto_glyph() {
    for ch in name_chars() {
        assert!(HandSource::Strokes.has_char(ch), "no medians for {ch}");
        assert!(HandSource::WenKai.has_char(ch), "no WenKai glyph for {ch}");
        assert_eq!(HandSource::Seto.has_char(ch), !SETO_GAPS.contains(ch), "Seto and SETO_GAPS disagree on {ch}");
    }
    // Every gap is a name character (the list is not stale).
    assert!(SETO_GAPS.chars().all(|g| name_chars().any(|c| c == g)));
    // Medians are strokes of points in Make Me a Hanzi's box (y from −124 to 900).
    let m = strokes::medians('王').unwrap();
    assert_eq!(m.len(), 4, "王 has four strokes");
    assert!(m.iter().flatten().all(|p| (0.0..1024.0).contains(&p[0]) && (-124.0..900.0).contains(&p[1])));
}

#[test]
fn a_correction_is_the_written_characters_plus_strokes_inside_the_box() {
    for source in HandSource::ALL {
        for seed in 0..12u64 {
            let (w, h) = BOXES[seed as usize % 2];
            let b = Rect::new(5.0, 4.0, w, h);
            let at = seed as usize % 4;
            let mut written: Vec<char> = "欧阳子涵".chars().collect();
            written.insert(at, '梓');
            // The same draws and the same hand: only the strike-through differs.
            let plain = written_text(source, seed, &written.iter().collect::<String>(), b);
            let mut c = Canvas::new(b.right() + 5.0, b.bottom() + 4.0, 200.0);
            draw_text_with_correction(&mut c, &mut ChaCha8Rng::seed_from_u64(seed), b, "欧阳子涵", at, '梓', source);
            let (with, outside, _) = ink(&c, b);
            assert_eq!(outside, 0, "{source:?} seed {seed}: ink outside the box");
            assert!(with > ink(&plain, b).0 + 40, "{source:?} seed {seed}: the strike adds ink");
            let darker = c
                .image
                .pixels()
                .zip(plain.image.pixels())
                .filter(|(a, b)| u32::from(a.0[0]) + 30 < u32::from(b.0[0]))
                .count();
            assert!(darker > 40, "{source:?} seed {seed}: {darker} pixels struck");
        }
    }
}

#[test]
fn sources_parse_by_name() {
    for h in HandSource::ALL {
        assert_eq!(h.as_str().parse::<HandSource>(), Ok(h));
    }
    assert!("comic".parse::<HandSource>().is_err());
}

/// Renders the same three names in each source (and a correction per source) to
/// `$HAND_SOURCES_PNG` (default: the temp folder's `hand_sources.png`), for looking at:
/// `HAND_SOURCES_PNG=/tmp/hand_sources.png cargo test -p formscan-synth --lib hand_sources -- --ignored`.
#[test]
#[ignore = "writes a PNG to look at"]
fn hand_sources_png() {
    let names = ["陈子涵", "欧阳晓雪", "王浩"];
    let rows: [(&str, HandSource, u64); 5] = [
        ("WenKai", HandSource::WenKai, 1),
        ("Seto", HandSource::Seto, 1),
        ("Strokes", HandSource::Strokes, 1),
        ("Strokes", HandSource::Strokes, 2),
        ("Strokes", HandSource::Strokes, 3),
    ];
    let (bw, bh, gap, left, top) = (50.0, 8.0, 4.0, 20.0, 3.0);
    let pitch = bh + 3.0;
    let n_rows = rows.len() + HandSource::ALL.len();
    let mut c = Canvas::new(left + 3.0 * (bw + gap), top * 2.0 + pitch * n_rows as f64, 300.0);
    let label = |c: &mut Canvas, y: f64, s: &str| {
        c.text(Point::new(2.0, y + bh * 0.65), 3.0, s, Rgb::LABEL, Align::Left, FontKind::Print, false)
    };
    let frame = |c: &mut Canvas, b: Rect| {
        let k = b.corners();
        (0..4).for_each(|i| c.line(k[i], k[(i + 1) % 4], Rgb::DROPOUT, 0.2));
    };
    for (r, &(what, source, seed)) in rows.iter().enumerate() {
        let y = top + pitch * r as f64;
        label(&mut c, y, &format!("{what} {seed}"));
        for (i, name) in names.iter().enumerate() {
            let b = Rect::new(left + i as f64 * (bw + gap), y, bw, bh);
            frame(&mut c, b);
            let mut rng = ChaCha8Rng::seed_from_u64(seed * 10 + i as u64);
            draw_text_with(&mut c, &mut rng, b, name, source);
        }
    }
    for (k, source) in HandSource::ALL.into_iter().enumerate() {
        let y = top + pitch * (rows.len() + k) as f64;
        label(&mut c, y, &format!("fix {}", source.as_str()));
        for (i, name) in names.iter().enumerate() {
            let b = Rect::new(left + i as f64 * (bw + gap), y, bw, bh);
            frame(&mut c, b);
            let mut rng = ChaCha8Rng::seed_from_u64(7 + i as u64);
            draw_text_with_correction(&mut c, &mut rng, b, name, 1, '梦', source);
        }
    }
    let path = std::env::var_os("HAND_SOURCES_PNG")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("hand_sources.png"));
    c.image.save(&path).unwrap();
    eprintln!("wrote {}", path.display());
}
