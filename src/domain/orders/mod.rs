//! Orders: what a customer buys and everything that happens to it on our side.
//! One file per concern: `prepare` (validation and price, pure; the fields of
//! each service type in `type_fields`), `place` (one
//! order in one transaction, and the one way a status changes), `group_commit`
//! (one account's orders arriving together placed in one transaction), `changes`
//! (writing one or a batch of status changes set-based), `mass` (many
//! orders from one text, read by `mass_text`), `settle` (exactly-once refunds), `requests` (customer
//! cancel and refill), `refill` (the refill warranty's rules, pure), `guard`
//! (the same-link guard and scheduled start, pure), `drip` (drip-feed run by the
//! panel: one order per run). Reads of the tables live in `db::orders`; dispatch and
//! status sync with providers are `domain::upstream`.

mod changes;
pub mod drip;
pub mod group_commit;
pub mod guard;
pub mod labels;
mod mass;
mod mass_text;
mod place;
mod prepare;
pub mod refill;
mod requests;
mod settle;
mod type_fields;

pub use changes::{Refund, StatusChange, next_average_completion, write_changes};
pub use mass::{LineError, MAX_MASS_ORDER_LINES, MassOrderOutcome, place_mass_order};
pub use place::{lock_order, place_order, record_status};
pub use prepare::{OrderExtras, OrderInput, PreparedOrder, check_link, prepare};
pub use requests::{find_visible, owned_order, refill_refusal, request_cancel, request_refill};
pub use settle::{
    ManualRefund, Settlement, admin_refund, admin_set_status, refund_amount, settle,
    settlement_change,
};

/// A service fixture for unit tests elsewhere in `domain`.
#[cfg(test)]
pub(crate) use prepare::tests::service as test_service;
