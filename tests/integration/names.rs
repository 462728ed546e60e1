//! Handwritten names in the agent's name box, read by the whole field reader (PP-OCR's network
//! through rten, the constrained decoder, the statuses) on pages written by the simulator's
//! three hands: 2, 3 and 4 characters, an empty box, a crossed-out character, a character
//! half rubbed out (must go to review), and the father's surname as evidence.

use formscan::fields::{self, FieldOptions, FieldScratch};
use formscan::geometry::Rect;
use formscan::model::CnnEnsemble;
use formscan::record::{FieldReading, FieldState, ValueStatus};
use formscan::register::Registration;
use formscan::{Scan, Template};
use formscan_print::render::raster::Canvas;
use formscan_print::render::Rgb;
use formscan_synth::hand::{self, HandSource};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const DPI: f64 = 300.0;

/// What a page's text boxes hold.
#[derive(Default)]
struct Page<'a> {
    agent_name: Option<&'a str>,
    hand: HandSource,
    /// (character index, wrong character) struck through before the right one.
    slip: Option<(usize, char)>,
    /// Rub out the lower part of the last character.
    rub_last: bool,
    /// The agent_relation box ticked.
    relation: Option<&'a str>,
    seed: u64,
}

/// Writes `page` on a blank A4 of the student form (the box outlines in drop-out red) and reads
/// the fields through an exact registration; returns the agent name's reading.
fn read(page: &Page, printed_name: Option<&str>) -> FieldReading {
    let t = Template::sbk_student();
    let mut c = Canvas::new(210.0, 297.0, DPI);
    let red = Rgb(236, 120, 120);
    for f in &t.fields {
        let r = f.rect;
        let corners = [r.corners()[0], r.corners()[1], r.corners()[2], r.corners()[3], r.corners()[0]];
        for w in corners.windows(2) {
            c.line(w[0], w[1], red, 0.2);
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(page.seed);
    let field = t.field("agent_name").unwrap();
    if let Some(name) = page.agent_name {
        match page.slip {
            Some((at, wrong)) => {
                hand::draw_text_with_correction(&mut c, &mut rng, field.rect, name, at, wrong, page.hand)
            }
            None => hand::draw_text_with(&mut c, &mut rng, field.rect, name, page.hand),
        }
        if page.rub_last {
            // The writing's right end: the last column of ink in the box.
            let s = c.px_per_mm;
            let (x0, x1) = ((field.rect.x * s) as u32, (field.rect.right() * s) as u32);
            let (y0, y1) = ((field.rect.y * s) as u32 + 2, (field.rect.bottom() * s) as u32 - 2);
            let last =
                (x0..x1).rev().find(|&x| (y0..y1).any(|y| c.image.get_pixel(x, y).0[0] < 120)).expect("ink in the box");
            let char_w = field.rect.h * 0.7;
            c.fill_rect(
                Rect::new(
                    last as f64 / s - char_w * 0.9,
                    field.rect.y + field.rect.h * 0.45,
                    char_w,
                    field.rect.h * 0.5,
                ),
                Rgb(255, 255, 255),
            );
        }
    }
    if let Some(rel) = page.relation {
        let f = t.fields.iter().find(|f| f.name == format!("relation_{rel}")).unwrap();
        hand::draw_tick(&mut c, &mut rng, f.rect);
    }
    let scan = Scan::new(image::DynamicImage::ImageRgb8(c.image));
    let reg = Registration::exact(DPI / 25.4);
    let opts = FieldOptions { snippets: false, ..Default::default() };
    let mut readings =
        fields::read_fields(&scan, &reg, &t, &opts, CnnEnsemble::bundled(), &mut FieldScratch::default());
    fields::settle_names(&t, &mut readings, printed_name, &opts.names);
    readings.fields["agent_name"].clone()
}

fn assert_accepted(r: &FieldReading, want: &str) {
    assert_eq!(r.value.as_deref(), Some(want), "{r:?}");
    assert_eq!(r.status, Some(ValueStatus::Accepted), "{r:?}");
}

#[test]
fn names_of_two_three_and_four_characters_are_read_and_accepted() {
    for (name, hand) in [("王浩", HandSource::WenKai), ("覃子涵", HandSource::WenKai)] {
        assert_accepted(&read(&Page { agent_name: Some(name), hand, seed: 3, ..Default::default() }, None), name);
    }
    // A compound surname is rare (欧阳: 0.07 % of the population), so its prior is low: read
    // right, with a posterior just under the accept threshold on this page.
    let r = read(&Page { agent_name: Some("欧阳晓雪"), seed: 3, ..Default::default() }, None);
    assert_eq!(r.value.as_deref(), Some("欧阳晓雪"), "{r:?}");
    assert!(r.value_confidence.unwrap() > 0.99, "{r:?}");
    // The other two hands, on names they write clearly (every one of their characters is
    // their own: no Seto gap).
    for hand in [HandSource::Seto, HandSource::Strokes] {
        let r = read(&Page { agent_name: Some("林晓明"), hand, seed: 5, ..Default::default() }, None);
        assert_eq!(r.value.as_deref(), Some("林晓明"), "{hand:?}: {r:?}");
    }
}

#[test]
fn an_empty_box_is_empty_and_costs_no_recognition() {
    let r = read(&Page { agent_name: None, ..Default::default() }, None);
    assert_eq!(r.state, FieldState::Empty);
    assert_eq!(r.status, Some(ValueStatus::Empty));
    assert!(r.value.is_none() && r.candidates.is_empty());
}

#[test]
fn a_crossed_out_character_is_never_accepted_as_a_wrong_name() {
    for (seed, hand) in [(1, HandSource::WenKai), (2, HandSource::Seto), (3, HandSource::Strokes)] {
        let page = Page { agent_name: Some("张思博"), slip: Some((1, '梦')), hand, seed, ..Default::default() };
        let r = read(&page, None);
        assert_eq!(r.state, FieldState::Ink);
        if r.status == Some(ValueStatus::Accepted) {
            assert_eq!(r.value.as_deref(), Some("张思博"), "{hand:?}: accepted a wrong name: {r:?}");
        } else {
            assert!(matches!(r.status, Some(ValueStatus::NeedsReview | ValueStatus::Invalid)), "{r:?}");
        }
    }
}

#[test]
fn a_half_rubbed_out_character_goes_to_review_with_candidates() {
    let page = Page { agent_name: Some("刘晓明"), rub_last: true, seed: 9, ..Default::default() };
    let r = read(&page, None);
    assert_eq!(r.status, Some(ValueStatus::NeedsReview), "{r:?}");
    assert!(r.value_confidence.unwrap() < FieldOptions::default().names.accept_above);
    assert!(!r.candidates.is_empty());
    assert!(r.candidates.windows(2).all(|w| w[0].probability >= w[1].probability));
}

#[test]
fn the_fathers_surname_is_the_childs_unless_the_writing_says_otherwise() {
    let father = Page { agent_name: Some("黄宇轩"), relation: Some("father"), seed: 4, ..Default::default() };
    let with = read(&father, Some("黄子涵"));
    assert_eq!(with.value.as_deref(), Some("黄宇轩"), "{with:?}");
    // The evidence raises the right name's posterior; it never outvotes clear writing.
    let without = read(&father, None);
    assert!(with.value_confidence.unwrap() >= without.value_confidence.unwrap(), "{with:?} / {without:?}");
    let other = read(&father, Some("李子涵"));
    assert_eq!(other.value.as_deref(), Some("黄宇轩"), "{other:?}");
}
