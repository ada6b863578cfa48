//! The support desk: tickets (`tickets.rs`: a thread between the customer,
//! staff and the reply bot, with staff's internal notes), the reply bot
//! (`bot.rs`: answers questions about orders from live data, files refill and
//! cancel requests, quotes the FAQ), the FAQ (`faq.rs`) and the contact form for
//! visitors (`contact.rs`). Every write runs in one transaction with its events,
//! notifications and mail.

pub mod bot;
pub mod contact;
pub mod faq;
pub mod tickets;

use crate::error::{AppError, AppResult};

/// Trims `value` and checks it is 1 to `max` characters and holds no control
/// character other than line breaks and tabs (when `multiline`); VALIDATION on
/// `field` otherwise.
pub(crate) fn bounded_text(
    field: &str,
    value: &str,
    max: usize,
    multiline: bool,
) -> AppResult<String> {
    let value = value.trim();
    if value.is_empty() {
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
            format!("{field} contains a control character"),
        ));
    }
    Ok(value.to_string())
}
