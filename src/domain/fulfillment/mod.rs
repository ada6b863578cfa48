//! Fulfillment through providers: the order-side rules of dispatch and status sync.
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
