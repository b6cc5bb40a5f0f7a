//! Parsing of duration flags: `humantime` spellings (`250ms`, `10s`, `5m`, `1h30m`), a bare
//! number of seconds (`30`, `0.5`), and the upper bound every duration flag shares.

use std::time::Duration;

/// Longest duration any flag accepts: 7 days.
///
/// Durations from flags are combined elsewhere (`kill_grace * 2`, `timeout + 60s`, deadlines
/// `Instant::now() + d`, `as_millis() as u64`); `Duration` and `Instant` arithmetic panics on
/// overflow, so a bound far below the overflow point keeps every such sum safe. A week is
/// longer than any sensible timeout, grace period or backoff.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Parses a duration flag. A bare number is seconds (fractions allowed); anything else goes to
/// `humantime` (`ms`, `s`, `m`/`min`, `h`, `d`, and sums such as `1h30m`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let duration = if is_bare_number(text) {
        let seconds: f64 = text
            .parse()
            .map_err(|_| format!("{text:?} is not a number of seconds"))?;
        // Out of range (too large for `Duration`) is reported by the cap below as well.
        Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX)
    } else {
        humantime::parse_duration(text).map_err(|err| {
            format!("{text:?} is not a duration ({err}); try 250ms, 10s, 5m, 1h30m or 30")
        })?
    };
    if duration > MAX_DURATION {
        return Err(format!(
            "{text:?} is longer than the 7-day limit on durations (7d, {} seconds)",
            MAX_DURATION.as_secs()
        ));
    }
    Ok(duration)
}

/// Digits with at most one decimal point: the old "seconds" spelling, which `humantime`
/// refuses because it carries no unit.
fn is_bare_number(text: &str) -> bool {
    !text.is_empty()
        && text.chars().any(|c| c.is_ascii_digit())
        && text.chars().all(|c| c.is_ascii_digit() || c == '.')
        && text.matches('.').count() <= 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration(" 2s "), Ok(Duration::from_secs(2)));
    }

    #[test]
    fn bare_numbers_are_seconds() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
    }

    #[test]
    fn nonsense_is_refused() {
        for text in ["", "10 parsecs", "s", ".", "1.2.3", "-1", "-5s", "ms10"] {
            assert!(parse_duration(text).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn durations_are_capped_at_seven_days() {
        assert_eq!(parse_duration("7d"), Ok(MAX_DURATION));
        assert_eq!(parse_duration("604800"), Ok(MAX_DURATION));
        for text in ["8d", "604801", "1y", "99999999999999999999999999"] {
            let err = parse_duration(text).unwrap_err();
            assert!(err.contains("limit"), "{text:?}: {err}");
        }
        // Larger than `Duration` itself can hold.
        assert!(parse_duration("18446744073709551616s").is_err());
    }
}
