//! Where provider text comes in, it is bounded: [`Bounded`] wraps every client, so
//! whatever a panel answers (an error page, a 10 KB "error" string, an absurd order
//! id) reaches history notes, `last_error`, notifications and `pg_notify` payloads
//! at a size the database and the customers can take. Without it, one long answer
//! made a refusal's transaction fail (the NOTIFY payload limit is 8000 bytes) and
//! the order landed in NEEDS_REVIEW instead of being refunded.

use std::collections::HashMap;

use async_trait::async_trait;
use bigdecimal::BigDecimal;

use super::{ProviderClient, ProviderError, RemoteOrderRequest, RemoteService, RemoteStatus};

/// The longest message kept from a provider (characters).
pub const MAX_MESSAGE: usize = 300;
/// The longest id (order, refill) a provider may answer; a longer one is not an id.
pub const MAX_ID: usize = 100;

/// `text` cut to at most `max` characters, marked with "…" when cut.
pub fn bounded(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

fn bound_error(error: ProviderError) -> ProviderError {
    match error {
        ProviderError::Transient(m) => ProviderError::Transient(bounded(&m, MAX_MESSAGE)),
        ProviderError::Refused(m) => ProviderError::Refused(bounded(&m, MAX_MESSAGE)),
        ProviderError::Unclear(m) => ProviderError::Unclear(bounded(&m, MAX_MESSAGE)),
    }
}

/// An id answered by the provider, refused when it cannot be one. The call may have
/// been acted on, so the refusal is Unclear (never resent automatically).
fn checked_id(id: String, what: &str) -> Result<String, ProviderError> {
    let id = id.trim();
    if id.is_empty() || id.chars().count() > MAX_ID || id.chars().any(char::is_control) {
        return Err(ProviderError::Unclear(format!(
            "the provider answered an implausible {what} id"
        )));
    }
    Ok(id.to_string())
}

/// Any client, with every text it returns bounded.
pub struct Bounded(pub Box<dyn ProviderClient>);

#[async_trait]
impl ProviderClient for Bounded {
    async fn services(&self) -> Result<Vec<RemoteService>, ProviderError> {
        self.0.services().await.map_err(bound_error)
    }

    async fn add_order(&self, order: &RemoteOrderRequest<'_>) -> Result<String, ProviderError> {
        let id = self.0.add_order(order).await.map_err(bound_error)?;
        checked_id(id, "order")
    }

    async fn statuses(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, Result<RemoteStatus, String>>, ProviderError> {
        let statuses = self.0.statuses(ids).await.map_err(bound_error)?;
        Ok(statuses
            .into_iter()
            .map(|(id, status)| {
                let status = match status {
                    Ok(mut remote) => {
                        remote.label = bounded(&remote.label, MAX_ID);
                        Ok(remote)
                    }
                    Err(message) => Err(bounded(&message, MAX_MESSAGE)),
                };
                (id, status)
            })
            .collect())
    }

    async fn refill(&self, order_id: &str) -> Result<String, ProviderError> {
        let id = self.0.refill(order_id).await.map_err(bound_error)?;
        checked_id(id, "refill")
    }

    async fn refill_status(&self, refill_id: &str) -> Result<String, ProviderError> {
        let label = self.0.refill_status(refill_id).await.map_err(bound_error)?;
        Ok(bounded(&label, MAX_ID))
    }

    async fn cancel(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, Result<(), String>>, ProviderError> {
        let answers = self.0.cancel(ids).await.map_err(bound_error)?;
        Ok(answers
            .into_iter()
            .map(|(id, answer)| (id, answer.map_err(|m| bounded(&m, MAX_MESSAGE))))
            .collect())
    }

    async fn balance(&self) -> Result<(BigDecimal, String), ProviderError> {
        let (balance, currency) = self.0.balance().await.map_err(bound_error)?;
        Ok((balance, bounded(&currency, 10)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_and_ids_are_bounded() {
        assert_eq!(bounded("short", 10), "short");
        assert_eq!(bounded("ééééé", 3), "ééé…");
        let long = "x".repeat(10_000);
        assert_eq!(bounded(&long, MAX_MESSAGE).chars().count(), MAX_MESSAGE + 1);
        assert!(checked_id("12345".into(), "order").is_ok());
        assert!(matches!(
            checked_id("9".repeat(500), "order"),
            Err(ProviderError::Unclear(_))
        ));
        assert!(checked_id("  ".into(), "order").is_err());
        assert!(checked_id("1\u{0}2".into(), "order").is_err());
    }
}
