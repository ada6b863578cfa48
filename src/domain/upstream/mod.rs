//! Orders at their upstream provider: the order-side rules of dispatch, status
//! sync and forwarded requests. ("Fulfillment" names one thing only: how a
//! service is filled, `enums::Fulfillment` — from a provider, from stock, or by hand.)
//!
//! Dispatch is crash-safe: an order is claimed (`PENDING -> SUBMITTING`) in its own
//! committed transaction before the provider is called, and an order found in
//! SUBMITTING without a provider order id after its worker died is never resubmitted
//! automatically (API v2 has no idempotency key): it goes to NEEDS_REVIEW. The
//! provider calls themselves live in `jobs/`; everything here is database state.
//!
//! One file per concern: `dispatch`, `review` (NEEDS_REVIEW), `sync` (status sync)
//! and `requests` (cancel and refill requests).

mod dispatch;
mod requests;
mod review;
mod sync;

pub use dispatch::*;
pub use requests::*;
pub use review::*;
pub use sync::*;
