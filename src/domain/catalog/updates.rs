//! The public catalogue updates feed in words: what an entry of
//! `service_updates` (written by a trigger on `services`) says to a customer.

use crate::{
    db::{enums::ServiceUpdateKind, service_updates::ServiceUpdateRow},
    mail::templates::rupiah,
};

/// One line that says what happened, e.g. "Price down: Followers, Rp 15.840 → Rp 14.000 per 1000".
pub fn headline(update: &ServiceUpdateRow, name: &str) -> String {
    let price = |p: Option<i64>| p.map_or_else(String::new, rupiah);
    match update.kind {
        ServiceUpdateKind::New => {
            format!("New: {name}, {} per 1000", price(update.new_price_per_1000))
        }
        ServiceUpdateKind::Enabled => format!("Available again: {name}"),
        ServiceUpdateKind::Disabled => format!("No longer available: {name}"),
        ServiceUpdateKind::PriceUp | ServiceUpdateKind::PriceDown => format!(
            "Price {}: {name}, {} → {} per 1000",
            if update.kind == ServiceUpdateKind::PriceUp {
                "up"
            } else {
                "down"
            },
            price(update.old_price_per_1000),
            price(update.new_price_per_1000)
        ),
        ServiceUpdateKind::LimitsChanged => format!(
            "Limits changed: {name}, {}–{} (was {}–{})",
            update.new_min_quantity.unwrap_or_default(),
            update.new_max_quantity.unwrap_or_default(),
            update.old_min_quantity.unwrap_or_default(),
            update.old_max_quantity.unwrap_or_default()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_reads_as_a_customer_would_say_it() {
        let update = ServiceUpdateRow {
            id: 1,
            service_id: 2,
            kind: ServiceUpdateKind::PriceDown,
            old_price_per_1000: Some(15_840),
            new_price_per_1000: Some(14_000),
            old_min_quantity: None,
            new_min_quantity: None,
            old_max_quantity: None,
            new_max_quantity: None,
            created_at: chrono::Utc::now(),
        };
        assert_eq!(
            headline(&update, "Followers"),
            "Price down: Followers, Rp 15.840 → Rp 14.000 per 1000"
        );
        let limits = ServiceUpdateRow {
            kind: ServiceUpdateKind::LimitsChanged,
            old_min_quantity: Some(10),
            new_min_quantity: Some(20),
            old_max_quantity: Some(1000),
            new_max_quantity: Some(2000),
            ..update
        };
        assert_eq!(
            headline(&limits, "Followers"),
            "Limits changed: Followers, 20–2000 (was 10–1000)"
        );
    }
}
