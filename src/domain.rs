//! Domain checks for the data printed on and read back from the forms: dates, Chinese resident
//! ID numbers, sex and mainland mobile numbers.
//!
//! Everything here is a pure function with no I/O, so the roster reader, the audit rules and the
//! synthetic-data generator all agree on what "valid" means. Each item names the standard it
//! implements:
//!
//! | Item | Standard |
//! |------|----------|
//! | [`Date`] | GB/T 7408 (ISO 8601) calendar dates, Gregorian leap years |
//! | [`parse_id`], [`id_check_char`], [`make_id`] | GB 11643-1999 citizen identity number, ISO 7064 MOD 11-2 |
//! | [`Sex`] | GB/T 2261.1-2003 sex codes (1 = male, 2 = female) and the ID's sequence digit |
//! | [`check_mobile`] | libphonenumber's CN mobile pattern |

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A calendar date. Fields are public, so a `Date` may be impossible: check
/// [`Date::is_valid`] (or [`Date::is_calendar_date`]) before trusting one built by hand.
///
/// Ordering is chronological. Serialised as the string `"YYYY-MM-DD"` (ISO 8601 / GB/T 7408).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year, e.g. 2019.
    pub year: u16,
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month, 1–31.
    pub day: u8,
}

/// Why a string is not a [`Date`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// The text is in none of the accepted layouts.
    #[error("not a date: expected YYYY-MM-DD, YYYY/MM/DD, YYYYMMDD or YYYY年M月D日")]
    Format,
    /// Well formed, but no such day exists (2019-02-30, month 13).
    #[error("{year:04}-{month:02}-{day:02} is not a real calendar date")]
    NotOnCalendar {
        /// Year as written.
        year: u16,
        /// Month as written.
        month: u8,
        /// Day as written.
        day: u8,
    },
}

impl Date {
    /// Builds a date without checking it.
    pub const fn new(year: u16, month: u8, day: u8) -> Self {
        Date { year, month, day }
    }

    /// True when the month and day exist in the proleptic Gregorian calendar (leap years: every
    /// 4th year, except centuries not divisible by 400). Any year is allowed.
    pub fn is_calendar_date(&self) -> bool {
        self.day >= 1 && self.day <= days_in_month(self.year, self.month)
    }

    /// True for a real calendar date in 1900..=2100, the span that is plausible for anyone on a
    /// roster (and that keeps typos such as 2091 for 2019 from passing silently in data entry).
    pub fn is_valid(&self) -> bool {
        (1900..=2100).contains(&self.year) && self.is_calendar_date()
    }

    /// The date `days` days after 1970-01-01 (UTC), by H. Hinnant's `civil_from_days`
    /// ("chrono-Compatible Low-Level Date Algorithms"). Years outside `u16` wrap; every date a
    /// campaign meets is far inside.
    pub fn from_unix_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        Date::new(y as u16, m as u8, d as u8)
    }

    /// Age in completed years on `on` (negative when `on` is before the birth date).
    ///
    /// A birthday is reached when the (month, day) pair is reached, so someone born on 29
    /// February turns a year older on 1 March in common years, the usual reading of Chinese
    /// civil law's "周岁" (full years).
    pub fn age_on(&self, on: Date) -> i32 {
        let years = i32::from(on.year) - i32::from(self.year);
        if (on.month, on.day) < (self.month, self.day) {
            years - 1
        } else {
            years
        }
    }
}

fn is_leap(year: u16) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Parses ASCII digits of length `min..=max`.
fn digits(s: &str, min: usize, max: usize) -> Option<u16> {
    let ok = (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| s.bytes().fold(0u16, |n, b| n * 10 + u16::from(b - b'0')))
}

/// Splits a date string into (year, month, day) text without judging the calendar.
fn date_parts(s: &str) -> Option<(u16, u16, u16)> {
    if let Some((y, rest)) = s.split_once('年') {
        let (m, d) = rest.split_once('月')?;
        let d = d.strip_suffix('日').or_else(|| d.strip_suffix('号')).unwrap_or(d);
        return Some((digits(y.trim(), 4, 4)?, digits(m.trim(), 1, 2)?, digits(d.trim(), 1, 2)?));
    }
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        return Some((digits(&s[..4], 4, 4)?, digits(&s[4..6], 2, 2)?, digits(&s[6..], 2, 2)?));
    }
    // Spreadsheet exports write 2019/3/5 as often as 2019-03-05, so one or two digits are fine.
    let sep = s.chars().find(|c| matches!(c, '-' | '/' | '.'))?;
    let mut it = s.split(sep);
    let parts = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() {
        return None;
    }
    Some((digits(parts.0, 4, 4)?, digits(parts.1, 1, 2)?, digits(parts.2, 1, 2)?))
}

impl FromStr for Date {
    type Err = DateError;

    /// Accepts `YYYY-MM-DD`, `YYYY/MM/DD`, `YYYY.MM.DD` (month and day may have one digit),
    /// `YYYYMMDD` and `YYYY年M月D日`, with surrounding whitespace. A trailing time of day, as
    /// spreadsheets append to date cells (`2019/3/5 0:00`), is ignored. The result is always a
    /// real calendar date; the 1900–2100 plausibility range is [`Date::is_valid`]'s business.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let s = match s.split_once([' ', 'T']) {
            Some((d, t)) if t.bytes().all(|b| b.is_ascii_digit() || b == b':' || b == b'.') => d,
            _ => s,
        };
        let (y, m, d) = date_parts(s).ok_or(DateError::Format)?;
        // month and day have at most two digits, so they fit in u8.
        let date = Date::new(y, m as u8, d as u8);
        if date.is_calendar_date() {
            Ok(date)
        } else {
            Err(DateError::NotOnCalendar { year: date.year, month: date.month, day: date.day })
        }
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Date;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a date string such as \"2019-03-05\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Date, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// Sex as recorded on the roster and encoded in the ID number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    /// 男.
    Male,
    /// 女.
    Female,
}

/// The text is not a recognised way of writing a sex.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a sex: expected 男/女, M/F, male/female or 1/2")]
pub struct SexError;

impl Sex {
    /// The Chinese word printed on forms: `男` or `女`.
    pub fn as_zh(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
        }
    }
}

impl fmt::Display for Sex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sex::Male => "male",
            Sex::Female => "female",
        })
    }
}

impl FromStr for Sex {
    type Err = SexError;

    /// Accepts 男/女 (also 男性/女性), M/F and male/female in any case, and the GB/T 2261.1
    /// codes 1/2 that school-roll systems export.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "男" | "男性" | "m" | "male" | "1" => Ok(Sex::Male),
            "女" | "女性" | "f" | "female" | "2" => Ok(Sex::Female),
            _ => Err(SexError),
        }
    }
}

/// Maps full-width ASCII forms (U+FF01–U+FF5E, e.g. `０`–`９`, `Ｘ`) and the ideographic space to
/// their ASCII counterparts. Chinese input methods produce them easily, and they look identical
/// to a person checking the roster.
pub fn fold_fullwidth(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            c => c,
        })
        .collect()
}

/// GB 11643-1999 weights, 2^(17-i) mod 11 for positions i = 1..=17.
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for each value of S mod 11.
const ID_CHECK_CHARS: &[u8; 11] = b"10X98765432";

/// Check character for 17 ASCII digits (the caller guarantees them).
fn check_char_of(first17: &[u8]) -> char {
    let s: u32 = first17.iter().zip(ID_WEIGHTS).map(|(&b, w)| u32::from(b - b'0') * w).sum();
    char::from(ID_CHECK_CHARS[(s % 11) as usize])
}

/// The GB 11643-1999 check character (ISO 7064 MOD 11-2) for the first 17 digits of a
/// resident ID number: S = Σ dᵢ·wᵢ with w = 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2, and S mod 11
/// indexes `"10X98765432"`. `None` unless `first17` is exactly 17 ASCII digits.
///
/// ```
/// assert_eq!(formscan::domain::id_check_char("11010519491231002"), Some('X'));
/// ```
pub fn id_check_char(first17: &str) -> Option<char> {
    let b = first17.as_bytes();
    (b.len() == 17 && b.iter().all(u8::is_ascii_digit)).then(|| check_char_of(b))
}

/// What a valid resident ID number encodes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdInfo {
    /// The normalised number: 18 ASCII characters, check character `X` in upper case.
    pub number: String,
    /// The 6-digit administrative division code of the place of registration (GB/T 2260).
    pub region: String,
    /// Birth date, characters 7–14.
    pub birth_date: Date,
    /// From the sequence code (characters 15–17): odd for men, even for women.
    pub sex: Sex,
}

/// Why a string is not a valid resident ID number. Positions count from 1, as people do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdProblem {
    /// Not 18 characters (15-character first-generation numbers land here too).
    #[error("has {0} characters; a resident ID number has 18")]
    WrongLength(usize),
    /// A character other than a digit, or other than a digit or X in the last place.
    #[error("character {pos} is not a digit (only the 18th may be X)")]
    BadCharacter {
        /// 1-based position of the first offending character.
        pos: usize,
    },
    /// Characters 7–14 are not a real date.
    #[error("characters 7-14 are not a real birth date")]
    BadBirthDate,
    /// The check character does not match: some character is mistyped.
    #[error("check character is {found}, the other digits give {expected}: a digit is mistyped")]
    BadCheck {
        /// What the first 17 digits require.
        expected: char,
        /// What the number has.
        found: char,
    },
}

/// Trims whitespace, folds full-width characters to ASCII and upper-cases `x`: the form in which
/// ID numbers are compared and stored. Does not validate.
pub fn normalize_id(s: &str) -> String {
    fold_fullwidth(s).trim().to_ascii_uppercase()
}

/// Validates a resident ID number (GB 11643-1999) and decodes it.
///
/// The input is first passed through [`normalize_id`], so surrounding whitespace, full-width
/// digits and a lower-case `x` are accepted. Checks, in order: length 18; digits everywhere
/// except an optional `X` last; characters 7–14 a real date in 1800..=2100 (wider than
/// [`Date::is_valid`] because the standard's own example was born in 1880); the ISO 7064
/// MOD 11-2 check character, which catches every single mistyped character and every swap of
/// two adjacent digits.
///
/// ```
/// use formscan::domain::{parse_id, Sex};
/// let info = parse_id("11010519491231002x").unwrap();
/// assert_eq!((info.birth_date.to_string(), info.sex), ("1949-12-31".into(), Sex::Female));
/// ```
pub fn parse_id(s: &str) -> Result<IdInfo, IdProblem> {
    let number = normalize_id(s);
    let n = number.chars().count();
    if n != 18 {
        return Err(IdProblem::WrongLength(n));
    }
    for (i, c) in number.chars().enumerate() {
        if !(c.is_ascii_digit() || (i == 17 && c == 'X')) {
            return Err(IdProblem::BadCharacter { pos: i + 1 });
        }
    }
    // Now all 18 characters are ASCII, so byte slicing is safe.
    let b = number.as_bytes();
    let num = |r: std::ops::Range<usize>| b[r].iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    let birth_date = Date::new(num(6..10), num(10..12) as u8, num(12..14) as u8);
    if !((1800..=2100).contains(&birth_date.year) && birth_date.is_calendar_date()) {
        return Err(IdProblem::BadBirthDate);
    }
    let expected = check_char_of(&b[..17]);
    let found = char::from(b[17]);
    if expected != found {
        return Err(IdProblem::BadCheck { expected, found });
    }
    let sex = if (b[16] - b'0') % 2 == 1 { Sex::Male } else { Sex::Female };
    Ok(IdInfo { region: number[..6].to_string(), number, birth_date, sex })
}

/// Builds a valid ID number from its parts, computing the check character: for synthetic test
/// data only. The sequence code's parity sets the sex (odd = male).
///
/// # Panics
/// If `region` is not 6 ASCII digits, `seq` exceeds 999, or `birth` is not a real date in
/// 1800..=2100 (the range [`parse_id`] accepts).
pub fn make_id(region: &str, birth: Date, seq: u16) -> String {
    assert!(region.len() == 6 && region.bytes().all(|b| b.is_ascii_digit()), "region code must be 6 digits");
    assert!(seq <= 999, "sequence code must be 0..=999");
    assert!((1800..=2100).contains(&birth.year) && birth.is_calendar_date(), "birth date {birth} out of range");
    let mut id = format!("{region}{:04}{:02}{:02}{seq:03}", birth.year, birth.month, birth.day);
    let check = check_char_of(id.as_bytes());
    id.push(check);
    id
}

/// Verdict on a mainland mobile number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MobileCheck {
    /// Matches libphonenumber's CN mobile pattern.
    Valid,
    /// 11 digits starting with 1 but an unassigned or data-only prefix (e.g. 140, 12x): worth a
    /// warning, since prefixes get allocated faster than pattern tables are updated.
    Unusual,
    /// Not a mobile number at all.
    Invalid,
}

/// Strips the formatting people add to phone numbers: full-width digits, spaces, hyphens and an
/// international prefix `+86` or `0086`.
fn strip_mobile(s: &str) -> String {
    let s: String = fold_fullwidth(s).chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
    match s.strip_prefix("+86").or_else(|| s.strip_prefix("0086")) {
        Some(rest) => rest.to_string(),
        None => s,
    }
}

/// Hand-written matcher for libphonenumber's CN mobile pattern
/// `1740[0-5]\d{6}|1(?:[38]\d|4[57]|[59][0-35-9]|6[25-7]|7[0-35-8])\d{8}` on 11 ASCII digits
/// (the length and the trailing `\d`s are the caller's check).
fn matches_cn_mobile(d: &[u8]) -> bool {
    let (second, third) = (d[1], d[2]);
    let head = d[0] == b'1'
        && match second {
            b'3' | b'8' => true,
            b'4' => matches!(third, b'5' | b'7'),
            b'5' | b'9' => third != b'4',
            b'6' => matches!(third, b'2' | b'5'..=b'7'),
            b'7' => matches!(third, b'0'..=b'3' | b'5'..=b'8'),
            _ => false,
        };
    head || (d[..4] == *b"1740" && d[4] <= b'5')
}

/// Checks a mainland China mobile number against libphonenumber's CN mobile pattern.
///
/// Spaces, hyphens, full-width digits and a `+86`/`0086` prefix are tolerated. Valid: the
/// pattern matches. Unusual: 11 digits starting with 1 that the pattern rejects (other 14x
/// prefixes and the like), a warning rather than a rejection. Anything else is Invalid.
pub fn check_mobile(s: &str) -> MobileCheck {
    let d = strip_mobile(s);
    let d = d.as_bytes();
    if d.len() != 11 || d[0] != b'1' || !d.iter().all(u8::is_ascii_digit) {
        MobileCheck::Invalid
    } else if matches_cn_mobile(d) {
        MobileCheck::Valid
    } else {
        MobileCheck::Unusual
    }
}

/// The bare 11 digits of a number [`check_mobile`] does not call Invalid, for comparing numbers
/// written differently (audit rule 3: one number shared by a whole class).
pub fn normalize_mobile(s: &str) -> Option<String> {
    (check_mobile(s) != MobileCheck::Invalid).then(|| strip_mobile(s))
}

/// One student to print a form for: a roster row as printed on the form and stored in a
/// campaign (the roster readers live in `formscan-print`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Full name (姓名), trimmed.
    pub name: String,
    /// Sex (性别); filled from the ID number when the roster leaves it empty.
    pub sex: Option<Sex>,
    /// Ethnicity (民族) as written; empty when absent.
    pub ethnicity: String,
    /// Birth date (出生日期); filled from the ID number when the roster leaves it empty.
    pub birth_date: Option<Date>,
    /// Resident ID number (公民身份号码), normalised: ASCII, check character `X` upper case.
    pub id_number: String,
    /// School (学校).
    pub school: String,
    /// Grade (年级); empty when absent.
    pub grade: String,
    /// Class (班级).
    pub class: String,
    /// Photo file name (照片), when the bureau already holds a photo to print on the form.
    pub photo: Option<String>,
}

/// Below this age (completed years on the campaign's reference date) the card needs no photo
/// (notice 三.2).
pub const NO_PHOTO_UNDER: i32 = 6;
/// Below this age the agent (a guardian) answers and signs for the applicant (notice 三.5).
pub const AGENT_UNDER: i32 = 16;

/// Whether the card needs a pasted photo, by rules 1 and 2 of the notice: not under
/// [`NO_PHOTO_UNDER`], not when the photo printed on the form is confirmed as the applicant's,
/// otherwise yes. `None` when the age is unknown and no printed photo is confirmed.
///
/// The one statement of the rule: the photo stage sets `photo.required` with it and the
/// campaign rules decide `photo_missing` with it, on the same age and reference date.
pub fn photo_required(age: Option<i32>, printed_photo_confirmed: bool) -> Option<bool> {
    match age {
        Some(a) if a < NO_PHOTO_UNDER => Some(false),
        _ if printed_photo_confirmed => Some(false),
        Some(_) => Some(true),
        None => None,
    }
}

/// The applicant's ID number: an accepted correction that is a valid ID number wins over the
/// printed one (a correction that fails GB 11643 is a misreading or a slip, not evidence).
pub fn preferred_id(accepted_fix: Option<&str>, printed: &str) -> String {
    accepted_fix.filter(|v| parse_id(v).is_ok()).unwrap_or(printed).to_string()
}

/// The applicant's age on `reference`: from the preferred ID number's birth date
/// ([`preferred_id`]), else the roster's birth date.
pub fn applicant_age(
    accepted_fix: Option<&str>,
    printed_id: &str,
    roster_birth: Option<Date>,
    reference: Date,
) -> Option<i32> {
    let birth = parse_id(&preferred_id(accepted_fix, printed_id)).ok().map(|i| i.birth_date).or(roster_birth)?;
    Some(birth.age_on(reference))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const D: fn(u16, u8, u8) -> Date = Date::new;

    #[test]
    fn standard_test_vectors() {
        assert_eq!(id_check_char("11010519491231002"), Some('X'));
        assert_eq!(id_check_char("44052418800101001"), Some('4'));
        assert_eq!(id_check_char("4405241880010100"), None);
        assert_eq!(id_check_char("4405241880010100a"), None);
        let a = parse_id("11010519491231002X").unwrap();
        assert_eq!((a.region.as_str(), a.birth_date, a.sex), ("110105", D(1949, 12, 31), Sex::Female));
        let b = parse_id("440524188001010014").unwrap();
        assert_eq!((b.birth_date, b.sex), (D(1880, 1, 1), Sex::Male));
    }

    #[test]
    fn id_normalisation() {
        for s in ["11010519491231002x", " 11010519491231002X\t", "１１０１０５１９４９１２３１００２ｘ"]
        {
            assert_eq!(parse_id(s).unwrap().number, "11010519491231002X", "{s:?}");
        }
    }

    #[test]
    fn id_problems() {
        assert_eq!(parse_id("1101051949123100"), Err(IdProblem::WrongLength(16)));
        assert_eq!(parse_id("1101A519491231002X"), Err(IdProblem::BadCharacter { pos: 5 }));
        assert_eq!(parse_id("110105194912310X2X"), Err(IdProblem::BadCharacter { pos: 16 }));
        assert_eq!(parse_id("11010519491231002Y"), Err(IdProblem::BadCharacter { pos: 18 }));
        // A month-13 number with a correct check character is still rejected for its date.
        let mut bad = "45030520191305001".to_string();
        bad.push(id_check_char(&bad).unwrap());
        assert_eq!(parse_id(&bad), Err(IdProblem::BadBirthDate));
        let e = parse_id("110105194912310021").unwrap_err();
        assert_eq!(e, IdProblem::BadCheck { expected: 'X', found: '1' });
        assert!(e.to_string().contains("mistyped"));
    }

    #[test]
    fn make_id_sets_sex_and_check() {
        let id = make_id("450305", D(2013, 9, 1), 123);
        assert_eq!(id.len(), 18);
        let info = parse_id(&id).unwrap();
        assert_eq!((info.sex, info.birth_date, info.region.as_str()), (Sex::Male, D(2013, 9, 1), "450305"));
        assert_eq!(parse_id(&make_id("450305", D(2013, 9, 1), 124)).unwrap().sex, Sex::Female);
    }

    #[test]
    fn dates_parse_and_validate() {
        let good = "2019-03-05|2019/03/05|2019/3/5|20190305|2019年3月5日|2019年03月05日| 2019.3.5 |2019/3/5 0:00";
        for s in good.split('|') {
            assert_eq!(s.parse::<Date>(), Ok(D(2019, 3, 5)), "{s:?}");
        }
        for s in "|2019|19-03-05|2019-03|2019-03-05-01|2019-003-05|2019年3月|2019-3/5|२०१९0305".split('|') {
            assert_eq!(s.parse::<Date>(), Err(DateError::Format), "{s:?}");
        }
        assert!(matches!("2019-02-30".parse::<Date>(), Err(DateError::NotOnCalendar { .. })));
        assert!(matches!("2019-13-01".parse::<Date>(), Err(DateError::NotOnCalendar { .. })));
        assert!(matches!("2019-01-00".parse::<Date>(), Err(DateError::NotOnCalendar { .. })));
        assert!(D(2000, 2, 29).is_valid() && D(2024, 2, 29).is_valid());
        for (y, m, d) in [(1900, 2, 29), (2100, 2, 29), (2019, 2, 29), (1899, 12, 31), (2101, 1, 1), (2019, 4, 31)] {
            assert!(!D(y, m, d).is_valid(), "{y}-{m}-{d}");
        }
        assert!(D(2100, 12, 31).is_valid() && D(2019, 12, 31).is_valid());
        assert_eq!(D(2019, 3, 5).to_string(), "2019-03-05");
        assert!(D(2019, 3, 5) < D(2019, 12, 1));
    }

    #[test]
    fn the_photo_rule() {
        assert_eq!(photo_required(Some(5), false), Some(false), "under 6: no photo");
        assert_eq!(photo_required(Some(6), false), Some(true));
        assert_eq!(photo_required(Some(17), true), Some(false), "a confirmed printed photo");
        assert_eq!(photo_required(None, true), Some(false));
        assert_eq!(photo_required(None, false), None);
    }

    #[test]
    fn the_applicant_age_follows_an_accepted_valid_correction() {
        let printed = make_id("450302", Date::new(2012, 3, 4), 11);
        let fixed = make_id("450302", Date::new(2021, 3, 4), 11);
        let on = Date::new(2026, 9, 1);
        assert_eq!(applicant_age(None, &printed, None, on), Some(14));
        assert_eq!(applicant_age(Some(&fixed), &printed, None, on), Some(5));
        assert_eq!(applicant_age(Some("4503021"), &printed, None, on), Some(14), "an invalid fix is ignored");
        assert_eq!(applicant_age(None, "bad", Some(Date::new(2020, 1, 1)), on), Some(6), "the roster's birth date");
        assert_eq!(applicant_age(None, "bad", None, on), None);
    }

    #[test]
    fn ages() {
        let b = D(2013, 9, 1);
        assert_eq!(b.age_on(D(2019, 8, 31)), 5);
        assert_eq!(b.age_on(D(2019, 9, 1)), 6);
        assert_eq!(b.age_on(D(2013, 9, 1)), 0);
        assert_eq!(b.age_on(D(2013, 8, 31)), -1);
        let leap = D(2012, 2, 29);
        assert_eq!((leap.age_on(D(2013, 2, 28)), leap.age_on(D(2013, 3, 1))), (0, 1));
    }

    #[test]
    fn date_serde() {
        let json = serde_json::to_string(&D(2019, 3, 5)).unwrap();
        assert_eq!(json, "\"2019-03-05\"");
        assert_eq!(serde_json::from_str::<Date>(&json).unwrap(), D(2019, 3, 5));
        assert!(serde_json::from_str::<Date>("\"2019-02-30\"").is_err());
    }

    #[test]
    fn sexes() {
        for s in ["男", "M", "m", "Male", "MALE", " 男性 ", "1"] {
            assert_eq!(s.parse(), Ok(Sex::Male), "{s:?}");
        }
        for s in ["女", "F", "female", "女性", "2"] {
            assert_eq!(s.parse(), Ok(Sex::Female), "{s:?}");
        }
        for s in ["", "x", "0", "9", "男女"] {
            assert_eq!(s.parse::<Sex>(), Err(SexError), "{s:?}");
        }
        assert_eq!((Sex::Male.as_zh(), Sex::Female.to_string()), ("男", "female".to_string()));
    }

    #[test]
    fn mobiles() {
        use MobileCheck::*;
        let cases = [
            (Valid, "13800138000|+86 138-0013-8000|0086 13800138000|１３８００１３８０００|14512345678|17400012345|17405999999"),
            (Unusual, "17406000000|14012345678|14912345678|12345678901|15412345678"),
            (Invalid, "1380013800|138001380001|23800138000|1380013800a||0771-2345678"),
        ];
        for (want, list) in cases {
            for s in list.split('|') {
                assert_eq!(check_mobile(s), want, "{s:?}");
            }
        }
        assert_eq!(normalize_mobile("138 0013 8000").as_deref(), Some("13800138000"));
        assert_eq!(normalize_mobile("0771-2345678"), None);
    }

    /// Every three-digit prefix against the pattern's expansion written out by hand.
    #[test]
    fn mobile_prefix_table() {
        let valid: Vec<u16> = [130..=139, 180..=189, 145..=145, 147..=147, 150..=153, 155..=159, 190..=193]
            .into_iter()
            .chain([195..=199, 162..=162, 165..=167, 170..=173, 175..=178])
            .flatten()
            .collect();
        for p in 100u16..=199 {
            let n = format!("{p}12345678");
            let want = if valid.contains(&p) { MobileCheck::Valid } else { MobileCheck::Unusual };
            assert_eq!(check_mobile(&n), want, "{n}");
        }
    }

    fn arb_date() -> impl Strategy<Value = Date> {
        (1800u16..=2100, 1u8..=12, 1u8..=31).prop_map(|(y, m, d)| D(y, m, d.min(days_in_month(y, m))))
    }

    proptest! {
        #[test]
        fn make_id_always_parses(r in 0u32..1_000_000, b in arb_date(), seq in 0u16..=999) {
            let region = format!("{r:06}");
            let info = parse_id(&make_id(&region, b, seq)).unwrap();
            prop_assert_eq!((info.region, info.birth_date), (region, b));
            prop_assert_eq!(info.sex == Sex::Male, seq % 2 == 1);
        }

        #[test]
        fn any_single_substitution_is_caught(
            r in 0u32..1_000_000, b in arb_date(), seq in 0u16..=999, pos in 0usize..18, k in 1usize..11,
        ) {
            let mut id: Vec<u8> = make_id(&format!("{r:06}"), b, seq).into_bytes();
            let alphabet = b"0123456789X";
            let cur = alphabet.iter().position(|&c| c == id[pos]).unwrap();
            id[pos] = alphabet[(cur + k) % 11];
            prop_assert!(parse_id(std::str::from_utf8(&id).unwrap()).is_err());
        }

        #[test]
        fn adjacent_swaps_are_caught(r in 0u32..1_000_000, b in arb_date(), seq in 0u16..=999, pos in 0usize..16) {
            let mut id: Vec<u8> = make_id(&format!("{r:06}"), b, seq).into_bytes();
            prop_assume!(id[pos] != id[pos + 1]);
            id.swap(pos, pos + 1);
            prop_assert!(parse_id(std::str::from_utf8(&id).unwrap()).is_err());
        }

        #[test]
        fn date_display_round_trips(b in arb_date()) {
            prop_assert_eq!(b.to_string().parse::<Date>(), Ok(b));
        }

        #[test]
        fn mobile_shape(s in "[0-9]{0,14}") {
            let shaped = s.len() == 11 && s.starts_with('1');
            prop_assert_eq!(check_mobile(&s) != MobileCheck::Invalid, shaped);
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,24}") {
            let _ = (parse_id(&s), s.parse::<Date>(), s.parse::<Sex>(), check_mobile(&s));
        }
    }
}
