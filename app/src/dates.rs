//! Times as Gatehouse shows them: dates, date-times in UTC, and "in 3 days". Below every
//! capability that shows a time.

pub fn iso_date(unix: i64) -> String {
    format_time(unix, &time::format_description::well_known::Iso8601::DATE)
}

/// `YYYY-MM-DD HH:MM UTC`, for times shown in tables.
pub fn date_time(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    format_time(unix, &format)
}

/// How long until an expiry, in words: "in 3 days", "in 1 day", "in 5 hours", "in less than
/// an hour". `seconds` is the time left; none left is "now".
pub fn expires_in_words(seconds: i64) -> String {
    use crate::words::counted;
    const HOUR: i64 = 3600;
    const DAY: i64 = 24 * HOUR;
    match seconds {
        s if s <= 0 => "now".to_string(),
        s if s < HOUR => "in less than an hour".to_string(),
        s if s < DAY => format!("in {}", counted(s / HOUR, "hour", "hours")),
        s => format!("in {}", counted(s / DAY, "day", "days")),
    }
}

fn format_time(unix: i64, format: &(impl time::formatting::Formattable + ?Sized)) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::expires_in_words;

    #[test]
    fn expiries_read_in_words() {
        assert_eq!(expires_in_words(-5), "now");
        assert_eq!(expires_in_words(59 * 60), "in less than an hour");
        assert_eq!(expires_in_words(3600), "in 1 hour");
        assert_eq!(expires_in_words(23 * 3600 + 3599), "in 23 hours");
        assert_eq!(expires_in_words(24 * 3600), "in 1 day");
        assert_eq!(expires_in_words(3 * 24 * 3600 + 7), "in 3 days");
    }
}
