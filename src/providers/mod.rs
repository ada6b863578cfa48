//! Upstream SMM providers: one client per wire protocol behind the
//! [`ProviderClient`] trait (a new provider kind is one file), and the mapping of
//! their statuses onto ours.
//!
//! Errors are classified by what the caller may do next:
//! - [`ProviderError::Transient`]: nothing reached the provider or it answered 5xx
//!   before acting; retrying is safe.
//! - [`ProviderError::Refused`]: the provider answered with a logical error ("Not
//!   enough funds on balance", "Incorrect link"); retrying will not help.
//! - [`ProviderError::Unclear`]: the request may have been acted on (timeout after
//!   sending, unreadable answer); an `add` in this state must never be resent blindly.

pub mod api_v2;
pub mod bounded;
pub mod medanpedia;
pub mod wire;

use std::collections::HashMap;

use async_trait::async_trait;
use bigdecimal::BigDecimal;

use crate::{
    crypto::SecretBox,
    db::{
        enums::{OrderStatus, ProviderKind, ServiceType},
        providers::ProviderRow,
    },
    error::AppError,
};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    #[error("provider unreachable: {0}")]
    Transient(String),
    #[error("provider refused: {0}")]
    Refused(String),
    #[error("provider answer unclear: {0}")]
    Unclear(String),
}

impl From<ProviderError> for AppError {
    fn from(error: ProviderError) -> Self {
        AppError::ProviderError(error.to_string())
    }
}

/// A service in a provider's catalogue, as the provider lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteService {
    pub id: String,
    pub name: String,
    pub category: String,
    /// The provider's type label ("Default", "Custom Comments", ...).
    pub type_label: String,
    /// Price per 1000 in the provider's currency.
    pub rate: BigDecimal,
    pub min: i64,
    pub max: i64,
    pub refill: bool,
    pub cancel: bool,
    pub dripfeed: bool,
    pub description: String,
}

/// What to send for a new order: the provider's service id, the target, the
/// quantity, and the type-specific fields under their API v2 names.
#[derive(Debug, Clone)]
pub struct RemoteOrderRequest<'a> {
    pub service: &'a str,
    pub link: &'a str,
    /// None for the types whose quantity is implied (packages, comment lists).
    pub quantity: Option<i64>,
    pub extra: &'a serde_json::Value,
}

/// Whether `add` carries a `quantity` for a service type (API v2 table of fields).
pub fn sends_quantity(service_type: ServiceType) -> bool {
    !matches!(
        service_type,
        ServiceType::Package
            | ServiceType::CustomComments
            | ServiceType::CustomCommentsPackage
            | ServiceType::MentionsCustomList
            | ServiceType::CommentReplies
            | ServiceType::Subscriptions
    )
}

/// A provider's report on one order.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteStatus {
    pub status: OrderStatus,
    /// The provider's own label, kept for the admin.
    pub label: String,
    pub start_count: Option<i64>,
    pub remains: Option<i64>,
    /// What the provider charged us, in its currency.
    pub charge: Option<BigDecimal>,
    /// A subscription's posts delivered so far.
    pub posts: Option<i64>,
}

#[async_trait]
pub trait ProviderClient: Send + Sync {
    async fn services(&self) -> Result<Vec<RemoteService>, ProviderError>;
    /// Places an order; returns the provider's order id.
    async fn add_order(&self, order: &RemoteOrderRequest<'_>) -> Result<String, ProviderError>;
    /// Statuses of up to [`MAX_BATCH`] orders; an id the provider does not know maps
    /// to `Err(message)`.
    async fn statuses(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, Result<RemoteStatus, String>>, ProviderError>;
    /// Asks for a refill; returns the provider's refill id.
    async fn refill(&self, order_id: &str) -> Result<String, ProviderError>;
    /// The provider's status label of a refill.
    async fn refill_status(&self, refill_id: &str) -> Result<String, ProviderError>;
    /// Asks to cancel orders; per order `Ok` when accepted, `Err(message)` when refused.
    async fn cancel(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, Result<(), String>>, ProviderError>;
    /// Balance and its currency.
    async fn balance(&self) -> Result<(BigDecimal, String), ProviderError>;
}

/// The most order ids one status or cancel call carries.
pub const MAX_BATCH: usize = 100;

/// Maps a provider's status label onto ours. Unknown labels are `None` (kept for the
/// admin, the order stays as it is).
pub fn map_status(label: &str) -> Option<OrderStatus> {
    match label.trim().to_ascii_lowercase().as_str() {
        "pending" => Some(OrderStatus::Processing),
        "processing" => Some(OrderStatus::Processing),
        "in progress" | "inprogress" | "in_progress" | "active" => Some(OrderStatus::InProgress),
        "completed" | "success" | "expired" => Some(OrderStatus::Completed),
        "partial" => Some(OrderStatus::Partial),
        "canceled" | "cancelled" | "refunded" | "error" => Some(OrderStatus::Canceled),
        _ => None,
    }
}

/// Where a refill stands at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefillProgress {
    Completed,
    Refused,
    /// Pending, in progress, or a label we do not know: asked again later.
    Running,
}

/// Maps a provider's refill status label onto [`RefillProgress`].
pub fn map_refill_status(label: &str) -> RefillProgress {
    match label.trim().to_ascii_lowercase().as_str() {
        "completed" | "success" => RefillProgress::Completed,
        "rejected" | "canceled" | "cancelled" | "error" => RefillProgress::Refused,
        _ => RefillProgress::Running,
    }
}

/// The client for a stored provider, with its API key decrypted and every text it
/// returns bounded ([`bounded::Bounded`]).
pub fn client_for(
    provider: &ProviderRow,
    secrets: &SecretBox,
    http: reqwest::Client,
    retry: api_v2::RetryPolicy,
) -> Result<Box<dyn ProviderClient>, AppError> {
    let api_key = secrets
        .decrypt(&provider.api_key_encrypted)
        .map_err(AppError::internal)?;
    let client: Box<dyn ProviderClient> = match provider.kind {
        ProviderKind::ApiV2 => Box::new(
            api_v2::ApiV2Client::new(http, provider.base_url.clone(), api_key).with_retry(retry),
        ),
        ProviderKind::Medanpedia => {
            let api_id = provider
                .api_id
                .clone()
                .filter(|id| !id.trim().is_empty())
                .ok_or_else(|| {
                    AppError::ProviderError(format!(
                        "provider {} has no API id (MedanPedia needs one)",
                        provider.name
                    ))
                })?;
            Box::new(
                medanpedia::MedanPediaClient::new(http, provider.base_url.clone(), api_id, api_key)
                    .with_retry(retry),
            )
        }
    };
    Ok(Box::new(bounded::Bounded(client)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_statuses_map_onto_ours() {
        assert_eq!(map_status("In progress"), Some(OrderStatus::InProgress));
        assert_eq!(
            map_status("Pending"),
            Some(OrderStatus::Processing),
            "accepted upstream, not started"
        );
        assert_eq!(map_status("Canceled"), Some(OrderStatus::Canceled));
        assert_eq!(map_status("Refunded"), Some(OrderStatus::Canceled));
        assert_eq!(map_status("Success"), Some(OrderStatus::Completed));
        assert_eq!(map_status("Error"), Some(OrderStatus::Canceled));
        assert_eq!(map_status("Partial"), Some(OrderStatus::Partial));
        assert_eq!(map_status("Weird"), None);
    }
}
