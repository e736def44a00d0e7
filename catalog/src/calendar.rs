//! Working-day calendar for disclosure deadlines.
//!
//! The disclosure regulations count deadlines in working days (工作日): decisions
//! must be published within 7 working days. Weekends are days off, official
//! holidays (法定节假日) are days off, and make-up workdays (调休上班) are
//! weekends that count as working days. The State Council announces each year's
//! arrangement; the built-in calendar carries 2025 and 2026 and operators can
//! load their own (see [`WorkCalendar::from_toml`]).

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Deserialize;
use std::collections::BTreeSet;

/// Working days granted by the regulations to publish a decision.
pub const PUBLICATION_WORKING_DAYS: u32 = 7;

/// Which days are working days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkCalendar {
    holidays: BTreeSet<NaiveDate>,
    workdays: BTreeSet<NaiveDate>,
}

/// The calendar file format: two lists of ISO dates.
#[derive(Debug, Deserialize)]
struct CalendarFile {
    #[serde(default)]
    holidays: Vec<NaiveDate>,
    #[serde(default)]
    workdays: Vec<NaiveDate>,
}

/// State Council arrangements (国务院办公厅关于节假日安排的通知) for 2025 and 2026.
const CHINA: &str = r#"
holidays = [
  # 2025
  "2025-01-01",
  "2025-01-28", "2025-01-29", "2025-01-30", "2025-01-31", "2025-02-01", "2025-02-02", "2025-02-03", "2025-02-04",
  "2025-04-04", "2025-04-05", "2025-04-06",
  "2025-05-01", "2025-05-02", "2025-05-03", "2025-05-04", "2025-05-05",
  "2025-05-31", "2025-06-01", "2025-06-02",
  "2025-10-01", "2025-10-02", "2025-10-03", "2025-10-04", "2025-10-05", "2025-10-06", "2025-10-07", "2025-10-08",
  # 2026
  "2026-01-01", "2026-01-02", "2026-01-03",
  "2026-02-15", "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20", "2026-02-21", "2026-02-22", "2026-02-23",
  "2026-04-04", "2026-04-05", "2026-04-06",
  "2026-05-01", "2026-05-02", "2026-05-03", "2026-05-04", "2026-05-05",
  "2026-06-19", "2026-06-20", "2026-06-21",
  "2026-09-25", "2026-09-26", "2026-09-27",
  "2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04", "2026-10-05", "2026-10-06", "2026-10-07",
]
workdays = [
  # 2025
  "2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11",
  # 2026
  "2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10",
]
"#;

impl WorkCalendar {
    /// Mainland China's official calendar (built in: 2025–2026; other years count weekends only).
    pub fn china() -> Self {
        // The built-in text is a constant checked by a unit test.
        Self::from_toml(CHINA).unwrap_or_default()
    }

    /// Parses `holidays = ["YYYY-MM-DD", …]` and `workdays = [...]` (make-up working weekends).
    pub fn from_toml(text: &str) -> crate::Result<Self> {
        let file: CalendarFile = toml::from_str(text).map_err(|e| crate::Error::Invalid {
            field: "calendar",
            reason: e.to_string(),
        })?;
        Ok(WorkCalendar {
            holidays: file.holidays.into_iter().collect(),
            workdays: file.workdays.into_iter().collect(),
        })
    }

    /// Whether civil servants work on `day`.
    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        if self.workdays.contains(&day) {
            return true;
        }
        if self.holidays.contains(&day) {
            return false;
        }
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
    }

    /// The `n`-th working day after `start` (`start` itself is not counted).
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> NaiveDate {
        let mut day = start;
        let mut left = n;
        while left > 0 {
            match day.succ_opt() {
                Some(next) => day = next,
                None => return day,
            }
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        day
    }

    /// The last day on which a decision taken on `decision` may be published.
    pub fn publication_deadline(&self, decision: NaiveDate) -> NaiveDate {
        self.add_working_days(decision, PUBLICATION_WORKING_DAYS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn built_in_calendar_parses() {
        let c = WorkCalendar::china();
        assert!(c.holidays.len() > 50);
        assert!(c.workdays.len() >= 10);
        assert!(!c.is_working_day(d("2026-10-01")));
        assert!(
            c.is_working_day(d("2026-10-10")),
            "Saturday make-up workday"
        );
        assert!(!c.is_working_day(d("2026-11-28")), "an ordinary Saturday");
        assert!(c.is_working_day(d("2026-11-27")), "an ordinary Friday");
    }

    #[test]
    fn an_ordinary_week_skips_the_weekend() {
        let c = WorkCalendar::china();
        // Monday 2026-11-23 + 7 working days = Wednesday 2026-12-02.
        assert_eq!(c.publication_deadline(d("2026-11-23")), d("2026-12-02"));
        // A Friday decision: the clock starts on Monday.
        assert_eq!(c.add_working_days(d("2026-11-27"), 1), d("2026-11-30"));
    }

    #[test]
    fn national_day_and_make_up_days_count_correctly() {
        let c = WorkCalendar::china();
        // Decision on Tue 2026-09-29: 30 Sep is the 1st working day, 1–7 Oct are
        // holidays, Thu 8 is the 2nd, Fri 9 the 3rd, Sat 10 (make-up) the 4th,
        // Mon 12 the 5th, Tue 13 the 6th, Wed 14 the 7th.
        assert_eq!(c.publication_deadline(d("2026-09-29")), d("2026-10-14"));
        // Spring Festival 2026: decision on Fri 13 Feb; Sat 14 is a make-up day,
        // 15–23 are off, then 24, 25, 26, 27, Sat 28 (make-up), Mon 2 Mar.
        assert_eq!(c.publication_deadline(d("2026-02-13")), d("2026-03-02"));
    }

    #[test]
    fn operators_can_supply_their_own_calendar() {
        let c = WorkCalendar::from_toml("holidays = [\"2030-01-01\"]\nworkdays = [\"2030-01-05\"]")
            .unwrap();
        assert!(!c.is_working_day(d("2030-01-01")));
        assert!(c.is_working_day(d("2030-01-05")));
        assert!(WorkCalendar::from_toml("holidays = [\"not a date\"]").is_err());
    }
}
