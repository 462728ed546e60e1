//! Decoding a name from the recogniser's per-frame probabilities: a CTC prefix beam search
//! constrained to what a Chinese name can be, then a prior over surnames.
//!
//! # Search
//!
//! Prefix beam search (Graves et al., "Connectionist Temporal Classification", ICML 2006, §3.2;
//! in the two-score form of Hannun et al., "First-Pass Large Vocabulary Continuous Speech
//! Recognition using Bi-Directional Recurrent DNNs", 2014): each prefix keeps the probability
//! of all frame paths that spell it and end in a blank (`pb`) or in its last character
//! (`pnb`), so paths that collapse to the same text are summed, not just the best one. The
//! constraints are applied while extending, so the beam spends itself on possible names:
//!
//! - characters from the name set only ([`NameCharset`]: the 6,763 hanzi of GB 2312, which
//!   the household registration's name check is written against, plus the middle dot `·` of
//!   minority names), not the network's 18,708 classes;
//! - at most [`MAX_HAN`] hanzi and one `·`, never first;
//! - at the end, at least [`MIN_HAN`] hanzi and no `·` last.
//!
//! The sum of the surviving names' path probabilities ([`Lattice::valid_mass`]) is what the
//! network gives to "a name is written here" at all: little of it means digits, a scribble,
//! one character, or a character outside the set.
//!
//! # Prior
//!
//! Names are then rescored by `p_ctc(name) · prior(name)^α` ([`Priors`]): the surname's share
//! of the population from a published table ([`SurnameTable`]), and the evidence the form
//! itself carries — the child's surname for an agent who is the father or a paternal
//! grandparent, the printed name for a correction. α = 0.5 (shallow fusion, as a language
//! model's weight in speech recognition): the network's own outputs already carry the
//! character frequencies of its training text, so the full prior would count them twice.

use crate::model::text_line::LineProbabilities;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Fewest hanzi in a name (a one-character name is written with its surname).
pub const MIN_HAN: usize = 2;
/// Most hanzi in a name: a compound surname and a two-character given name.
pub const MAX_HAN: usize = 4;
const MAX_IDS: usize = MAX_HAN + 1;
const MIDDLE_DOT: char = '·';

/// Search settings.
#[derive(Debug, Clone)]
pub struct DecodeOptions {
    /// Prefixes kept per frame. Default 16: a name has at most 5 symbols and the network is
    /// confident in most frames, so few prefixes carry mass; on harsh simulated boxes the right
    /// name was among the candidates whenever it was the best reading (`docs/names.md`).
    pub beam: usize,
    /// A character is considered at a frame only above this probability. Default 1e-4: a name
    /// through such a frame has a path probability under 1e-4, far below any name near the
    /// accept threshold, and skipping the 18,000 negligible classes keeps the search cheap.
    pub min_char_p: f32,
    /// Most characters considered per frame. Default 12.
    pub max_chars_per_frame: usize,
    /// Weight of the prior's logarithm. Default 0.5 (see the module notes).
    pub prior_weight: f64,
    /// Names reported. Default 5 (what a keyer can take in at a glance).
    pub candidates: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions { beam: 16, min_char_p: 1e-4, max_chars_per_frame: 12, prior_weight: 0.5, candidates: 5 }
    }
}

/// Which of the network's classes may appear in a name.
#[derive(Debug)]
pub struct NameCharset {
    allowed: Vec<bool>,
    dot: Option<usize>,
}

impl NameCharset {
    /// The set for a network's classes (`classes[0]` the blank): GB 2312's hanzi (two-byte
    /// codes with a lead byte 0xB0–0xF7 and a trail byte 0xA1–0xFE) and `·`.
    pub fn for_classes(classes: &[char]) -> NameCharset {
        let mut allowed = vec![false; classes.len()];
        let mut dot = None;
        let mut buf = [0u8; 4];
        for (k, slot) in allowed.iter_mut().enumerate().skip(1) {
            let c = classes[k];
            if c == MIDDLE_DOT {
                *slot = true;
                dot = Some(k);
                continue;
            }
            let (bytes, _, unmappable) = encoding_rs::GBK.encode(c.encode_utf8(&mut buf));
            *slot = !unmappable
                && bytes.len() == 2
                && (0xB0..=0xF7).contains(&bytes[0])
                && (0xA1..=0xFE).contains(&bytes[1]);
        }
        NameCharset { allowed, dot }
    }

    /// The set for the bundled model, built once.
    pub fn bundled(classes: &[char]) -> &'static NameCharset {
        static SET: OnceLock<NameCharset> = OnceLock::new();
        SET.get_or_init(|| NameCharset::for_classes(classes))
    }

    /// Number of characters in the set.
    pub fn len(&self) -> usize {
        self.allowed.iter().filter(|&&a| a).count()
    }

    /// Whether the set is empty (never for the bundled model).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A name the search kept, with the probability of all frame paths that spell it.
#[derive(Debug, Clone, PartialEq)]
pub struct PathScore {
    /// The name.
    pub text: String,
    /// Its CTC probability.
    pub p: f64,
}

/// What the search found in one line, before any prior.
#[derive(Debug, Clone, Default)]
pub struct Lattice {
    /// Possible names, most probable first.
    pub names: Vec<PathScore>,
    /// Sum of their probabilities.
    pub valid_mass: f64,
    /// The best path read without constraints (argmax per frame, repeats and blanks
    /// collapsed): what is written when it is not a name.
    pub best_path: String,
    /// Something in the line is struck through: the network was not run (it reads a
    /// crossed-out character as a character).
    pub struck: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Prefix {
    ids: [u16; MAX_IDS],
    len: u8,
}

impl Prefix {
    fn last(&self) -> Option<u16> {
        (self.len > 0).then(|| self.ids[self.len as usize - 1])
    }
    fn push(&self, id: u16) -> Prefix {
        let mut p = *self;
        p.ids[p.len as usize] = id;
        p.len += 1;
        p
    }
    fn ids(&self) -> &[u16] {
        &self.ids[..self.len as usize]
    }
}

/// Runs the constrained search over one line's frames.
pub fn search(probs: &LineProbabilities, classes: &[char], set: &NameCharset, opts: &DecodeOptions) -> Lattice {
    let class_char = |k: usize| (k > 0).then(|| classes.get(k).copied()).flatten();
    let dot = set.dot.map(|d| d as u16);
    let han_count = |p: &Prefix| p.ids().iter().filter(|&&i| Some(i) != dot).count();
    let mut beams: HashMap<Prefix, (f64, f64)> = HashMap::new();
    beams.insert(Prefix { ids: [0; MAX_IDS], len: 0 }, (1.0, 0.0));
    let mut next: HashMap<Prefix, (f64, f64)> = HashMap::new();
    let mut chars: Vec<(u16, f64)> = Vec::new();
    let mut best_path = String::new();
    let mut prev_arg = 0usize;
    for t in 0..probs.frames {
        let frame = probs.frame(t);
        let blank = frame[0] as f64;
        // The unconstrained best path, for `best_path`.
        let arg = frame.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(k, _)| k);
        if arg != 0 && arg != prev_arg {
            best_path.extend(class_char(arg));
        }
        prev_arg = arg;
        chars.clear();
        chars.extend(
            frame
                .iter()
                .enumerate()
                .skip(1)
                .filter(|&(k, &p)| p >= opts.min_char_p && set.allowed[k])
                .map(|(k, &p)| (k as u16, p as f64)),
        );
        chars.sort_by(|a, b| b.1.total_cmp(&a.1));
        chars.truncate(opts.max_chars_per_frame);
        next.clear();
        for (prefix, &(pb, pnb)) in &beams {
            let total = pb + pnb;
            // Stay: a blank, or the last character again (which does not repeat it).
            let e = next.entry(*prefix).or_insert((0.0, 0.0));
            e.0 += total * blank;
            if let Some(last) = prefix.last() {
                e.1 += pnb * frame[last as usize] as f64;
            }
            // Extend by one character.
            for &(c, p) in &chars {
                if prefix.len as usize == MAX_IDS {
                    break;
                }
                let is_dot = Some(c) == dot;
                if is_dot && (prefix.len == 0 || prefix.ids().contains(&c)) {
                    continue;
                }
                if !is_dot && han_count(prefix) == MAX_HAN {
                    continue;
                }
                // The same character twice needs a blank between.
                let from = if prefix.last() == Some(c) { pb } else { total };
                if from == 0.0 {
                    continue;
                }
                next.entry(prefix.push(c)).or_insert((0.0, 0.0)).1 += from * p;
            }
        }
        let mut kept: Vec<(Prefix, (f64, f64))> = next.drain().collect();
        kept.sort_by(|a, b| (b.1 .0 + b.1 .1).total_cmp(&(a.1 .0 + a.1 .1)));
        kept.truncate(opts.beam);
        beams.clear();
        beams.extend(kept);
    }
    let mut names: Vec<PathScore> = beams
        .iter()
        .filter(|(p, _)| {
            let n = han_count(p);
            (MIN_HAN..=MAX_HAN).contains(&n) && p.last() != dot
        })
        .map(|(p, &(pb, pnb))| PathScore {
            text: p.ids().iter().filter_map(|&k| class_char(k as usize)).collect(),
            p: pb + pnb,
        })
        .collect();
    names.sort_by(|a, b| b.p.total_cmp(&a.p).then_with(|| a.text.cmp(&b.text)));
    let valid_mass = names.iter().map(|n| n.p).sum();
    Lattice { names, valid_mass, best_path, struck: false }
}

/// Shares of the population by surname, from `assets/names/surnames.tsv`.
#[derive(Debug)]
pub struct SurnameTable {
    share: HashMap<String, f64>,
    /// Share given to a surname the table does not list.
    floor: f64,
}

impl SurnameTable {
    /// Parses `surname<TAB>share` lines (`#` comments); a share is a fraction of the
    /// population.
    pub fn parse(text: &str) -> SurnameTable {
        let mut share = HashMap::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let mut it = line.split('\t');
            if let (Some(s), Some(v)) = (it.next(), it.next().and_then(|v| v.trim().parse::<f64>().ok())) {
                share.insert(s.trim().to_string(), v);
            }
        }
        // An unlisted surname is rarer than the rarest listed one: half of it.
        let floor = share.values().copied().fold(1e-3, f64::min) / 2.0;
        SurnameTable { share, floor }
    }

    /// The bundled table.
    pub fn bundled() -> &'static SurnameTable {
        static TABLE: OnceLock<SurnameTable> = OnceLock::new();
        TABLE.get_or_init(|| SurnameTable::parse(include_str!("../../../assets/names/surnames.tsv")))
    }

    /// The surname `name` most probably starts with (a listed two-character surname first)
    /// and its share.
    pub fn surname_of<'a>(&self, name: &'a str) -> (&'a str, f64) {
        let two = name.char_indices().nth(2).map_or(name.len(), |(i, _)| i);
        if name.chars().count() > 2 {
            if let Some(&s) = self.share.get(&name[..two]) {
                return (&name[..two], s);
            }
        }
        let one = name.char_indices().nth(1).map_or(name.len(), |(i, _)| i);
        (&name[..one], self.share.get(&name[..one]).copied().unwrap_or(self.floor))
    }

    /// Number of surnames listed.
    pub fn len(&self) -> usize {
        self.share.len()
    }

    /// Whether no surname is listed.
    pub fn is_empty(&self) -> bool {
        self.share.is_empty()
    }
}

/// What the form says about the name in a box, beyond its pixels.
#[derive(Debug, Clone, Default)]
pub struct Priors<'a> {
    /// The surname the writer most probably has, and how probably: the child's, for an agent
    /// who is the father or a paternal grandparent.
    pub likely_surname: Option<(&'a str, f64)>,
    /// The printed name a correction replaces: most corrections change one character.
    pub corrects: Option<&'a str>,
}

/// How much likelier a name one character away from the printed one is than another name.
pub const ONE_CHANGE_FACTOR: f64 = 4.0;

impl Priors<'_> {
    /// The prior weight of `name` (not normalised).
    pub fn weight(&self, name: &str, table: &SurnameTable) -> f64 {
        let (surname, share) = table.surname_of(name);
        let mut w = match self.likely_surname {
            Some((s, p)) if s == surname => p + (1.0 - p) * share,
            Some((_, p)) => (1.0 - p) * share,
            None => share,
        };
        if let Some(printed) = self.corrects {
            let (a, b): (Vec<char>, Vec<char>) = (name.chars().collect(), printed.chars().collect());
            if a.len() == b.len() && a.iter().zip(&b).filter(|(x, y)| x != y).count() == 1 {
                w *= ONE_CHANGE_FACTOR;
            }
        }
        w
    }
}

/// A name with its posterior.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredName {
    /// The name.
    pub text: String,
    /// Its posterior: its share of the rescored names times the lattice's valid mass, so that
    /// a line the network does not read as a name gets low posteriors throughout.
    pub p: f64,
}

/// Rescores a lattice under `priors`; most probable first, at most `opts.candidates`.
pub fn rescore(l: &Lattice, priors: &Priors, table: &SurnameTable, opts: &DecodeOptions) -> Vec<ScoredName> {
    let mut scored: Vec<ScoredName> = l
        .names
        .iter()
        .map(|n| ScoredName { p: n.p * priors.weight(&n.text, table).powf(opts.prior_weight), text: n.text.clone() })
        .collect();
    let sum: f64 = scored.iter().map(|s| s.p).sum();
    if sum > 0.0 {
        let scale = l.valid_mass.min(1.0) / sum;
        scored.iter_mut().for_each(|s| s.p *= scale);
    }
    scored.sort_by(|a, b| b.p.total_cmp(&a.p).then_with(|| a.text.cmp(&b.text)));
    scored.truncate(opts.candidates);
    scored
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Classes: blank, 王, 李, 明, 华, 1, ·, 欧, 阳.
    const CLASSES: [char; 9] = ['\0', '王', '李', '明', '华', '1', '·', '欧', '阳'];

    fn frames(rows: &[&[(usize, f32)]]) -> LineProbabilities {
        let n = CLASSES.len();
        let mut p = vec![0f32; rows.len() * n];
        for (t, row) in rows.iter().enumerate() {
            let rest: f32 = 1.0 - row.iter().map(|r| r.1).sum::<f32>();
            p[t * n] = rest; // what is not given is blank
            for &(k, v) in *row {
                p[t * n + k] += v;
            }
        }
        LineProbabilities { frames: rows.len(), classes: n, p }
    }

    fn table() -> SurnameTable {
        SurnameTable::parse("# test\n王\t0.07\n李\t0.07\n欧阳\t0.0007\n")
    }

    #[test]
    fn charset_is_gb2312_hanzi_and_the_middle_dot() {
        let set = NameCharset::for_classes(&CLASSES);
        assert_eq!(set.len(), 7, "not the blank, not the digit");
        assert!(!set.allowed[5]);
    }

    #[test]
    fn paths_that_spell_one_name_are_summed_and_repeats_need_a_blank() {
        let set = NameCharset::for_classes(&CLASSES);
        // 王 over two frames, blank, 明 明: "王明" (the repeat collapses).
        let f = frames(&[&[(1, 1.0)], &[(1, 1.0)], &[], &[(3, 1.0)], &[(3, 1.0)]]);
        let l = search(&f, &CLASSES, &set, &DecodeOptions::default());
        assert_eq!(l.names[0].text, "王明");
        assert!((l.names[0].p - 1.0).abs() < 1e-9);
        assert_eq!(l.best_path, "王明");
        // 明, blank, 明: "王明明" needs the blank between.
        let f = frames(&[&[(1, 1.0)], &[(3, 1.0)], &[], &[(3, 1.0)]]);
        assert_eq!(search(&f, &CLASSES, &set, &DecodeOptions::default()).names[0].text, "王明明");
    }

    #[test]
    fn one_character_or_a_digit_is_not_a_name() {
        let set = NameCharset::for_classes(&CLASSES);
        let f = frames(&[&[(1, 1.0)], &[]]);
        let l = search(&f, &CLASSES, &set, &DecodeOptions::default());
        assert!(l.names.is_empty());
        assert_eq!(l.valid_mass, 0.0);
        let f = frames(&[&[(1, 1.0)], &[(5, 1.0)], &[(3, 1.0)]]);
        let l = search(&f, &CLASSES, &set, &DecodeOptions::default());
        assert_eq!(l.best_path, "王1明");
        assert!(l.names.iter().all(|n| !n.text.contains('1')));
    }

    #[test]
    fn five_characters_are_cut_from_the_beam() {
        let set = NameCharset::for_classes(&CLASSES);
        let f = frames(&[&[(1, 1.0)], &[(3, 1.0)], &[(4, 1.0)], &[(2, 1.0)], &[(3, 1.0)]]);
        let l = search(&f, &CLASSES, &set, &DecodeOptions::default());
        assert!(l.names.iter().all(|n| n.text.chars().count() <= MAX_HAN));
        assert!(l.valid_mass < 1e-6, "{l:?}");
    }

    #[test]
    fn the_middle_dot_sits_between_characters() {
        let set = NameCharset::for_classes(&CLASSES);
        let f = frames(&[&[(3, 1.0)], &[(6, 1.0)], &[(4, 1.0)]]);
        assert_eq!(search(&f, &CLASSES, &set, &DecodeOptions::default()).names[0].text, "明·华");
        let f = frames(&[&[(6, 1.0)], &[(3, 1.0)], &[(4, 1.0)]]);
        let l = search(&f, &CLASSES, &set, &DecodeOptions::default());
        assert!(l.names.iter().all(|n| !n.text.starts_with('·')));
    }

    #[test]
    fn the_childs_surname_decides_between_lookalikes() {
        let set = NameCharset::for_classes(&CLASSES);
        // First character 王 or 李 at 0.55 / 0.45, then 明.
        let f = frames(&[&[(1, 0.55), (2, 0.45)], &[(3, 1.0)]]);
        let opts = DecodeOptions::default();
        let l = search(&f, &CLASSES, &set, &opts);
        let t = table();
        let plain = rescore(&l, &Priors::default(), &t, &opts);
        assert_eq!(plain[0].text, "王明");
        let li = Priors { likely_surname: Some(("李", 0.9)), corrects: None };
        let with = rescore(&l, &li, &t, &opts);
        assert_eq!(with[0].text, "李明");
        assert!(with[0].p > 0.7 && with[0].p < 1.0, "{with:?}");
        // Posteriors are shares of the valid mass.
        assert!((with.iter().map(|s| s.p).sum::<f64>() - l.valid_mass).abs() < 1e-9);
    }

    #[test]
    fn a_correction_one_character_from_the_printed_name_is_preferred() {
        let t = table();
        let p = Priors { likely_surname: None, corrects: Some("王明华") };
        assert_eq!(p.weight("王明明", &t), 0.07 * ONE_CHANGE_FACTOR);
        assert_eq!(p.weight("李明明", &t), 0.07);
        assert_eq!(p.weight("王明华", &t), 0.07);
    }

    #[test]
    fn compound_surnames_and_unlisted_ones() {
        let t = table();
        assert_eq!(t.surname_of("欧阳明华"), ("欧阳", 0.0007));
        assert_eq!(t.surname_of("欧明").0, "欧");
        assert!(t.surname_of("明华").1 < 0.0007);
        assert!(SurnameTable::bundled().len() > 500);
        assert_eq!(SurnameTable::bundled().surname_of("王明").0, "王");
    }
}
