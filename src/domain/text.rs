//! Text from outside (names, titles, messages, notes), bounded where it comes in:
//! trimmed, at most a given number of characters, and free of control characters
//! (a multi-line text may hold line breaks and tabs). One rule for every module.

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
    let allowed = |c: char| !c.is_control() || (multiline && matches!(c, '\n' | '\r' | '\t'));
    if !value.chars().all(allowed) {
        return Err(AppError::validation(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(value.to_string())
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
    }
}
