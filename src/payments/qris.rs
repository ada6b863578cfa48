//! QRIS (Indonesia's EMVCo merchant-presented QR) without a gateway: this module
//! owns checking the static QRIS payload a shop owner pastes in, and turning it into
//! a dynamic one that carries the exact amount a deposit must pay, the way Indonesian
//! QRIS apps do it. Pure string work, no I/O, so a bad payload is refused before it
//! is stored and every QR shown to a customer is checked by the same code.
//!
//! The payload is a flat list of TLV data objects: a 2-digit id, a 2-digit length and
//! that many characters of value (payloads are ASCII, so characters are bytes). It
//! opens with `000201` (payload format indicator) and closes with `6304` plus the
//! CRC-16/CCITT-FALSE of everything before the four CRC characters, in uppercase
//! hex. Nested templates (26..=51 merchant account information, 62 additional data)
//! are kept as opaque strings: they are copied through unchanged.
//!
//! Making a payload dynamic: tag 01 (point of initiation) becomes `12`, any tag 54
//! (transaction amount) is replaced by the amount in whole rupiah, placed so that tag
//! ids stay ascending (right before the first tag above 54, i.e. before 58 on every
//! QRIS seen in practice), and the CRC is recomputed.

/// Longest payload accepted, in characters. Real QRIS payloads are 150-350 long.
pub const MAX_PAYLOAD_LEN: usize = 512;
/// Largest amount tag 54 can hold here: ten digits of whole rupiah.
pub const MAX_AMOUNT: i64 = 9_999_999_999;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrisError {
    #[error("the QRIS payload is empty")]
    Empty,
    #[error("the QRIS payload is {len} characters long; at most {max} are accepted")]
    TooLong { len: usize, max: usize },
    #[error("the QRIS payload contains characters that are not ASCII")]
    NotAscii,
    #[error("the QRIS payload must start with 000201")]
    BadHeader,
    #[error("the QRIS payload is cut short or malformed at character {at}")]
    Truncated { at: usize },
    #[error("tag {0:02} appears more than once")]
    DuplicateTag(u8),
    #[error("the QRIS payload must end with its checksum (tag 63, length 04)")]
    MissingCrc,
    #[error("the QRIS checksum is {found}, but the payload's checksum is {expected:04X}")]
    BadCrc { expected: u16, found: String },
    #[error("the QRIS payload has no {0}")]
    MissingTag(&'static str),
    #[error("tag 01 (point of initiation) must be 11 or 12, not {0:?}")]
    BadInitiation(String),
    #[error("the QRIS currency (tag 53) is {0:?}; only 360 (rupiah) is accepted")]
    NotIdr(String),
    #[error("the QRIS country (tag 58) is {0:?}; only ID is accepted")]
    NotIndonesia(String),
    #[error("tag 54 (amount) holds {0:?}, which is not a whole rupiah amount")]
    BadAmountTag(String),
    #[error("the amount must be between 1 and {MAX_AMOUNT} rupiah, not {0}")]
    AmountOutOfRange(i64),
}

/// One top-level data object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrisField {
    pub id: u8,
    pub value: String,
}

/// A payload that passed [`validate_static`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticQris {
    /// Tag 59.
    pub merchant_name: String,
    /// Tag 60.
    pub merchant_city: String,
    /// Tag 61, when present.
    pub postal_code: Option<String>,
    /// Tag 01 is `12`: the payload was made for one payment.
    pub dynamic: bool,
    /// Tag 54 in whole rupiah, when present.
    pub amount: Option<i64>,
    /// Every top-level data object in payload order, the CRC (tag 63) included.
    pub fields: Vec<QrisField>,
}

impl StaticQris {
    /// The value of top-level tag `id`.
    pub fn field(&self, id: u8) -> Option<&str> {
        find(&self.fields, id)
    }
}

/// CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection, no
/// final xor. The check value of `b"123456789"` is 0x29B1.
pub fn crc16_ccitt_false(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Checks a QRIS payload (static, or dynamic as made by [`dynamic_for_amount`]):
/// ASCII, at most [`MAX_PAYLOAD_LEN`] characters, well-formed TLV from `000201` to a
/// final `6304` + valid uppercase CRC, tag 01 `11` or `12`, a merchant account (some
/// tag in 26..=51), tags 52, 53 = `360`, 58 = `ID`, 59 and 60. Surrounding whitespace
/// is ignored.
pub fn validate_static(payload: &str) -> Result<StaticQris, QrisError> {
    let payload = payload.trim();
    if payload.is_empty() {
        return Err(QrisError::Empty);
    }
    if !payload.is_ascii() {
        return Err(QrisError::NotAscii);
    }
    if payload.len() > MAX_PAYLOAD_LEN {
        return Err(QrisError::TooLong {
            len: payload.len(),
            max: MAX_PAYLOAD_LEN,
        });
    }
    if !payload.starts_with("000201") {
        return Err(QrisError::BadHeader);
    }
    let fields = parse_tlv(payload)?;

    // The CRC must be the last object, with exactly four characters, and cover
    // everything before them ("6304" included).
    match fields.last() {
        Some(QrisField { id: 63, value }) if value.len() == 4 => {}
        _ => return Err(QrisError::MissingCrc),
    }
    let (covered, found) = payload.split_at(payload.len() - 4);
    let expected = crc16_ccitt_false(covered.as_bytes());
    if found != format!("{expected:04X}") {
        return Err(QrisError::BadCrc {
            expected,
            found: found.to_string(),
        });
    }
    if fields[..fields.len() - 1].iter().any(|f| f.id == 63) {
        return Err(QrisError::DuplicateTag(63));
    }

    let initiation =
        find(&fields, 1).ok_or(QrisError::MissingTag("tag 01 (point of initiation)"))?;
    let dynamic = match initiation {
        "11" => false,
        "12" => true,
        other => return Err(QrisError::BadInitiation(other.to_string())),
    };
    if !fields.iter().any(|f| (26..=51).contains(&f.id)) {
        return Err(QrisError::MissingTag(
            "merchant account information (tags 26 to 51)",
        ));
    }
    find(&fields, 52).ok_or(QrisError::MissingTag("tag 52 (merchant category code)"))?;
    let currency = find(&fields, 53).ok_or(QrisError::MissingTag("tag 53 (currency)"))?;
    if currency != "360" {
        return Err(QrisError::NotIdr(currency.to_string()));
    }
    let country = find(&fields, 58).ok_or(QrisError::MissingTag("tag 58 (country code)"))?;
    if country != "ID" {
        return Err(QrisError::NotIndonesia(country.to_string()));
    }
    let merchant_name = non_blank(find(&fields, 59))
        .ok_or(QrisError::MissingTag("tag 59 (merchant name)"))?
        .to_string();
    let merchant_city = non_blank(find(&fields, 60))
        .ok_or(QrisError::MissingTag("tag 60 (merchant city)"))?
        .to_string();
    let postal_code = non_blank(find(&fields, 61)).map(str::to_string);
    let amount = match find(&fields, 54) {
        None => None,
        Some(text) => {
            Some(parse_amount(text).ok_or_else(|| QrisError::BadAmountTag(text.to_string()))?)
        }
    };

    Ok(StaticQris {
        merchant_name,
        merchant_city,
        postal_code,
        dynamic,
        amount,
        fields,
    })
}

/// The dynamic payload asking for exactly `amount` rupiah: `static_payload` checked by
/// [`validate_static`], tag 01 set to `12`, tag 54 set to `amount` (replacing any
/// earlier one) and a fresh CRC. Given a payload it made itself it gives the same
/// result as given the static original.
pub fn dynamic_for_amount(static_payload: &str, amount: i64) -> Result<String, QrisError> {
    if !(1..=MAX_AMOUNT).contains(&amount) {
        return Err(QrisError::AmountOutOfRange(amount));
    }
    let parsed = validate_static(static_payload)?;
    let mut fields: Vec<QrisField> = parsed
        .fields
        .into_iter()
        .filter(|f| f.id != 54 && f.id != 63)
        .map(|f| match f.id {
            1 => QrisField {
                id: 1,
                value: "12".to_string(),
            },
            _ => f,
        })
        .collect();
    let at = fields
        .iter()
        .position(|f| f.id > 54)
        .unwrap_or(fields.len());
    fields.insert(
        at,
        QrisField {
            id: 54,
            value: amount.to_string(),
        },
    );

    let mut out = String::with_capacity(MAX_PAYLOAD_LEN);
    for field in &fields {
        out.push_str(&format!(
            "{:02}{:02}{}",
            field.id,
            field.value.len(),
            field.value
        ));
    }
    out.push_str("6304");
    let crc = crc16_ccitt_false(out.as_bytes());
    out.push_str(&format!("{crc:04X}"));
    if out.len() > MAX_PAYLOAD_LEN {
        return Err(QrisError::TooLong {
            len: out.len(),
            max: MAX_PAYLOAD_LEN,
        });
    }
    Ok(out)
}

/// The amount in tag 54 of a valid payload, in whole rupiah; `None` when the payload
/// is invalid, has no tag 54, or tag 54 is not a positive whole number of rupiah.
pub fn amount_of(payload: &str) -> Option<i64> {
    validate_static(payload).ok()?.amount
}

/// Splits a payload into its top-level data objects, refusing duplicate tags.
fn parse_tlv(payload: &str) -> Result<Vec<QrisField>, QrisError> {
    let bytes = payload.as_bytes();
    let mut fields: Vec<QrisField> = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let header = bytes
            .get(at..at + 4)
            .filter(|h| h.iter().all(u8::is_ascii_digit))
            .ok_or(QrisError::Truncated { at })?;
        let id = (header[0] - b'0') * 10 + (header[1] - b'0');
        let len = usize::from((header[2] - b'0') * 10 + (header[3] - b'0'));
        let value = payload
            .get(at + 4..at + 4 + len)
            .ok_or(QrisError::Truncated { at })?;
        if fields.iter().any(|f| f.id == id) {
            return Err(QrisError::DuplicateTag(id));
        }
        fields.push(QrisField {
            id,
            value: value.to_string(),
        });
        at += 4 + len;
    }
    Ok(fields)
}

fn find(fields: &[QrisField], id: u8) -> Option<&str> {
    fields.iter().find(|f| f.id == id).map(|f| f.value.as_str())
}

fn non_blank(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.trim().is_empty())
}

/// Tag 54 as whole rupiah: digits with an optional all-zero fraction ("15000",
/// "15000.00"), positive and at most [`MAX_AMOUNT`].
fn parse_amount(text: &str) -> Option<i64> {
    super::parse_rupiah(text).filter(|a| (1..=MAX_AMOUNT).contains(a))
}

#[cfg(test)]
mod tests;
