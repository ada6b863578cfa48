//! Text from outside (names, titles, messages, notes), bounded where it comes in:
//! trimmed, at most a given number of characters, and free of control characters
//! (a multi-line text may hold line breaks and tabs) and of the characters XML
//! cannot carry (U+FFFE, U+FFFF: the feed and sitemaps are XML). One rule for
//! every module; [`xml_safe`] strips the same characters from derived text (HTML
//! rendered from character references) and from rows older than the rule.

use crate::error::{AppError, AppResult};

/// Multi-line text: trimmed, at most `max` characters, no control character but
/// line breaks and tabs; empty refused when `required`. VALIDATION on `field`.
pub fn check_text(field: &str, value: &str, max: usize, required: bool) -> AppResult<String> {
    bounded(field, value, max, required, true)
}

/// One line of text: as [`check_text`], with no line break or tab either.
pub fn check_line(field: &str, value: &str, max: usize, required: bool) -> AppResult<String> {
    bounded(field, value, max, required, false)
}

/// Longest text search accepted anywhere (tickets, the FAQ).
pub const MAX_SEARCH_CHARS: usize = 200;

/// Longest reason an admin gives for a money or account action.
pub const MAX_REASON_CHARS: usize = 500;

/// A search argument: one line, at most [`MAX_SEARCH_CHARS`]; `None` when
/// absent or blank. VALIDATION on `search`.
pub fn check_search(search: Option<&str>) -> AppResult<Option<String>> {
    let search = search.map(|text| check_line("search", text, MAX_SEARCH_CHARS, false));
    Ok(search.transpose()?.filter(|text| !text.is_empty()))
}

/// The reason an admin must give (a refund, a balance adjustment, a ban, a
/// deposit's resolution): required, at most [`MAX_REASON_CHARS`]. VALIDATION
/// on `reason`.
pub fn check_reason(reason: &str) -> AppResult<String> {
    check_text("reason", reason, MAX_REASON_CHARS, true)
}

fn bounded(
    field: &str,
    value: &str,
    max: usize,
    required: bool,
    multiline: bool,
) -> AppResult<String> {
    let value = value.trim();
    if required && value.is_empty() {
        return Err(AppError::validation(
            field,
            format!("{field} must not be empty"),
        ));
    }
    if value.chars().count() > max {
        return Err(AppError::validation(
            field,
            format!("{field} must be at most {max} characters"),
        ));
    }
    let allowed = |c: char| {
        (!c.is_control() || (multiline && matches!(c, '\n' | '\r' | '\t'))) && is_xml_char(c)
    };
    if !value.chars().all(allowed) {
        return Err(AppError::validation(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(value.to_string())
}

/// Whether XML 1.0 can carry `c` (its `Char` production; Rust strings hold no
/// surrogates).
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// `text` without the characters XML cannot carry.
pub fn xml_safe(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().all(is_xml_char) {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(text.chars().filter(|c| is_xml_char(*c)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!(check_text("name", "  a\nb ", 10, true).unwrap(), "a\nb");
        assert!(check_line("name", "a\nb", 10, true).is_err());
        assert!(check_text("name", "a\u{0}b", 10, true).is_err());
        assert!(check_text("name", "   ", 10, true).is_err());
        assert_eq!(check_text("name", "   ", 10, false).unwrap(), "");
        assert!(check_text("name", "ééééé", 4, false).is_err());
        assert_eq!(check_text("name", "éééé", 4, false).unwrap(), "éééé");
        assert!(check_text("name", "a\u{FFFF}", 10, true).is_err());
        assert!(check_line("name", "a\u{FFFE}", 10, true).is_err());
        assert_eq!(xml_safe("a\u{1}b\u{FFFF}\u{1F600}\n"), "ab\u{1F600}\n");
    }

    #[test]
    fn searches_and_reasons_share_one_rule() {
        assert_eq!(check_search(Some("  ")).unwrap(), None);
        assert_eq!(
            check_search(Some(" refill ")).unwrap().as_deref(),
            Some("refill")
        );
        assert!(check_search(Some(&"x".repeat(MAX_SEARCH_CHARS + 1))).is_err());
        assert!(check_reason(" ").is_err());
        assert!(check_reason(&"x".repeat(MAX_REASON_CHARS + 1)).is_err());
        assert_eq!(check_reason(" late delivery ").unwrap(), "late delivery");
    }
}
