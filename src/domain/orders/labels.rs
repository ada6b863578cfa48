//! The API v2 words for booster's own states, as resellers' tools parse them: in
//! API v2 answers and in the webhooks pushed to resellers. Honest by rule: an
//! order not yet accepted upstream is `Pending`, and a FAILED order was refunded
//! in full, so it is `Canceled`.

use crate::db::enums::{OrderRequestStatus, OrderStatus};

/// Whole rupiah as the decimal string clients parse ("15000.00").
pub fn rupiah(amount: i64) -> String {
    format!("{amount}.00")
}

/// Our order state as the API v2 label.
pub fn order_label(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Pending | OrderStatus::Submitting | OrderStatus::NeedsReview => "Pending",
        OrderStatus::Processing => "Processing",
        OrderStatus::InProgress => "In progress",
        OrderStatus::Completed => "Completed",
        OrderStatus::Partial => "Partial",
        OrderStatus::Canceled | OrderStatus::Failed => "Canceled",
    }
}

pub fn refill_label(status: OrderRequestStatus) -> &'static str {
    match status {
        OrderRequestStatus::Pending | OrderRequestStatus::Submitted => "Pending",
        OrderRequestStatus::Accepted => "In progress",
        OrderRequestStatus::Completed => "Completed",
        OrderRequestStatus::Rejected => "Rejected",
    }
}
