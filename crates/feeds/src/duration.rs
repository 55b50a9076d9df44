//! `itunes:duration` in every form feeds use.
//!
//! Accepted: seconds (`3600`, `3600.5`, `3600,5`), `MM:SS`, `H:MM:SS`,
//! `HH:MM:SS` (the first field may exceed 59: `90:00`; the others may not),
//! fractional seconds in the last field (`1:02:03.400`), surrounding
//! whitespace and a trailing unit word (`3600 sec`), and unit forms
//! (`1h 5m 30s`, `45 min`). Negative, zero, malformed and absurd (over a week)
//! durations are `None`.

/// Longer than this is taken for junk (the longest audiobooks are ~2 days).
const MAX_MS: u64 = 7 * 24 * 3600 * 1000;

/// Parses a duration into milliseconds.
pub(crate) fn parse_duration(raw: &str) -> Option<u64> {
    let text = raw.trim();
    if text.starts_with('-') {
        return None;
    }
    let ms = if text.contains(':') {
        parse_clock(text)?
    } else if let Some(ms) = parse_seconds(strip_unit_word(text)) {
        ms
    } else {
        parse_units(text)?
    };
    (ms > 0 && ms <= MAX_MS).then_some(ms)
}

/// `3600 sec`, `3600s`, `3600 seconds` → `3600`.
fn strip_unit_word(text: &str) -> &str {
    let number_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .unwrap_or(text.len());
    let unit = text[number_end..].trim().to_ascii_lowercase();
    if matches!(
        unit.as_str(),
        "" | "s" | "sec" | "secs" | "second" | "seconds"
    ) {
        &text[..number_end]
    } else {
        text
    }
}

/// Whole or fractional seconds → milliseconds.
fn parse_seconds(text: &str) -> Option<u64> {
    let (whole, fraction) = text.split_once(['.', ',']).unwrap_or((text, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds: u64 = whole.parse().ok()?;
    let millis = match fraction.len() {
        0 => 0,
        n => {
            let digits = &fraction[..n.min(3)];
            digits.parse::<u64>().ok()? * 10u64.pow(3 - digits.len() as u32)
        }
    };
    seconds.checked_mul(1000)?.checked_add(millis)
}

/// `MM:SS`, `H:MM:SS`, `HH:MM:SS(.fff)`.
fn parse_clock(text: &str) -> Option<u64> {
    let parts: Vec<&str> = text.split(':').map(str::trim).collect();
    if parts.len() > 3 {
        return None;
    }
    let (last, leading) = parts.split_last()?;
    let mut total: u64 = 0;
    for (i, part) in leading.iter().enumerate() {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let value: u64 = part.parse().ok()?;
        if i > 0 && value >= 60 {
            return None;
        }
        total = total.checked_mul(60)?.checked_add(value)?;
    }
    let seconds = parse_seconds(last)?;
    if seconds >= 60_000 {
        return None;
    }
    total.checked_mul(60_000)?.checked_add(seconds)
}

/// `1h 5m 30s`, `1h05m`, `45 min`, `2 hours`.
fn parse_units(text: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut rest = text.trim();
    let mut seen = false;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if number_end == 0 {
            return None;
        }
        let value: u64 = rest[..number_end].parse().ok()?;
        rest = rest[number_end..].trim_start();
        let unit_end = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let factor = match rest[..unit_end].to_ascii_lowercase().as_str() {
            "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000,
            "m" | "min" | "mins" | "minute" | "minutes" => 60_000,
            "s" | "sec" | "secs" | "second" | "seconds" => 1_000,
            _ => return None,
        };
        total = total.checked_add(value.checked_mul(factor)?)?;
        rest = rest[unit_end..].trim_start();
        seen = true;
    }
    seen.then_some(total)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn every_form() {
        let cases = [
            ("3600", 3_600_000),
            (" 3600 ", 3_600_000),
            ("3600.5", 3_600_500),
            ("3600,25", 3_600_250),
            ("3600 sec", 3_600_000),
            ("62:03", 3_723_000),
            ("01:02", 62_000),
            ("1:02:03", 3_723_000),
            ("01:00:00", 3_600_000),
            ("00:20:00", 1_200_000),
            ("\n\t 1:02:03.400 \n", 3_723_400),
            ("90:00", 5_400_000),
            ("1h 5m 30s", 3_930_000),
            ("1h05m", 3_900_000),
            ("45 min", 2_700_000),
            ("0:0:1", 1_000),
        ];
        for (raw, ms) in cases {
            assert_eq!(parse_duration(raw), Some(ms), "{raw:?}");
        }
    }

    #[test]
    fn junk_negative_zero_and_absurd_are_none() {
        for raw in [
            "",
            " ",
            "-1",
            "-00:10",
            "0",
            "00:00:00",
            "abc",
            "1:2:3:4",
            "1:60",
            "1:60:00",
            "1::2",
            ":30",
            "12 parsecs",
            "3600.5.5",
            "1e3",
            "999999999999999999999",
            "1000:00:00",
            "604800001",
            "NaN",
        ] {
            assert_eq!(parse_duration(raw), None, "{raw:?}");
        }
    }
}
