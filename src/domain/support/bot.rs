//! The reply bot. When a customer opens a ticket or replies, it reads the message
//! in the same request and transaction, without any outside service:
//!
//! - it finds the customer's own orders the message names (`#123`, `order 123`,
//!   `123, 124`, or a link they ordered for) or the ticket is about;
//! - for a REFILL or CANCEL ticket it files those requests through the same rules
//!   as `requestOrderRefill`/`requestOrderCancel` and says which were accepted and
//!   why the others were not;
//! - otherwise it answers per order with its live status, start count, remains,
//!   refund and what happens next;
//! - with no order to talk about it quotes the FAQ entry that matches well
//!   enough.
//!
//! Its answer is in the customer's language (`id` or `en`). It reports whether it
//! answered everything; what it could not answer is left to staff. It never names
//! the provider filling an order.

use std::collections::BTreeSet;

use diesel_async::AsyncPgConnection;

use super::faq;
use crate::{
    config::OrdersConfig,
    db::{
        enums::{Language, OrderStatus, TicketTopic},
        orders::OrderRow,
        services::ServiceRow,
        users::UserRow,
    },
    domain::orders::{
        self,
        refill::{RefillFacts, RefillRefusal, refill_window},
    },
    error::{AppError, AppResult},
    mail::templates::{order_status_label, rupiah},
};

/// Orders the bot talks about in one answer, at most.
pub const MAX_ORDERS: usize = 20;

/// What the bot said, and whether that settles the question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotAnswer {
    /// The message to post, if the bot has something to say.
    pub reply: Option<String>,
    /// True when nothing is left for staff.
    pub answered: bool,
}

/// What a message names: numbers that may be order ids, and links.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct References {
    pub numbers: Vec<i64>,
    pub links: Vec<String>,
}

/// The order references in `text`: every run of digits (`#123`, `order 123`,
/// `123, 124`; the caller keeps only the customer's own orders, so a quantity
/// that is no order id of theirs is ignored) and every http(s) link.
pub fn references(text: &str) -> References {
    let mut numbers = BTreeSet::new();
    let mut links = BTreeSet::new();
    for token in text.split_whitespace() {
        let lowered = token.to_ascii_lowercase();
        if lowered.starts_with("http://") || lowered.starts_with("https://") {
            let link = token.trim_end_matches(['.', ',', ')', ']', '!', '?', ';', '"', '\'']);
            if link.len() <= 2000 {
                links.insert(link.to_string());
            }
            continue;
        }
        for digits in token.split(|c: char| !c.is_ascii_digit()) {
            if (1..=18).contains(&digits.len())
                && let Ok(n) = digits.parse::<i64>()
                && n > 0
            {
                numbers.insert(n);
            }
        }
    }
    References {
        numbers: numbers.into_iter().take(200).collect(),
        links: links.into_iter().take(50).collect(),
    }
}

/// The bot's answer to `text` from `user` on a ticket about `topic` and the
/// orders `attached`. REFILL and CANCEL requests are filed in the caller's
/// transaction (each in a savepoint, so a refused one leaves no trace).
pub async fn answer(
    conn: &mut AsyncPgConnection,
    rules: &OrdersConfig,
    user: &UserRow,
    topic: TicketTopic,
    text: &str,
    attached: &[i64],
) -> AppResult<BotAnswer> {
    let lang = user.language;
    let refs = references(text);
    let mut ids = refs.numbers.clone();
    ids.extend_from_slice(attached);
    let orders =
        OrderRow::owned_matching(conn, user.id, &ids, &refs.links, MAX_ORDERS as i64).await?;
    let service_ids: Vec<i64> = orders.iter().map(|o| o.service_id).collect();
    let services = ServiceRow::load_many(conn, &service_ids).await?;
    let service_of = |order: &OrderRow| services.iter().find(|s| s.id == order.service_id);

    match topic {
        TicketTopic::Refill | TicketTopic::Cancel if orders.is_empty() => Ok(BotAnswer {
            reply: Some(
                match lang {
                    Language::Id => "Kami belum menemukan pesanan yang dimaksud. Tulis nomor pesanan Anda (misalnya #123); tim kami juga akan memeriksa tiket ini.",
                    Language::En => "We could not find which order this is about. Please write the order number (for example #123); our team will also look at this ticket.",
                }
                .to_string(),
            ),
            answered: false,
        }),
        TicketTopic::Refill | TicketTopic::Cancel => {
            let mut lines = Vec::with_capacity(orders.len());
            for order in &orders {
                let line = if topic == TicketTopic::Refill {
                    file_refill(conn, rules, user.id, order, service_of(order), lang).await?
                } else {
                    file_cancel(conn, user.id, order, service_of(order), lang).await?
                };
                lines.push(line);
            }
            Ok(BotAnswer {
                reply: Some(join(lang, &lines)),
                answered: true,
            })
        }
        _ if !orders.is_empty() => {
            let lines: Vec<String> = orders
                .iter()
                .map(|order| order_status(order, service_of(order), rules, lang))
                .collect();
            // An order waiting for our team's review needs a person to follow it.
            let answered = !orders.iter().any(|o| o.status == OrderStatus::NeedsReview);
            Ok(BotAnswer {
                reply: Some(join(lang, &lines)),
                answered,
            })
        }
        _ => match faq::best_match(conn, text, user.language.as_str()).await? {
            Some(entry) => {
                let intro = match lang {
                    Language::Id => "Mungkin ini menjawab pertanyaan Anda:",
                    Language::En => "This may answer your question:",
                };
                let outro = match lang {
                    Language::Id => "Jika belum terjawab, balas tiket ini dan tim kami akan membantu.",
                    Language::En => "If this does not answer it, reply to this ticket and our team will help.",
                };
                Ok(BotAnswer {
                    reply: Some(format!(
                        "{intro}\n\n{}\n{}\n\n{outro}",
                        entry.question, entry.answer
                    )),
                    answered: true,
                })
            }
            None => Ok(BotAnswer {
                reply: None,
                answered: false,
            }),
        },
    }
}

fn join(lang: Language, lines: &[String]) -> String {
    let header = match lang {
        Language::Id => "Halo, ini jawaban otomatis dari data pesanan Anda saat ini:",
        Language::En => "Hello, here is an automatic answer from your orders as they stand now:",
    };
    format!("{header}\n\n{}", lines.join("\n\n"))
}

fn service_name(service: Option<&ServiceRow>) -> &str {
    service.map_or("-", |s| s.name.as_str())
}

/// One order's live status and what happens next.
pub fn order_status(
    order: &OrderRow,
    service: Option<&ServiceRow>,
    rules: &OrdersConfig,
    lang: Language,
) -> String {
    let label = order_status_label(lang, order.status);
    let mut text = match lang {
        Language::Id => format!(
            "Pesanan #{} ({}, jumlah {}): {label}.",
            order.id,
            service_name(service),
            order.quantity
        ),
        Language::En => format!(
            "Order #{} ({}, quantity {}): {label}.",
            order.id,
            service_name(service),
            order.quantity
        ),
    };
    if let Some(start) = order.start_count {
        text.push_str(&match lang {
            Language::Id => format!(" Jumlah awal: {start}."),
            Language::En => format!(" Start count: {start}."),
        });
    }
    if let Some(remains) = order
        .remains
        .filter(|_| !order.status.is_final() || order.status == OrderStatus::Partial)
    {
        text.push_str(&match lang {
            Language::Id => format!(" Sisa: {remains}."),
            Language::En => format!(" Remains: {remains}."),
        });
    }
    if order.refunded > 0 {
        text.push_str(&match lang {
            Language::Id => format!(" Dikembalikan ke saldo: {}.", rupiah(order.refunded)),
            Language::En => format!(" Refunded to your balance: {}.", rupiah(order.refunded)),
        });
    }
    // Offer a refill only while the warranty lasts (the request itself checks
    // every rule again).
    let refillable = service.is_some_and(|s| {
        let window = refill_window(order, s, rules, &RefillFacts::default(), chrono::Utc::now());
        !matches!(
            window.refusal,
            Some(RefillRefusal::NoRefill | RefillRefusal::Expired)
        )
    });
    let next = match order.status {
        OrderStatus::Pending | OrderStatus::Submitting => lang.pick(
            "Pesanan akan segera dikirim untuk diproses.",
            "It will be sent for processing shortly.",
        ),
        OrderStatus::Processing => lang.pick(
            "Pesanan sudah diterima dan akan mulai berjalan.",
            "It has been accepted and will start soon.",
        ),
        OrderStatus::InProgress => lang.pick(
            "Pesanan sedang berjalan; status diperbarui otomatis.",
            "It is running; its status updates automatically.",
        ),
        OrderStatus::Completed if refillable => lang.pick(
            "Pesanan selesai. Jika jumlahnya turun, buka tiket REFILL untuk pesanan ini.",
            "It is done. If the count drops, open a REFILL ticket for this order.",
        ),
        OrderStatus::Completed => lang.pick("Pesanan selesai.", "It is done."),
        OrderStatus::Partial => lang.pick(
            "Sebagian tidak dapat dikirim; bagian itu sudah dikembalikan ke saldo Anda.",
            "Part of it could not be delivered; that part was returned to your balance.",
        ),
        OrderStatus::Canceled | OrderStatus::Failed => lang.pick(
            "Biaya pesanan sudah dikembalikan ke saldo Anda; Anda bisa memesan lagi.",
            "Its charge was returned to your balance; you may order again.",
        ),
        OrderStatus::NeedsReview => lang.pick(
            "Tim kami sedang memeriksanya dan akan membalas tiket ini.",
            "Our team is checking it and will reply on this ticket.",
        ),
    };
    format!("{text} {next}")
}

/// Files a refill request and says what became of it.
async fn file_refill(
    conn: &mut AsyncPgConnection,
    rules: &OrdersConfig,
    user_id: i64,
    order: &OrderRow,
    service: Option<&ServiceRow>,
    lang: Language,
) -> AppResult<String> {
    let id = order.id;
    let refusal = match service {
        Some(service) => orders::refill_refusal(conn, rules, order, service).await?,
        None => Some(RefillRefusal::NoRefill),
    };
    if let Some(refusal) = refusal {
        return Ok(refused(lang, "refill", id, refusal.reason(lang)));
    }
    match orders::request_refill(conn, rules, user_id, id).await {
        Ok(_) => Ok(match lang {
            Language::Id => {
                format!("Pesanan #{id}: permintaan refill diterima dan sedang diteruskan.")
            }
            Language::En => {
                format!("Order #{id}: the refill request was accepted and is being forwarded.")
            }
        }),
        // Another request won the race since the facts were read.
        Err(AppError::Conflict(_)) => Ok(refused(
            lang,
            "refill",
            id,
            RefillRefusal::AlreadyRequested.reason(lang),
        )),
        Err(other) => Err(other),
    }
}

/// Files a cancel request (a PENDING order is canceled and refunded at once) and
/// says what became of it.
async fn file_cancel(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    order: &OrderRow,
    service: Option<&ServiceRow>,
    lang: Language,
) -> AppResult<String> {
    let id = order.id;
    if !service.is_some_and(|s| s.cancel) {
        let reason = match lang {
            Language::Id => "layanan ini tidak bisa dibatalkan",
            Language::En => "its service cannot be canceled",
        };
        return Ok(refused(lang, "cancel", id, reason));
    }
    if order.status.is_final() || order.status == OrderStatus::NeedsReview {
        let label = order_status_label(lang, order.status);
        let reason = match lang {
            Language::Id => format!("pesanan sudah {label}"),
            Language::En => format!("the order is already {label}"),
        };
        return Ok(refused(lang, "cancel", id, &reason));
    }
    match orders::request_cancel(conn, user_id, id).await {
        Ok((canceled, None)) => Ok(match lang {
            Language::Id => format!(
                "Pesanan #{id}: dibatalkan dan {} dikembalikan ke saldo Anda.",
                rupiah(canceled.refunded)
            ),
            Language::En => format!(
                "Order #{id}: canceled, and {} was returned to your balance.",
                rupiah(canceled.refunded)
            ),
        }),
        Ok((_, Some(_))) => Ok(match lang {
            Language::Id => format!(
                "Pesanan #{id}: permintaan pembatalan diterima; jika berhasil, sisa biaya dikembalikan otomatis."
            ),
            Language::En => format!(
                "Order #{id}: the cancel request was accepted; if it succeeds, what was not delivered is refunded automatically."
            ),
        }),
        Err(AppError::Conflict(_)) => Ok(refused(
            lang,
            "cancel",
            id,
            match lang {
                Language::Id => {
                    "pembatalan untuk pesanan ini sudah diminta atau tidak mungkin lagi"
                }
                Language::En => {
                    "a cancel was already requested for it, or it can no longer be canceled"
                }
            },
        )),
        Err(AppError::Validation { .. }) => Ok(refused(
            lang,
            "cancel",
            id,
            match lang {
                Language::Id => "layanan ini tidak bisa dibatalkan",
                Language::En => "its service cannot be canceled",
            },
        )),
        Err(other) => Err(other),
    }
}

fn refused(lang: Language, what: &str, id: i64, reason: &str) -> String {
    match (lang, what) {
        (Language::Id, "refill") => {
            format!("Pesanan #{id}: refill tidak dapat diajukan karena {reason}.")
        }
        (Language::Id, _) => {
            format!("Pesanan #{id}: pembatalan tidak dapat diajukan karena {reason}.")
        }
        (Language::En, "refill") => format!("Order #{id}: no refill was filed because {reason}."),
        (Language::En, _) => format!("Order #{id}: no cancel was filed because {reason}."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_order_numbers_and_links() {
        let refs = references(
            "where is my order #123? also order 124, 125. Link: https://instagram.com/p/abc).",
        );
        assert_eq!(refs.numbers, vec![123, 124, 125]);
        assert_eq!(refs.links, vec!["https://instagram.com/p/abc".to_string()]);
        assert!(references("no numbers here").numbers.is_empty());
        assert!(references("0 and 99999999999999999999").numbers.is_empty());
    }

    #[test]
    fn a_refill_is_offered_only_while_the_warranty_lasts() {
        use crate::db::{enums::ServiceType, orders::tests::order};
        let rules = OrdersConfig::default();
        let mut service = crate::domain::orders::test_service(ServiceType::Default);
        service.spec.refill = true;
        let mut done = order(OrderStatus::Completed);
        done.completed_at = Some(chrono::Utc::now() - chrono::Duration::days(2));
        let fresh = order_status(&done, Some(&service), &rules, Language::En);
        assert!(fresh.contains("open a REFILL ticket"), "{fresh}");
        done.completed_at = Some(chrono::Utc::now() - chrono::Duration::days(40));
        let old = order_status(&done, Some(&service), &rules, Language::En);
        assert!(!old.contains("REFILL"), "{old}");
    }
}
