//! The refill warranty: a refill is accepted only within the service's refill
//! period counted from completion, not during the cooldown after the last one,
//! not while another refill of the order is open, and not while a newer order on
//! the same link is running (its start count would make a refill meaningless).
//! [`refill_window`] decides from facts read beforehand, so every rule is tested
//! without a database; `request_refill` and `Order.refill` both use it.

use chrono::{DateTime, Duration, Utc};

use crate::{
    config::OrdersConfig,
    db::{
        enums::{Language, OrderRequestKind, OrderStatus},
        order_requests::OrderRequestRow,
        orders::OrderRow,
        services::ServiceRow,
    },
    error::AppError,
};

/// What the rules need to know beyond the order and its service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefillFacts {
    /// When the order's latest refill was asked for.
    pub last_refill_at: Option<DateTime<Utc>>,
    /// A refill of the order is still being worked on.
    pub refill_open: bool,
    /// A newer order on the same link has not ended.
    pub newer_active_order: bool,
    /// The order is a drip-feed the panel runs: its runs are refilled, not it.
    pub runs_by_panel: bool,
}

impl RefillFacts {
    /// The facts from the order's requests (any order, any kind among them).
    pub fn from_requests<'a>(
        requests: impl IntoIterator<Item = &'a OrderRequestRow>,
        newer_active_order: bool,
    ) -> RefillFacts {
        let refills = requests
            .into_iter()
            .filter(|r| r.kind == OrderRequestKind::Refill);
        let mut facts = RefillFacts {
            newer_active_order,
            ..RefillFacts::default()
        };
        for refill in refills {
            facts.refill_open |= refill.status.is_open();
            facts.last_refill_at = facts.last_refill_at.max(Some(refill.created_at));
        }
        facts
    }
}

/// Why a refill cannot be asked for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefillRefusal {
    /// The service has no refill (or a period of 0 days).
    NoRefill,
    /// The order has not completed.
    NotCompleted,
    /// The refill period is over.
    Expired,
    /// A refill of this order is still being worked on.
    AlreadyRequested,
    /// The cooldown after the last refill has not passed.
    Cooldown,
    /// A newer order on the same link is running.
    NewerOrderOnLink,
    /// A drip-feed order the panel runs: each of its runs is refilled on its own.
    RunByRun,
}

/// Whether and until when an order may be refilled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefillWindow {
    /// The end of the refill period (`None`: no refill, or not completed yet).
    pub available_until: Option<DateTime<Utc>>,
    /// During a cooldown, when it ends.
    pub next_available_at: Option<DateTime<Utc>>,
    /// `None`: a refill may be asked for now.
    pub refusal: Option<RefillRefusal>,
}

/// The refill period of a service, in days (0: none).
pub fn refill_period_days(service: &ServiceRow, rules: &OrdersConfig) -> i32 {
    if service.refill {
        service
            .refill_period_days
            .unwrap_or(rules.refill_period_days)
    } else {
        0
    }
}

/// The hours between two refills of one order of a service.
pub fn refill_cooldown_hours(service: &ServiceRow, rules: &OrdersConfig) -> i32 {
    service
        .refill_cooldown_hours
        .unwrap_or(rules.refill_cooldown_hours)
}

/// The rules, in the order a customer would want to hear them.
pub fn refill_window(
    order: &OrderRow,
    service: &ServiceRow,
    rules: &OrdersConfig,
    facts: &RefillFacts,
    now: DateTime<Utc>,
) -> RefillWindow {
    let refused = |refusal, available_until, next_available_at| RefillWindow {
        available_until,
        next_available_at,
        refusal: Some(refusal),
    };
    let period = refill_period_days(service, rules);
    if period == 0 {
        return refused(RefillRefusal::NoRefill, None, None);
    }
    if facts.runs_by_panel {
        return refused(RefillRefusal::RunByRun, None, None);
    }
    if !matches!(order.status, OrderStatus::Completed | OrderStatus::Partial) {
        return refused(RefillRefusal::NotCompleted, None, None);
    }
    let completed_at = order.completed_at.unwrap_or(order.updated_at);
    let until = completed_at + Duration::days(i64::from(period));
    if now >= until {
        return refused(RefillRefusal::Expired, Some(until), None);
    }
    if facts.refill_open {
        return refused(RefillRefusal::AlreadyRequested, Some(until), None);
    }
    let cooldown = Duration::hours(i64::from(refill_cooldown_hours(service, rules)));
    if let Some(next) = facts.last_refill_at.map(|at| at + cooldown)
        && now < next
    {
        let next = (next < until).then_some(next);
        return refused(RefillRefusal::Cooldown, Some(until), next);
    }
    if facts.newer_active_order {
        return refused(RefillRefusal::NewerOrderOnLink, Some(until), None);
    }
    RefillWindow {
        available_until: Some(until),
        next_available_at: None,
        refusal: None,
    }
}

impl RefillRefusal {
    /// A short reason, in `lang`, for answers in a conversation (the bot).
    pub fn reason(self, lang: Language) -> &'static str {
        match self {
            RefillRefusal::NoRefill => lang.pick(
                "layanan ini tidak memiliki refill",
                "its service has no refill",
            ),
            RefillRefusal::NotCompleted => lang.pick(
                "refill hanya untuk pesanan yang sudah selesai",
                "only completed orders can be refilled",
            ),
            RefillRefusal::Expired => lang.pick(
                "masa garansi refill pesanan ini sudah berakhir",
                "its refill period is over",
            ),
            RefillRefusal::AlreadyRequested => lang.pick(
                "permintaan refill untuk pesanan ini sudah ada",
                "a refill was already requested for it",
            ),
            RefillRefusal::Cooldown => lang.pick(
                "refill terakhir baru saja diminta; coba lagi nanti",
                "a refill was asked for recently; please try again later",
            ),
            RefillRefusal::NewerOrderOnLink => lang.pick(
                "pesanan lain untuk link ini masih berjalan; minta refill setelah selesai",
                "a newer order on this link is still running; ask again when it has completed",
            ),
            RefillRefusal::RunByRun => lang.pick(
                "pesanan drip-feed di-refill per run; minta refill untuk pesanan run-nya",
                "a drip-feed order is refilled run by run; ask for a refill of its runs",
            ),
        }
    }

    /// The refusal as an error: the words customers and resellers' tools see.
    pub fn error(self, window: &RefillWindow) -> AppError {
        let at = |t: Option<DateTime<Utc>>| {
            t.map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        };
        match self {
            RefillRefusal::NoRefill => {
                AppError::validation("orderId", "this service has no refill")
            }
            RefillRefusal::RunByRun => AppError::validation(
                "orderId",
                "a drip-feed order is refilled run by run: ask for a refill of its runs",
            ),
            RefillRefusal::NotCompleted => {
                AppError::conflict("only completed orders can be refilled")
            }
            RefillRefusal::Expired => AppError::conflict(format!(
                "the refill period of this order ended at {}",
                at(window.available_until)
            )),
            RefillRefusal::AlreadyRequested => {
                AppError::conflict("a refill request for this order is already open")
            }
            RefillRefusal::Cooldown => match window.next_available_at {
                Some(next) => AppError::conflict(format!(
                    "a refill was asked for recently; the next one can be asked for at {}",
                    at(Some(next))
                )),
                None => AppError::conflict(
                    "a refill was asked for recently, and the refill period ends before the next one",
                ),
            },
            RefillRefusal::NewerOrderOnLink => AppError::conflict(
                "a newer order on this link is still running; ask for a refill when it has completed",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::enums::{OrderRequestStatus, ServiceType};
    use crate::domain::orders::prepare::tests::service;

    fn order(status: OrderStatus, completed_at: DateTime<Utc>) -> OrderRow {
        OrderRow {
            completed_at: Some(completed_at),
            updated_at: completed_at,
            ..crate::db::orders::tests::order(status)
        }
    }

    fn refillable(period: Option<i32>, cooldown: Option<i32>) -> ServiceRow {
        let mut s = service(ServiceType::Default);
        s.spec.refill = true;
        s.refill_period_days = period;
        s.refill_cooldown_hours = cooldown;
        s
    }

    fn request(status: OrderRequestStatus, created_at: DateTime<Utc>) -> OrderRequestRow {
        OrderRequestRow {
            id: 1,
            order_id: 1,
            kind: OrderRequestKind::Refill,
            status,
            provider_ref: None,
            note: String::new(),
            created_at,
            updated_at: created_at,
        }
    }

    #[test]
    fn a_refill_is_open_within_the_period_counted_from_completion() {
        let rules = OrdersConfig::default();
        let done = Utc::now() - Duration::days(10);
        let o = order(OrderStatus::Completed, done);
        let facts = RefillFacts::default();
        let w = refill_window(&o, &refillable(None, None), &rules, &facts, Utc::now());
        assert_eq!(w.refusal, None);
        assert_eq!(w.available_until, Some(done + Duration::days(30)));
        let w = refill_window(&o, &refillable(Some(7), None), &rules, &facts, Utc::now());
        assert_eq!(w.refusal, Some(RefillRefusal::Expired));
        assert_eq!(w.available_until, Some(done + Duration::days(7)));
        let partial = order(OrderStatus::Partial, done);
        let w = refill_window(
            &partial,
            &refillable(Some(30), None),
            &rules,
            &facts,
            Utc::now(),
        );
        assert_eq!(w.refusal, None);
    }

    #[test]
    fn no_refill_and_unfinished_orders_are_refused_first() {
        let rules = OrdersConfig::default();
        let now = Utc::now();
        let facts = RefillFacts::default();
        let o = order(OrderStatus::Completed, now);
        let plain = service(ServiceType::Default);
        let w = refill_window(&o, &plain, &rules, &facts, now);
        assert_eq!(w.refusal, Some(RefillRefusal::NoRefill));
        let w = refill_window(&o, &refillable(Some(0), None), &rules, &facts, now);
        assert_eq!(w.refusal, Some(RefillRefusal::NoRefill));
        let running = order(OrderStatus::InProgress, now);
        let w = refill_window(&running, &refillable(None, None), &rules, &facts, now);
        assert_eq!(
            (w.refusal, w.available_until),
            (Some(RefillRefusal::NotCompleted), None)
        );
    }

    #[test]
    fn an_open_refill_then_the_cooldown_then_a_newer_order_hold_it_back() {
        let rules = OrdersConfig::default();
        let now = Utc::now();
        let o = order(OrderStatus::Completed, now - Duration::days(3));
        let s = refillable(None, Some(24));
        let asked = now - Duration::hours(5);
        let open =
            RefillFacts::from_requests(&[request(OrderRequestStatus::Submitted, asked)], false);
        assert!(open.refill_open);
        let w = refill_window(&o, &s, &rules, &open, now);
        assert_eq!(w.refusal, Some(RefillRefusal::AlreadyRequested));
        let done =
            RefillFacts::from_requests(&[request(OrderRequestStatus::Completed, asked)], false);
        let w = refill_window(&o, &s, &rules, &done, now);
        assert_eq!(w.refusal, Some(RefillRefusal::Cooldown));
        assert_eq!(w.next_available_at, Some(asked + Duration::hours(24)));
        let later = now + Duration::hours(20);
        assert_eq!(refill_window(&o, &s, &rules, &done, later).refusal, None);
        let newer =
            RefillFacts::from_requests(&[request(OrderRequestStatus::Rejected, asked)], true);
        let w = refill_window(&o, &s, &rules, &newer, later);
        assert_eq!(w.refusal, Some(RefillRefusal::NewerOrderOnLink));
    }

    #[test]
    fn a_cooldown_past_the_period_says_no_next_time() {
        let rules = OrdersConfig::default();
        let now = Utc::now();
        let o = order(
            OrderStatus::Completed,
            now - Duration::days(30) + Duration::hours(2),
        );
        let facts =
            RefillFacts::from_requests(&[request(OrderRequestStatus::Completed, now)], false);
        let w = refill_window(&o, &refillable(None, None), &rules, &facts, now);
        assert_eq!(
            (w.refusal, w.next_available_at),
            (Some(RefillRefusal::Cooldown), None)
        );
        let message = RefillRefusal::Cooldown.error(&w).to_string();
        assert!(message.contains("period ends before"), "{message}");
    }
}
