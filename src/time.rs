//! Publication dates: parsing the many ways news and corpora write them.
//!
//! Storage is always UTC. A value without a time of day is midnight UTC; a value
//! without an offset is taken as UTC. A value that names only a month (`Apr-18`)
//! cannot be placed on a weekly timeline and is an error, never a guess.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// Why a date value was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("date is empty")]
    Empty,
    #[error("date {0:?} names a month but no day")]
    NoDay(String),
    #[error("date {0:?} is not in a known format (RFC 3339, YYYY-MM-DD, YYYY-MM-DD HH:MM:SS, DD.MM.YYYY, 18-Jul-20, RFC 2822, unix seconds)")]
    Unknown(String),
    #[error("date {0:?} is out of range")]
    OutOfRange(String),
}

/// Date-only formats, most common first.
const DATE_FORMATS: &[&str] = &[
    "%Y-%m-%d",
    "%d-%b-%y",
    "%d-%b-%Y",
    "%Y/%m/%d",
    "%d.%m.%Y",
    "%d %B %Y",
    "%d %b %Y",
    "%B %d, %Y",
    "%b %d, %Y",
    "%B %d %Y",
    "%b %d %Y",
    "%a, %d %B %Y",
    "%a, %d %b %Y",
    "%A, %d %B %Y",
    "%A %d %B %Y",
    "%m/%d/%Y",
];

/// Date-and-time formats without an offset (taken as UTC unless a zone name was given).
const DATETIME_FORMATS: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y klo %H.%M",
    "%d.%m.%Y %H.%M",
    "%Y/%m/%d %H:%M:%S",
    "%d-%b-%y %H:%M",
    "%a, %d %b %Y %H:%M:%S",
    "%a, %d %B %Y %H:%M:%S",
    "%d %B %Y %H:%M",
    "%d %b %Y %H:%M",
    "%B %d, %Y %H:%M",
    "%B %d, %Y %I:%M %p",
    "%b %d, %Y %I:%M %p",
    // CNBC: "7:51 PM Fri, 17 July 2020" (the zone name was taken out before)
    "%I:%M %p %a, %d %B %Y",
    "%I:%M %p %a, %d %b %Y",
    "%H:%M %a, %d %B %Y",
];

/// Formats that carry an explicit numeric offset.
const OFFSET_FORMATS: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M:%S%.f %z",
    "%Y-%m-%dT%H:%M%z",
    "%a, %d %b %Y %H:%M:%S %z",
    "%a %b %d %H:%M:%S %z %Y",
];

/// Parses a publication date in any supported format.
///
/// ```
/// use weaksignal::time::parse_datetime;
/// assert_eq!(parse_datetime("18-Jul-20").unwrap().to_rfc3339(), "2020-07-18T00:00:00+00:00");
/// assert_eq!(parse_datetime("2024-03-01 12:30:00").unwrap().to_rfc3339(), "2024-03-01T12:30:00+00:00");
/// assert!(parse_datetime("Apr-18").is_err());
/// ```
pub fn parse_datetime(value: &str) -> Result<DateTime<Utc>, DateError> {
    DateParser::default().parse(value)
}

/// A date parser that remembers which format matched last, so that a file in
/// one format costs one attempt per row instead of a walk down the list.
#[derive(Debug, Default, Clone)]
pub struct DateParser {
    last: Option<Kind>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rfc3339,
    Date(usize),
    DateTime(usize),
    Offset(usize),
}

impl DateParser {
    pub fn parse(&mut self, raw: &str) -> Result<DateTime<Utc>, DateError> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(DateError::Empty);
        }
        if let Some(kind) = self.last {
            if let Some(parsed) = try_kind(kind, value, 0) {
                return Ok(parsed);
            }
        }
        if let Some(parsed) = parse_unix(value) {
            return parsed.ok_or_else(|| DateError::OutOfRange(value.to_string()));
        }
        if let Ok(parsed) = DateTime::parse_from_rfc2822(value) {
            return Ok(parsed.with_timezone(&Utc));
        }
        let (value, zone_offset) = strip_zone_name(value);
        let mut kinds = vec![Kind::Rfc3339];
        kinds.extend((0..OFFSET_FORMATS.len()).map(Kind::Offset));
        kinds.extend((0..DATETIME_FORMATS.len()).map(Kind::DateTime));
        kinds.extend((0..DATE_FORMATS.len()).map(Kind::Date));
        for kind in kinds {
            if let Some(parsed) = try_kind(kind, &value, zone_offset) {
                if zone_offset == 0 {
                    self.last = Some(kind);
                }
                return Ok(parsed);
            }
        }
        if names_month_only(&value) {
            return Err(DateError::NoDay(raw.trim().to_string()));
        }
        Err(DateError::Unknown(raw.trim().to_string()))
    }
}

/// `offset_seconds` is the zone given by name ("ET", "CET"), applied to naive values.
fn try_kind(kind: Kind, value: &str, offset_seconds: i32) -> Option<DateTime<Utc>> {
    // Checked: a zone applied at the edge of chrono's range (year ±262143) has no answer.
    let naive_to_utc =
        |naive: NaiveDateTime| naive.checked_sub_signed(Duration::seconds(offset_seconds as i64));
    match kind {
        Kind::Rfc3339 => DateTime::parse_from_rfc3339(value)
            .ok()
            .map(|d| d.with_timezone(&Utc)),
        Kind::Offset(i) => DateTime::parse_from_str(value, OFFSET_FORMATS[i])
            .ok()
            .map(|d| d.with_timezone(&Utc)),
        Kind::DateTime(i) => NaiveDateTime::parse_from_str(value, DATETIME_FORMATS[i])
            .ok()
            .and_then(naive_to_utc)
            .map(|n| Utc.from_utc_datetime(&n)),
        Kind::Date(i) => NaiveDate::parse_from_str(value, DATE_FORMATS[i])
            .ok()
            .map(|d| d.and_time(NaiveTime::MIN))
            .and_then(naive_to_utc)
            .map(|n| Utc.from_utc_datetime(&n)),
    }
}

/// Unix timestamps: seconds, or milliseconds when the number is too large to be seconds.
/// Returns `Some(None)` for a number that is a timestamp but out of range.
fn parse_unix(value: &str) -> Option<Option<DateTime<Utc>>> {
    let digits = value.strip_prefix('-').unwrap_or(value);
    if digits.is_empty() || digits.len() > 16 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // "20200131" is a date, not 1970-08-22.
    if digits.len() == 8 && !value.starts_with('-') {
        return NaiveDate::parse_from_str(value, "%Y%m%d")
            .ok()
            .map(|d| Some(Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN))));
    }
    let number: i64 = value.parse().ok()?;
    Some(unix_to_datetime(number))
}

/// Seconds or milliseconds since the epoch, told apart by magnitude (seconds
/// reach 1e11 only in the year 5138).
pub fn unix_to_datetime(number: i64) -> Option<DateTime<Utc>> {
    if number.abs() >= 100_000_000_000 {
        DateTime::from_timestamp_millis(number)
    } else {
        DateTime::from_timestamp(number, 0)
    }
}

/// Takes a trailing or embedded time zone name out of `value` and returns its offset.
fn strip_zone_name(value: &str) -> (String, i32) {
    let mut offset = None;
    let mut words = Vec::new();
    for word in value.split_whitespace() {
        if offset.is_none() {
            if let Some(seconds) = zone_offset(word) {
                offset = Some(seconds);
                continue;
            }
        }
        words.push(word);
    }
    let joined = words.join(" ");
    match offset {
        None => (joined, 0),
        Some(ZoneOffset::Fixed(seconds)) => (joined, seconds),
        Some(ZoneOffset::UsEastern) => {
            let dst = words_date(&joined).map(us_dst).unwrap_or(false);
            (joined, if dst { -4 * 3600 } else { -5 * 3600 })
        }
    }
}

enum ZoneOffset {
    Fixed(i32),
    /// "ET": EST or EDT depending on the date.
    UsEastern,
}

fn zone_offset(word: &str) -> Option<ZoneOffset> {
    let hours = match word {
        "UTC" | "GMT" | "Z" | "UT" => 0,
        "ET" => return Some(ZoneOffset::UsEastern),
        "EST" => -5,
        "EDT" => -4,
        "CST" => -6,
        "CDT" => -5,
        "PST" => -8,
        "PDT" => -7,
        "BST" | "CET" => 1,
        "CEST" | "EET" => 2,
        "EEST" => 3,
        _ => return None,
    };
    Some(ZoneOffset::Fixed(hours * 3600))
}

/// The calendar date inside a string that some date-only or date-time format parses.
fn words_date(value: &str) -> Option<NaiveDate> {
    DATETIME_FORMATS
        .iter()
        .find_map(|f| {
            NaiveDateTime::parse_from_str(value, f)
                .ok()
                .map(|d| d.date())
        })
        .or_else(|| {
            DATE_FORMATS
                .iter()
                .find_map(|f| NaiveDate::parse_from_str(value, f).ok())
        })
}

/// US daylight saving time: second Sunday of March to first Sunday of November.
fn us_dst(date: NaiveDate) -> bool {
    let nth_sunday = |month: u32, n: u32| {
        let first = NaiveDate::from_ymd_opt(date.year(), month, 1).expect("valid month");
        let to_sunday = (7 - first.weekday().num_days_from_sunday()) % 7;
        first + Duration::days((to_sunday + 7 * (n - 1)) as i64)
    };
    date >= nth_sunday(3, 2) && date < nth_sunday(11, 1)
}

fn names_month_only(value: &str) -> bool {
    [
        "%d-%b-%y", "%d-%b-%Y", "%d %B %Y", "%d %b %Y", "%Y-%m-%d", "%d/%m/%Y",
    ]
    .iter()
    .zip(["01-", "01-", "01 ", "01 ", "", "01/"])
    .any(|(format, prefix)| {
        let candidate = if prefix.is_empty() {
            format!("{value}-01")
        } else {
            format!("{prefix}{value}")
        };
        NaiveDate::parse_from_str(&candidate, format).is_ok()
    })
}

/// A `--from`/`--to` bound from the command line. A bare date as an upper bound
/// means the end of that day, so `--to 2020-01-31` includes January 31st.
pub fn parse_bound(value: &str, upper: bool) -> Result<DateTime<Utc>, DateError> {
    let parsed = parse_datetime(value)?;
    let date_only = NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").is_ok();
    if !(upper && date_only) {
        return Ok(parsed);
    }
    parsed
        .checked_add_signed(Duration::days(1) - Duration::seconds(1))
        .ok_or_else(|| DateError::Unknown(value.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(value: &str) -> String {
        parse_datetime(value)
            .unwrap_or_else(|e| panic!("{value}: {e}"))
            .to_rfc3339()
    }

    #[test]
    fn formats_seen_in_the_wild() {
        assert_eq!(iso("2020-01-31"), "2020-01-31T00:00:00+00:00");
        assert_eq!(
            iso("2020-01-31T10:00:00+02:00"),
            "2020-01-31T08:00:00+00:00"
        );
        assert_eq!(iso("2020-01-31T10:00:00Z"), "2020-01-31T10:00:00+00:00");
        assert_eq!(iso("2020-01-31 10:00:00"), "2020-01-31T10:00:00+00:00");
        assert_eq!(iso("18-Jul-20"), "2020-07-18T00:00:00+00:00");
        assert_eq!(iso("5-Mar-18"), "2018-03-05T00:00:00+00:00");
        assert_eq!(
            iso("Tue, 1 Jul 2003 10:52:37 +0200"),
            "2003-07-01T08:52:37+00:00"
        );
        assert_eq!(
            iso("Fri, 17 Jul 2020 19:51:00 GMT"),
            "2020-07-17T19:51:00+00:00"
        );
        assert_eq!(iso("27.10.2023"), "2023-10-27T00:00:00+00:00");
        assert_eq!(iso("1580000000"), "2020-01-26T00:53:20+00:00");
        assert_eq!(iso("1580000000000"), "2020-01-26T00:53:20+00:00");
        assert_eq!(iso("20200131"), "2020-01-31T00:00:00+00:00");
        // CNBC, summer: EDT is UTC-4.
        assert_eq!(
            iso(" 7:51  PM ET Fri, 17 July 2020"),
            "2020-07-17T23:51:00+00:00"
        );
        // CNBC, winter: EST is UTC-5.
        assert_eq!(
            iso("10:30 AM ET Mon, 6 January 2020"),
            "2020-01-06T15:30:00+00:00"
        );
    }

    #[test]
    fn month_only_and_garbage_are_errors() {
        assert_eq!(
            parse_datetime("Apr-18"),
            Err(DateError::NoDay("Apr-18".into()))
        );
        assert_eq!(parse_datetime("  "), Err(DateError::Empty));
        assert!(matches!(
            parse_datetime("yesterday"),
            Err(DateError::Unknown(_))
        ));
        assert!(matches!(
            parse_datetime("2020-13-45"),
            Err(DateError::Unknown(_))
        ));
    }

    #[test]
    fn remembered_format_does_not_leak_wrong_results() {
        let mut parser = DateParser::default();
        assert_eq!(
            parser.parse("18-Jul-20").unwrap().to_rfc3339(),
            "2020-07-18T00:00:00+00:00"
        );
        assert_eq!(
            parser.parse("2021-02-03").unwrap().to_rfc3339(),
            "2021-02-03T00:00:00+00:00"
        );
        assert_eq!(
            parser.parse("19-Jul-20").unwrap().to_rfc3339(),
            "2020-07-19T00:00:00+00:00"
        );
    }

    #[test]
    fn upper_bound_of_a_bare_date_is_the_end_of_the_day() {
        assert_eq!(
            parse_bound("2020-01-31", true).unwrap().to_rfc3339(),
            "2020-01-31T23:59:59+00:00"
        );
        assert_eq!(
            parse_bound("2020-01-31", false).unwrap().to_rfc3339(),
            "2020-01-31T00:00:00+00:00"
        );
    }
}
