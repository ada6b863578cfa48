//! `SubscriptionProgress`: the terms and progress of a subscription order (auto-likes or
//! auto-views on new posts), read from the order's fields and its remains.

use async_graphql::Object;
use serde_json::Value;

use crate::{db::orders::OrderRow, domain::upstream::subscription_posts};

/// A subscription order's terms (as placed) and the posts reached so far.
pub struct SubscriptionProgress(pub OrderRow);

impl SubscriptionProgress {
    /// The subscription view of `order`, if it is one.
    pub fn of(order: &OrderRow) -> Option<SubscriptionProgress> {
        subscription_posts(order).map(|_| SubscriptionProgress(order.clone()))
    }

    fn number(&self, field: &str) -> Option<i64> {
        self.0.extra.get(field).and_then(Value::as_i64)
    }
}

#[Object]
impl SubscriptionProgress {
    /// The account whose new posts get delivered to.
    async fn username(&self) -> Option<&str> {
        self.0.extra.get("username").and_then(Value::as_str)
    }

    /// Fewest units per post.
    async fn min(&self) -> Option<i64> {
        self.number("min")
    }

    /// Most units per post (what each post reserves).
    async fn max(&self) -> Option<i64> {
        self.number("max")
    }

    /// New posts covered.
    async fn posts(&self) -> i64 {
        self.number("posts").unwrap_or(0)
    }

    /// Existing posts covered.
    async fn old_posts(&self) -> i64 {
        self.number("old_posts").unwrap_or(0)
    }

    /// Minutes after a post before delivery starts.
    async fn delay(&self) -> Option<i64> {
        self.number("delay")
    }

    /// The last day, `d/m/Y`, if one was set.
    async fn expiry(&self) -> Option<&str> {
        self.0.extra.get("expiry").and_then(Value::as_str)
    }

    /// Posts delivered so far; what is not reached when it ends comes back.
    async fn posts_reached(&self) -> i64 {
        subscription_posts(&self.0).unwrap_or(0)
    }
}
