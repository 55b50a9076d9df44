//! Publication dates as feeds really write them.
//!
//! RSS promises RFC 2822 (`Mon, 13 Jul 2020 04:00:00 -0000`) and Atom RFC 3339
//! (`2020-07-13T04:00:00Z`); feeds deliver both in either, plus: no weekday, a
//! wrong weekday (ignored), single-digit days and hours, full month names,
//! two-digit years, no seconds, fractional seconds, extra whitespace and
//! commas, named zones (`GMT`, `UT`, `EST`, `PDT`, …), `+HH:MM` offsets in RFC
//! 2822, a space instead of `T`, no zone at all (taken as UTC), or a bare date
//! (midnight UTC). Anything else is `None`: a date is never an error.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Parses a feed date; `None` when it cannot be read.
pub(crate) fn parse_date(raw: &str) -> Option<OffsetDateTime> {
    let text = raw.trim();
    if text.is_empty() {
        return None;
    }
    if text.len() >= 10
        && text.as_bytes()[..4].iter().all(u8::is_ascii_digit)
        && text.as_bytes()[4] == b'-'
    {
        parse_iso8601(text)
    } else {
        parse_rfc2822(text)
    }
}

/// `YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|±HH[:]MM|±HH| UTC]`.
fn parse_iso8601(text: &str) -> Option<OffsetDateTime> {
    let date = Date::from_calendar_date(
        text.get(0..4)?.parse().ok()?,
        Month::try_from(text.get(5..7)?.parse::<u8>().ok()?).ok()?,
        text.get(8..10)?.parse().ok()?,
    )
    .ok()?;
    if text.as_bytes().get(7) != Some(&b'-') {
        return None;
    }
    let rest = text[10..].trim_start();
    let rest = rest.strip_prefix(['T', 't']).unwrap_or(rest).trim_start();
    if rest.is_empty() {
        return Some(date.midnight().assume_utc());
    }
    // The time runs up to the zone designator.
    let zone_at = rest
        .char_indices()
        .find(|(_, c)| matches!(c, 'Z' | 'z' | '+' | '-' | ' ' | 'U' | 'G'))
        .map_or(rest.len(), |(i, _)| i);
    let time = parse_clock(&rest[..zone_at])?;
    let offset = parse_zone(rest[zone_at..].trim())?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

/// RFC 2822 and its deviations; tokens may come in any reasonable order
/// (`13 Jul 2020` or `Jul 13 2020`).
fn parse_rfc2822(text: &str) -> Option<OffsetDateTime> {
    let mut day = None;
    let mut month = None;
    let mut year = None;
    let mut time = None;
    let mut offset = None;
    let tokens = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty());
    for token in tokens {
        if token.contains(':') && time.is_none() {
            // A zone glued to the time: `04:00:00Z`, `04:00:00+0000`.
            let zone_at = token
                .char_indices()
                .skip(1)
                .find(|(_, c)| matches!(c, '+' | '-' | 'Z' | 'z'))
                .map(|(i, _)| i);
            let (clock, zone) = token.split_at(zone_at.unwrap_or(token.len()));
            time = Some(parse_clock(clock)?);
            if !zone.is_empty() {
                offset = Some(parse_zone(zone)?);
            }
        } else if token.bytes().all(|b| b.is_ascii_digit()) {
            match (token.len(), day) {
                (1 | 2, None) => day = Some(token.parse::<u8>().ok()?),
                (4, _) => year = Some(token.parse::<i32>().ok()?),
                (2, Some(_)) if year.is_none() => {
                    let yy: i32 = token.parse().ok()?;
                    year = Some(if yy < 50 { 2000 + yy } else { 1900 + yy });
                }
                _ => return None,
            }
        } else if let Some(m) = month_from_name(token) {
            month = Some(m);
        } else if is_day_name(token) {
            // Weekdays are ignored: feeds get them wrong.
        } else if offset.is_none() && time.is_some() {
            offset = Some(parse_zone(token)?);
        } else {
            return None;
        }
    }
    let date = Date::from_calendar_date(year?, month?, day?).ok()?;
    let time = time.unwrap_or(Time::MIDNIGHT);
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset.unwrap_or(UtcOffset::UTC)))
}

/// `H:MM`, `HH:MM:SS`, `HH:MM:SS.fff`.
fn parse_clock(text: &str) -> Option<Time> {
    let mut parts = text.trim().split(':');
    let hour: u8 = parse_digits(parts.next()?)?;
    let minute: u8 = parse_digits(parts.next()?)?;
    let (second, nanos) = match parts.next() {
        None => (0, 0),
        Some(seconds) => {
            let (whole, fraction) = seconds.split_once(['.', ',']).unwrap_or((seconds, ""));
            let mut nanos = 0u32;
            if !fraction.is_empty() {
                if !fraction.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let digits = &fraction[..fraction.len().min(9)];
                nanos = digits.parse::<u32>().ok()? * 10u32.pow(9 - digits.len() as u32);
            }
            // A leap second is read as :59.
            (parse_digits::<u8>(whole)?.min(59), nanos)
        }
    };
    if parts.next().is_some() {
        return None;
    }
    Time::from_hms_nano(hour, minute, second, nanos).ok()
}

fn parse_digits<T: std::str::FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || text.len() > 2 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `Z`, `±HHMM`, `±HH:MM`, `±HH`, or a named zone; empty means UTC.
fn parse_zone(text: &str) -> Option<UtcOffset> {
    let text = text.trim();
    if text.is_empty() {
        return Some(UtcOffset::UTC);
    }
    if let Some(rest) = text.strip_prefix(['+', '-']) {
        let sign: i8 = if text.starts_with('-') { -1 } else { 1 };
        let digits: String = rest.chars().filter(|c| *c != ':').collect();
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (hours, minutes) = match digits.len() {
            2 => (digits.parse::<i8>().ok()?, 0),
            4 => (
                digits[..2].parse::<i8>().ok()?,
                digits[2..].parse::<i8>().ok()?,
            ),
            _ => return None,
        };
        return UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok();
    }
    let hours = match text.to_ascii_uppercase().as_str() {
        "Z" | "UT" | "UTC" | "GMT" | "WET" => 0,
        "BST" | "CET" | "WEST" | "MET" => 1,
        "CEST" | "EET" | "MEST" | "SAST" => 2,
        "EEST" | "MSK" => 3,
        "JST" | "KST" => 9,
        "AEST" => 10,
        "AEDT" => 11,
        "NZST" => 12,
        "NZDT" => 13,
        "AST" | "EDT" => -4,
        "EST" | "CDT" => -5,
        "CST" | "MDT" => -6,
        "MST" | "PDT" => -7,
        "PST" | "AKDT" => -8,
        "AKST" => -9,
        "HST" => -10,
        _ => return None,
    };
    UtcOffset::from_hms(hours, 0, 0).ok()
}

fn month_from_name(token: &str) -> Option<Month> {
    let lower = token.trim_end_matches('.').to_ascii_lowercase();
    if lower.len() < 3 {
        return None;
    }
    const MONTHS: [(&str, Month); 12] = [
        ("january", Month::January),
        ("february", Month::February),
        ("march", Month::March),
        ("april", Month::April),
        ("may", Month::May),
        ("june", Month::June),
        ("july", Month::July),
        ("august", Month::August),
        ("september", Month::September),
        ("october", Month::October),
        ("november", Month::November),
        ("december", Month::December),
    ];
    MONTHS
        .iter()
        .find(|(name, _)| name.starts_with(&lower))
        .map(|(_, month)| *month)
}

fn is_day_name(token: &str) -> bool {
    let lower = token.trim_end_matches('.').to_ascii_lowercase();
    lower.len() >= 2
        && [
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ]
        .iter()
        .any(|day| day.starts_with(&lower))
}

#[cfg(test)]
mod tests {
    use super::parse_date;

    fn unix(raw: &str) -> Option<i64> {
        parse_date(raw).map(|d| d.unix_timestamp())
    }

    #[test]
    fn rfc2822_and_its_deviations() {
        // 2020-07-13T04:00:00Z = 1594612800
        let cases = [
            ("Mon, 13 Jul 2020 04:00:00 -0000", 1594612800),
            ("Mon, 13 Jul 2020 04:00:00 +0000", 1594612800),
            ("13 Jul 2020 04:00:00 GMT", 1594612800), // no weekday
            ("Fri, 13 Jul 2020 04:00:00 GMT", 1594612800), // wrong weekday
            ("Monday, 13 July 2020 04:00:00 UT", 1594612800), // full names
            ("Mon, 13 Jul 2020 04:00 Z", 1594612800), // no seconds
            ("  Mon,  13  Jul  2020   04:00:00   GMT  ", 1594612800),
            ("Mon, 13 Jul 2020 00:00:00 EDT", 1594612800),
            ("Mon, 12 Jul 2020 23:00:00 CDT", 1594612800),
            ("Sun, 12 Jul 2020 21:00:00 PDT", 1594612800),
            ("Mon, 13 Jul 2020 06:00:00 +02:00", 1594612800), // colon offset
            ("Mon, 13 Jul 20 04:00:00 GMT", 1594612800),      // two-digit year
            ("Jul 13 2020 04:00:00 GMT", 1594612800),         // month first
            ("Mon, 13 Jul 2020 4:00:00 GMT", 1594612800),     // one-digit hour
            ("Mon, 13 Jul 2020 04:00:00", 1594612800),        // no zone → UTC
            ("Mon, 13 Jul 2020 04:00:00Z", 1594612800),
            ("13 Jul 2020", 1594598400),                    // date only
            ("Mon, 6 Jul 2020 04:00:00 -0000", 1594008000), // one-digit day
            ("Wed, 27 Apr 2011 07:00:00 GMT", 1303887600),
            ("Tue, 1 Jan 2019 00:00:00 EST", 1546318800),
            ("Mon, 13 Jul 2020 04:00:00 +0530", 1594593000),
        ];
        for (raw, expected) in cases {
            assert_eq!(unix(raw), Some(expected), "{raw:?}");
        }
    }

    #[test]
    fn iso8601_forms() {
        let cases = [
            ("2003-12-13T18:30:02Z", 1071340202),
            ("2003-12-13T18:30:02.25Z", 1071340202),
            ("2003-12-13T19:30:02+01:00", 1071340202),
            ("2003-12-13T19:30:02+0100", 1071340202),
            ("2003-12-13T13:30:02-05", 1071340202),
            ("2003-12-13 18:30:02", 1071340202),
            ("2003-12-13T18:30Z", 1071340200),
            ("2003-12-13 18:30:02 UTC", 1071340202),
            ("2003-12-13", 1071273600),
        ];
        for (raw, expected) in cases {
            assert_eq!(unix(raw), Some(expected), "{raw:?}");
        }
    }

    #[test]
    fn junk_is_none() {
        for raw in [
            "",
            "   ",
            "yesterday",
            "Mon, 32 Jul 2020 04:00:00 GMT",
            "Mon, 13 Foo 2020 04:00:00 GMT",
            "Mon, 13 Jul 2020 25:00:00 GMT",
            "Mon, 13 Jul 2020 04:00:00 XYZ",
            "2020-13-01T00:00:00Z",
            "2020-02-30",
            "13/07/2020",
            "1594612800",
        ] {
            assert_eq!(unix(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn fractional_seconds_are_kept() {
        let d = parse_date("2003-12-13T18:30:02.5Z").unwrap();
        assert_eq!(d.millisecond(), 500);
    }
}
