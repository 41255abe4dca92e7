//! Properties: `Retry-After` delays and dates round-trip, in every date
//! form of RFC 9110.

use super::*;

pub(crate) const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
pub(crate) const LONG_DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
pub(crate) const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
/// 9999-12-31T23:59:59Z, the last instant an HTTP date can express.
pub(crate) const LAST_DATE: u64 = 253_402_300_799;

/// The civil (proleptic Gregorian, UTC) fields of a Unix time:
/// (year, month 1..=12, day, hour, minute, second, weekday 0 = Sunday).
pub(crate) fn civil(secs: u64) -> (u64, usize, u64, u64, u64, u64, usize) {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Howard Hinnant's days_from_civil inverse, for days >= 0.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    let weekday = usize::try_from((days + 4) % 7).expect("< 7");
    (
        year,
        usize::try_from(month).expect("1..=12"),
        day,
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        weekday,
    )
}

pub(crate) fn imf_fixdate(secs: u64) -> String {
    let (y, mo, d, h, mi, s, wd) = civil(secs);
    format!(
        "{}, {d:02} {} {y:04} {h:02}:{mi:02}:{s:02} GMT",
        DAYS[wd],
        MONTHS[mo - 1]
    )
}

pub(crate) fn rfc850(secs: u64) -> String {
    let (y, mo, d, h, mi, s, wd) = civil(secs);
    format!(
        "{}, {d:02}-{}-{:02} {h:02}:{mi:02}:{s:02} GMT",
        LONG_DAYS[wd],
        MONTHS[mo - 1],
        y % 100
    )
}

pub(crate) fn asctime(secs: u64) -> String {
    let (y, mo, d, h, mi, s, wd) = civil(secs);
    format!(
        "{} {} {d:>2} {h:02}:{mi:02}:{s:02} {y:04}",
        DAYS[wd],
        MONTHS[mo - 1]
    )
}

proptest! {
    #![proptest_config(config(1024))]

    /// Delays: format then parse is the identity, with or without spaces
    /// and leading zeros around them.
    #[test]
    fn retry_after_delays_round_trip(secs in any::<u32>(), zeros in 0usize..3, ows in "[ \t]{0,2}") {
        let hint = RetryAfter::from_secs(secs);
        let text = hint.to_string();
        prop_assert_eq!(&text, &secs.to_string());
        prop_assert_eq!(text.parse::<RetryAfter>(), Ok(hint));
        prop_assert_eq!(RetryAfter::from_header_value(&hint.to_header_value()), Ok(hint));
        let padded = format!("{ows}{}{text}{ows}", "0".repeat(zeros));
        prop_assert_eq!(padded.parse::<RetryAfter>(), Ok(hint));
    }

    /// Dates: whole seconds from 1970 to 9999 format as IMF-fixdate and
    /// parse back to the same instant; sub-second parts are truncated.
    #[test]
    fn retry_after_dates_round_trip(secs in prop_oneof![0..=LAST_DATE, LAST_DATE - 100_000..=LAST_DATE], nanos in 0u32..1_000_000_000) {
        let at = UNIX_EPOCH + Duration::from_secs(secs);
        let hint = RetryAfter::at(at + Duration::from_nanos(u64::from(nanos)));
        prop_assert_eq!(hint.as_date(), Some(at));
        let text = hint.to_string();
        prop_assert_eq!(&text, &imf_fixdate(secs));
        let value = hint.to_header_value();
        prop_assert_eq!(value.to_str().ok(), Some(text.as_str()));
        prop_assert_eq!(text.parse::<RetryAfter>(), Ok(hint));
        prop_assert_eq!(RetryAfter::from_header_value(&hint.to_header_value()), Ok(hint));
    }

    /// The three date forms of one instant parse to it (RFC 850 has a
    /// two-digit year, read as 1970..=2069).
    #[test]
    fn retry_after_date_forms_agree(secs in prop_oneof![0..=LAST_DATE, 0u64..3_155_760_000]) {
        let expected = Ok(RetryAfter::at(UNIX_EPOCH + Duration::from_secs(secs)));
        prop_assert_eq!(imf_fixdate(secs).parse::<RetryAfter>(), expected.clone());
        prop_assert_eq!(asctime(secs).parse::<RetryAfter>(), expected.clone(), "{}", asctime(secs));
        // date3 may also be written with a zero: `Nov 06`.
        let zero_day = asctime(secs).replacen("  ", " 0", 1);
        prop_assert_eq!(zero_day.parse::<RetryAfter>(), expected.clone(), "{}", zero_day);
        if civil(secs).0 < 2070 {
            prop_assert_eq!(rfc850(secs).parse::<RetryAfter>(), expected, "{}", rfc850(secs));
        }
    }

    /// Arbitrary text never panics the Retry-After parser.
    #[test]
    fn retry_after_parse_never_panics(s in prop_oneof![any::<String>(), "[ -~]{0,40}"]) {
        if let Ok(hint) = s.parse::<RetryAfter>() {
            let back = hint.to_string().parse::<RetryAfter>();
            prop_assert_eq!(back, Ok(hint));
        }
    }
}

#[test]
fn the_reference_date_formatter_matches_rfc_9110_examples() {
    assert_eq!(imf_fixdate(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(rfc850(784_111_777), "Sunday, 06-Nov-94 08:49:37 GMT");
    assert_eq!(asctime(784_111_777), "Sun Nov  6 08:49:37 1994");
    assert_eq!(imf_fixdate(LAST_DATE), "Fri, 31 Dec 9999 23:59:59 GMT");
    assert_eq!(imf_fixdate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    assert_eq!(imf_fixdate(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
}
