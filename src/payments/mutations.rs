//! Bank-mutation push services (Moota and the like): a service logs in to the shop
//! owner's internet banking, and POSTs every new account movement ("mutasi") to us.
//! This module owns checking that a push really comes from the service (its HMAC
//! signature over the raw body) and turning the body into [`BankMutation`]s with
//! whole-rupiah amounts and UTC times. Pure: no database, no HTTP server; the handler
//! that receives the push and the matching of credits to deposits live elsewhere.
//!
//! # Moota's push, as documented
//!
//! * Webhooks are registered with `POST https://app.moota.co/api/v2/integration/webhook`
//!   and a `secret_token` "for generate signature security"
//!   (<https://moota.gitbook.io/technical-docs/untitled>).
//! * The body is a JSON **array** of mutations shaped like the items of
//!   `GET /api/v2/mutation` (<https://moota.gitbook.io/technical-docs/mutation>):
//!   `mutation_id`, `bank_id`, `account_number`, `date` (`"2021-10-05 00:00:00"`),
//!   `description`, `amount` (`"100123.00"`), `type` (`"CR"` credit / `"DB"` debit),
//!   `note`, `balance`, `created_at`, `updated_at`, `token`, `taggings` and a nested
//!   `bank` object whose `bank_type` names the bank (`"bca"`, `"mandiriBisnis"`...).
//!   Samples elsewhere send `amount` as a JSON number (`50000`), so both are read.
//!   The older v1 push had `bank_type` at the top level; it is read as a fallback.
//! * The signature is the `Signature` header: lowercase hex HMAC-SHA256 of the raw
//!   body keyed with the webhook's secret. The docs page does not spell this out;
//!   Moota's own WordPress plugin does (github.com/moota-co/moota-wordpress,
//!   `src/Contracts/MootaWebhook.php`: `hash_hmac('sha256', $body, $secret)` compared
//!   with `hash_equals` to the `Signature` header), as does the community Laravel
//!   package atfromhome/laravel-moota, whose sample push also carries
//!   `User-Agent: MootaBot/1.5`, `X-MOOTA-USER` and `X-MOOTA-WEBHOOK` headers.
//!   Moota's plugin also only trusts pushes from 103.236.201.178 and 103.28.52.182,
//!   and treats a single Rp 10,000 mutation as the dashboard's "test webhook": both
//!   are for the HTTP layer to decide, not this module.
//! * Times: the docs give no zone. Moota is an Indonesian service reading Indonesian
//!   banks, and its dates are bank-local, so they are read as Asia/Jakarta (UTC+7,
//!   no daylight saving). Some banks give only a day (`00:00:00`).
//!
//! Amounts are refused rather than guessed when they are not plainly whole rupiah:
//! `150123`, `150123.0` and `"150123.00"` are accepted; real fractions (`"150123.50"`),
//! grouped or locale forms (`"150,123.00"`, `"150.123,00"`, `"150.000"`), signs and
//! zero are refused with the field named.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Asia::Jakarta;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

/// Largest push body read, in bytes.
pub const MAX_PUSH_BYTES: usize = 1024 * 1024;
/// Most mutations read from one push.
pub const MAX_MUTATIONS: usize = 1000;
/// Longest id, account number or bank name accepted, in characters.
pub const MAX_ID_CHARS: usize = 100;
/// Descriptions longer than this many characters are cut to it.
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// Largest amount accepted: one trillion rupiah.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;
/// The header carrying Moota's signature (header names are case-insensitive).
pub const MOOTA_SIGNATURE_HEADER: &str = "signature";

/// One movement on a bank account, as a push service reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankMutation {
    /// The service's id for the mutation (Moota `mutation_id`): the key that makes a
    /// repeated push harmless.
    pub external_id: String,
    pub account_number: String,
    /// The bank as the service names it, e.g. `bca`; empty when it did not say.
    pub bank: String,
    /// Whole rupiah, always positive.
    pub amount: i64,
    /// Money in (`CR`); `false` for money out (`DB`).
    pub credit: bool,
    /// The bank's description, at most [`MAX_DESCRIPTION_CHARS`] characters.
    pub description: String,
    pub occurred_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MutationError {
    /// Without a secret every signature would be forgeable: refuse everything.
    #[error("no webhook secret is configured for {0}")]
    NoSecret(&'static str),
    #[error("the {0} header is missing")]
    MissingSignature(&'static str),
    #[error("the signature does not match the body")]
    BadSignature,
    #[error("the push is larger than {max} bytes")]
    TooLarge { max: usize },
    #[error("the push is not JSON: {0}")]
    NotJson(String),
    #[error("the push is not a JSON array of mutations")]
    NotAnArray,
    #[error("the push holds {count} mutations; at most {max} are read")]
    TooMany { count: usize, max: usize },
    #[error("mutation {index}: {field} {problem}")]
    BadField {
        /// 0-based position in the pushed array.
        index: usize,
        field: &'static str,
        problem: String,
    },
}

/// A service that pushes bank mutations to us.
pub trait MutationSource: Send + Sync {
    /// Stable lowercase name, e.g. `moota`.
    fn name(&self) -> &'static str;
    /// Checks that `body` was sent by the service. Must be called on the raw bytes,
    /// before anything parses them.
    fn verify(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<(), MutationError>;
    /// Reads the mutations in a verified body.
    fn parse(&self, body: &[u8]) -> Result<Vec<BankMutation>, MutationError>;
}

/// Moota (moota.co) webhooks.
#[derive(Clone)]
pub struct Moota {
    secret: String,
}

impl Moota {
    /// `secret` is the webhook's secret token as set in Moota's dashboard.
    pub fn new(secret: impl Into<String>) -> Self {
        Moota {
            secret: secret.into(),
        }
    }
}

impl std::fmt::Debug for Moota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Moota").finish_non_exhaustive()
    }
}

/// The `Signature` header Moota sends with `body`: lowercase hex HMAC-SHA256 keyed
/// with the webhook secret. For tests and stand-ins.
pub fn sign_moota(secret: &str, body: &[u8]) -> String {
    hex::encode(moota_mac(secret, body).finalize().into_bytes())
}

fn moota_mac(secret: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    mac
}

impl MutationSource for Moota {
    fn name(&self) -> &'static str {
        "moota"
    }

    fn verify(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<(), MutationError> {
        if self.secret.is_empty() {
            return Err(MutationError::NoSecret("moota"));
        }
        if body.len() > MAX_PUSH_BYTES {
            return Err(MutationError::TooLarge {
                max: MAX_PUSH_BYTES,
            });
        }
        let header = headers
            .get(MOOTA_SIGNATURE_HEADER)
            .ok_or(MutationError::MissingSignature("Signature"))?;
        let given = header
            .to_str()
            .ok()
            .and_then(|s| hex::decode(s.trim()).ok())
            .ok_or(MutationError::BadSignature)?;
        // `verify_slice` compares in constant time and refuses any other length.
        moota_mac(&self.secret, body)
            .verify_slice(&given)
            .map_err(|_| MutationError::BadSignature)
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<BankMutation>, MutationError> {
        if body.len() > MAX_PUSH_BYTES {
            return Err(MutationError::TooLarge {
                max: MAX_PUSH_BYTES,
            });
        }
        let value: Value =
            serde_json::from_slice(body).map_err(|e| MutationError::NotJson(e.to_string()))?;
        let items = value.as_array().ok_or(MutationError::NotAnArray)?;
        if items.len() > MAX_MUTATIONS {
            return Err(MutationError::TooMany {
                count: items.len(),
                max: MAX_MUTATIONS,
            });
        }
        items
            .iter()
            .enumerate()
            .map(|(index, item)| parse_moota_mutation(index, item))
            .collect()
    }
}

fn parse_moota_mutation(index: usize, item: &Value) -> Result<BankMutation, MutationError> {
    let bad = |field: &'static str, problem: String| MutationError::BadField {
        index,
        field,
        problem,
    };
    let object = item
        .as_object()
        .ok_or_else(|| bad("mutation", "is not a JSON object".into()))?;

    let external_id = required_id(object, "mutation_id").map_err(|p| bad("mutation_id", p))?;
    let account_number =
        required_id(object, "account_number").map_err(|p| bad("account_number", p))?;
    let bank = object
        .get("bank")
        .and_then(|b| b.get("bank_type"))
        .or_else(|| object.get("bank_type"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_string();
    if bank.chars().count() > MAX_ID_CHARS {
        return Err(bad(
            "bank.bank_type",
            format!("is longer than {MAX_ID_CHARS} characters"),
        ));
    }

    let amount_text = super::amount_text(object.get("amount")).ok_or_else(|| {
        bad(
            "amount",
            "is missing or neither a number nor a string".into(),
        )
    })?;
    let amount = whole_rupiah(&amount_text).ok_or_else(|| {
        bad(
            "amount",
            format!(
                "is not a positive whole number of rupiah: {:?}",
                clip(&amount_text, 40)
            ),
        )
    })?;

    let credit = match object.get("type").and_then(Value::as_str).map(str::trim) {
        Some(t) if t.eq_ignore_ascii_case("CR") => true,
        Some(t) if t.eq_ignore_ascii_case("DB") => false,
        other => {
            return Err(bad(
                "type",
                format!("must be CR or DB, not {:?}", other.map(|t| clip(t, 20))),
            ));
        }
    };

    let description = match object.get("description") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => clip(s.trim(), MAX_DESCRIPTION_CHARS),
        Some(_) => return Err(bad("description", "is not a string".into())),
    };

    let date = object
        .get("date")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("date", "is missing".into()))?;
    let occurred_at = jakarta_time(date).ok_or_else(|| {
        bad(
            "date",
            format!("is not YYYY-MM-DD HH:MM:SS: {:?}", clip(date, 40)),
        )
    })?;

    Ok(BankMutation {
        external_id,
        account_number,
        bank,
        amount,
        credit,
        description,
        occurred_at,
    })
}

/// A non-empty string (or integer) field of at most [`MAX_ID_CHARS`] characters.
fn required_id(object: &Map<String, Value>, field: &str) -> Result<String, String> {
    let text = match object.get(field) {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) if n.is_u64() => n.to_string(),
        None | Some(Value::Null) => return Err("is missing".into()),
        Some(_) => return Err("is not a string".into()),
    };
    if text.is_empty() {
        return Err("is empty".into());
    }
    if text.chars().count() > MAX_ID_CHARS {
        return Err(format!("is longer than {MAX_ID_CHARS} characters"));
    }
    Ok(text)
}

/// Whole rupiah written plainly: digits, optionally `.0` or `.00`. Anything that
/// could be a locale's grouping (`150.000`, `150,000`) is refused, not guessed.
fn whole_rupiah(text: &str) -> Option<i64> {
    let whole = match text.split_once('.') {
        None => text,
        Some((whole, "0" | "00")) => whole,
        Some(_) => return None,
    };
    if whole.is_empty() || whole.len() > 13 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    whole
        .parse::<i64>()
        .ok()
        .filter(|a| (1..=MAX_AMOUNT).contains(a))
}

/// `YYYY-MM-DD HH:MM:SS` (or a bare `YYYY-MM-DD`) on a Jakarta clock, as UTC.
fn jakarta_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    // Jakarta has no daylight saving: every local time maps to exactly one instant.
    Jakarta
        .from_local_datetime(&local)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// At most `max` characters of `text`, cut on a character boundary.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => text[..end].to_string(),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests;
