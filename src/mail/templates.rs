//! Mail templates, in Indonesian (`id`, the default) and English (`en`), chosen
//! by the recipient's `users.language`. Plain text: every mail reads the same in
//! any client, and nothing a customer wrote can inject markup.

use crate::db::enums::{Language, OrderStatus};

/// A subject and a text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
}

/// Whole rupiah as customers read it: `Rp 1.250.000`.
pub fn rupiah(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push('.');
        }
        grouped.push(c);
    }
    let sign = if amount < 0 { "-" } else { "" };
    format!("{sign}Rp {grouped}")
}

/// An order status in words.
pub fn order_status_label(lang: Language, status: OrderStatus) -> &'static str {
    use OrderStatus as S;
    match (lang, status) {
        (Language::Id, S::Pending | S::Submitting) => "menunggu dikirim ke layanan",
        (Language::En, S::Pending | S::Submitting) => "waiting to be sent",
        (Language::Id, S::Processing) => "diproses, belum mulai",
        (Language::En, S::Processing) => "accepted, not started yet",
        (Language::Id, S::InProgress) => "sedang berjalan",
        (Language::En, S::InProgress) => "in progress",
        (Language::Id, S::Completed) => "selesai",
        (Language::En, S::Completed) => "completed",
        (Language::Id, S::Partial) => "selesai sebagian",
        (Language::En, S::Partial) => "partially completed",
        (Language::Id, S::Canceled) => "dibatalkan",
        (Language::En, S::Canceled) => "canceled",
        (Language::Id, S::Failed) => "gagal",
        (Language::En, S::Failed) => "failed",
        (Language::Id, S::NeedsReview) => "sedang diperiksa oleh tim kami",
        (Language::En, S::NeedsReview) => "being checked by our team",
    }
}

fn greeting(lang: Language, name: &str) -> String {
    let name = name.trim();
    match (lang, name.is_empty()) {
        (Language::Id, true) => "Halo,".into(),
        (Language::Id, false) => format!("Halo {name},"),
        (Language::En, true) => "Hello,".into(),
        (Language::En, false) => format!("Hello {name},"),
    }
}

/// A customer's mail: the greeting, `body` and the signature.
fn letter(lang: Language, name: &str, subject: String, body: &str) -> Rendered {
    Rendered {
        subject,
        text: format!(
            "{}\n\n{body}\n\n{}\n",
            greeting(lang, name),
            signature(lang)
        ),
    }
}

fn signature(lang: Language) -> &'static str {
    lang.pick(
        "Email ini dikirim otomatis. Atur notifikasi email di pengaturan akun Anda.",
        "This email was sent automatically. Choose which emails you get in your account settings.",
    )
}

/// A deposit was credited to the balance.
pub fn deposit_credited(
    lang: Language,
    name: &str,
    deposit_id: i64,
    amount: i64,
    balance: i64,
) -> Rendered {
    let subject = match lang {
        Language::Id => format!("Deposit #{deposit_id} sebesar {} diterima", rupiah(amount)),
        Language::En => format!("Deposit #{deposit_id} of {} received", rupiah(amount)),
    };
    let body = match lang {
        Language::Id => format!(
            "Deposit #{deposit_id} sebesar {} sudah masuk ke saldo Anda.\nSaldo sekarang: {}.",
            rupiah(amount),
            rupiah(balance)
        ),
        Language::En => format!(
            "Deposit #{deposit_id} of {} has been added to your balance.\nYour balance is now {}.",
            rupiah(amount),
            rupiah(balance)
        ),
    };
    letter(lang, name, subject, &body)
}

/// An admin rejected a deposit, and why.
pub fn deposit_rejected(lang: Language, name: &str, deposit_id: i64, reason: &str) -> Rendered {
    let (subject, body) = match lang {
        Language::Id => (
            format!("Deposit #{deposit_id} ditolak"),
            format!(
                "Deposit #{deposit_id} ditolak oleh admin.\nAlasan: {reason}\nBalas tiket bantuan jika Anda sudah membayar."
            ),
        ),
        Language::En => (
            format!("Deposit #{deposit_id} was rejected"),
            format!(
                "Deposit #{deposit_id} was rejected by an admin.\nReason: {reason}\nOpen a support ticket if you did pay."
            ),
        ),
    };
    letter(lang, name, subject, &body)
}

/// An order reached a final status; `refunded` is what went back to the balance.
pub fn order_ended(
    lang: Language,
    name: &str,
    order_id: i64,
    service_name: &str,
    status: OrderStatus,
    refunded: i64,
) -> Rendered {
    let label = order_status_label(lang, status);
    let subject = match lang {
        Language::Id => format!("Pesanan #{order_id} {label}"),
        Language::En => format!("Order #{order_id} {label}"),
    };
    let mut body = match lang {
        Language::Id => format!("Pesanan #{order_id} ({service_name}) {label}."),
        Language::En => format!("Order #{order_id} ({service_name}) is {label}."),
    };
    if refunded > 0 {
        body.push('\n');
        body.push_str(&match lang {
            Language::Id => format!("{} dikembalikan ke saldo Anda.", rupiah(refunded)),
            Language::En => format!("{} was returned to your balance.", rupiah(refunded)),
        });
    }
    letter(lang, name, subject, &body)
}

/// Staff or the bot answered a ticket.
pub fn ticket_reply(
    lang: Language,
    name: &str,
    ticket_id: i64,
    ticket_subject: &str,
    reply: &str,
    from_bot: bool,
) -> Rendered {
    let subject = match lang {
        Language::Id => format!("Balasan tiket #{ticket_id}: {ticket_subject}"),
        Language::En => format!("Reply to ticket #{ticket_id}: {ticket_subject}"),
    };
    let who = match (lang, from_bot) {
        (Language::Id, true) => "Asisten otomatis kami membalas tiket Anda:",
        (Language::Id, false) => "Tim dukungan kami membalas tiket Anda:",
        (Language::En, true) => "Our automatic assistant replied to your ticket:",
        (Language::En, false) => "Our support team replied to your ticket:",
    };
    let reply_hint = lang.pick(
        "Balas lewat halaman tiket di panel jika masih ada pertanyaan.",
        "Reply on the ticket's page in the panel if you have more questions.",
    );
    let body = format!("{who}\n\n{reply}\n\n{reply_hint}");
    letter(lang, name, one_line(&subject), &body)
}

/// A notice for an admin (a provider's balance is low, an order needs review, a
/// ticket waits for staff).
pub fn admin_alert(lang: Language, message: &str) -> Rendered {
    let first_line = message.lines().next().unwrap_or_default();
    let subject = format!("[admin] {first_line}");
    Rendered {
        subject: one_line(&subject),
        text: format!(
            "{message}\n\n{}\n",
            lang.pick(
                "Notifikasi admin dari booster.",
                "An admin notification from booster."
            )
        ),
    }
}

/// An admin's answer to a contact form message.
pub fn contact_answer(lang: Language, name: &str, their_subject: &str, answer: &str) -> Rendered {
    let subject = format!("Re: {their_subject}");
    let intro = lang.pick(
        "Terima kasih telah menghubungi kami. Berikut jawaban kami:",
        "Thank you for contacting us. Here is our answer:",
    );
    Rendered {
        subject: one_line(&subject),
        text: format!("{}\n\n{intro}\n\n{answer}\n", greeting(lang, name)),
    }
}

/// A subject fit for one header line, at most 300 characters.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(crate::mail::MAX_SUBJECT_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rupiah_groups_thousands_with_dots() {
        assert_eq!(rupiah(0), "Rp 0");
        assert_eq!(rupiah(999), "Rp 999");
        assert_eq!(rupiah(1_000), "Rp 1.000");
        assert_eq!(rupiah(1_250_000), "Rp 1.250.000");
        assert_eq!(rupiah(-15_000), "-Rp 15.000");
    }

    #[test]
    fn a_mail_is_written_in_the_users_language() {
        // `users.language` holds only `id` or `en` (a CHECK since 2026-12-05; the
        // migration mapped `en-US` and the like to `en`, anything else to `id`).
        assert_eq!("en".parse::<Language>(), Ok(Language::En));
        assert_eq!("id".parse::<Language>(), Ok(Language::Id));
        assert!("en-US".parse::<Language>().is_err());
        assert_eq!(Language::Id.pick("halo", "hello"), "halo");
        assert_eq!(Language::En.pick("halo", "hello"), "hello");
    }

    #[test]
    fn order_ended_mentions_the_refund_in_the_users_language() {
        let mail = order_ended(
            Language::En,
            "Ana",
            7,
            "IG Followers",
            OrderStatus::Partial,
            1_500,
        );
        assert_eq!(mail.subject, "Order #7 partially completed");
        assert!(mail.text.contains("Rp 1.500 was returned"));
        let mail = order_ended(
            Language::Id,
            "Ana",
            7,
            "IG Followers",
            OrderStatus::Canceled,
            2_000,
        );
        assert!(mail.text.contains("Rp 2.000 dikembalikan"));
    }

    #[test]
    fn subjects_never_span_lines() {
        let mail = ticket_reply(Language::Id, "", 1, "a\r\nBcc: x@example.com", "hi", true);
        assert!(!mail.subject.contains(['\r', '\n']));
    }
}
