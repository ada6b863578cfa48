use super::*;
use http::{HeaderMap, HeaderValue};
use serde_json::json;

const SECRET: &str = "H7DboYtO";

/// A push shaped like Moota's documented mutation items.
fn push() -> Vec<u8> {
    serde_json::to_vec(&json!([
        {
            "account_number": "235264741",
            "date": "2021-10-05 14:33:01",
            "description": "TRSF E-BANKING CR 05/10 95031 BOOSTER DEP 1234",
            "amount": "150123.00",
            "type": "CR",
            "note": "",
            "balance": "0.00",
            "created_at": "2021-10-05 14:40:16",
            "updated_at": "2021-10-05 14:40:16",
            "mutation_id": "aolk4PekJxM",
            "token": "aolk4PekJxM",
            "bank_id": "VLagzqBj42D",
            "taggings": [],
            "bank": { "bank_type": "bca", "label": "BCA", "account_number": "235264741" }
        },
        {
            "account_number": "7650583974",
            "date": "2021-09-24 00:00:00",
            "description": "BIAYA ADM",
            "amount": 133041,
            "type": "DB",
            "note": null,
            "balance": 0,
            "mutation_id": "8aolk43WJxM",
            "bank_id": "e42qjy2WGE5",
            "bank_type": "mandiriBisnis"
        }
    ]))
    .unwrap()
}

fn signed(body: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        "Signature",
        HeaderValue::from_str(&sign_moota(SECRET, body)).unwrap(),
    );
    headers.insert("User-Agent", HeaderValue::from_static("MootaBot/1.5"));
    headers
}

/// One mutation with `field` replaced, for the field-level tests.
fn one_with(field: &str, value: Value) -> Result<Vec<BankMutation>, MutationError> {
    let mut item = json!({
        "mutation_id": "m1", "account_number": "123", "date": "2026-01-02 03:04:05",
        "description": "x", "amount": 10000, "type": "CR",
    });
    item[field] = value;
    Moota::new(SECRET).parse(&serde_json::to_vec(&json!([item])).unwrap())
}

fn amount(value: Value) -> Result<i64, MutationError> {
    one_with("amount", value).map(|m| m[0].amount)
}

#[test]
fn a_signed_push_verifies_and_parses() {
    let moota = Moota::new(SECRET);
    let body = push();
    moota.verify(&signed(&body), &body).unwrap();
    let mutations = moota.parse(&body).unwrap();
    assert_eq!(mutations.len(), 2);
    let credit = &mutations[0];
    assert_eq!(credit.external_id, "aolk4PekJxM");
    assert_eq!(credit.account_number, "235264741");
    assert_eq!(credit.bank, "bca");
    assert_eq!(credit.amount, 150_123);
    assert!(credit.credit);
    assert_eq!(
        credit.description,
        "TRSF E-BANKING CR 05/10 95031 BOOSTER DEP 1234"
    );
    assert_eq!(credit.occurred_at.to_rfc3339(), "2021-10-05T07:33:01+00:00");
    assert_eq!(moota.name(), "moota");
}

#[test]
fn debits_come_back_as_debits() {
    let mutations = Moota::new(SECRET).parse(&push()).unwrap();
    let debit = &mutations[1];
    assert!(!debit.credit);
    assert_eq!(debit.amount, 133_041);
    assert_eq!(debit.bank, "mandiriBisnis");
    assert_eq!(debit.occurred_at.to_rfc3339(), "2021-09-23T17:00:00+00:00");
}

#[test]
fn the_signature_is_the_documented_hmac() {
    // Independent check: HMAC-SHA256 test case 2 of RFC 4231.
    assert_eq!(
        sign_moota("Jefe", b"what do ya want for nothing?"),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    // Uppercase hex and surrounding blanks are tolerated.
    let body = push();
    let mut headers = HeaderMap::new();
    let upper = format!(" {} ", sign_moota(SECRET, &body).to_uppercase());
    headers.insert("signature", HeaderValue::from_str(&upper).unwrap());
    Moota::new(SECRET).verify(&headers, &body).unwrap();
}

#[test]
fn forged_missing_or_stale_signatures_are_refused() {
    let moota = Moota::new(SECRET);
    let body = push();

    let mut forged = HeaderMap::new();
    forged.insert(
        "Signature",
        HeaderValue::from_str(&sign_moota("guessed", &body)).unwrap(),
    );
    assert_eq!(
        moota.verify(&forged, &body),
        Err(MutationError::BadSignature)
    );

    assert_eq!(
        moota.verify(&HeaderMap::new(), &body),
        Err(MutationError::MissingSignature("Signature"))
    );

    let headers = signed(&body);
    let mut changed = body.clone();
    let at = changed.windows(6).position(|w| w == b"150123").unwrap();
    changed[at] = b'9';
    assert_eq!(
        moota.verify(&headers, &changed),
        Err(MutationError::BadSignature)
    );

    for junk in ["", "zz", "abcd", &sign_moota(SECRET, &body)[..63]] {
        let mut headers = HeaderMap::new();
        headers.insert("Signature", HeaderValue::from_str(junk).unwrap());
        assert_eq!(
            moota.verify(&headers, &body),
            Err(MutationError::BadSignature),
            "{junk:?}"
        );
    }
    // A signature in some other header does not count.
    let mut elsewhere = HeaderMap::new();
    elsewhere.insert(
        "X-Signature",
        HeaderValue::from_str(&sign_moota(SECRET, &body)).unwrap(),
    );
    assert!(matches!(
        moota.verify(&elsewhere, &body),
        Err(MutationError::MissingSignature(_))
    ));
}

#[test]
fn an_empty_secret_refuses_everything() {
    let body = push();
    let mut headers = HeaderMap::new();
    headers.insert(
        "Signature",
        HeaderValue::from_str(&sign_moota("", &body)).unwrap(),
    );
    assert_eq!(
        Moota::new("").verify(&headers, &body),
        Err(MutationError::NoSecret("moota"))
    );
    assert!(!format!("{:?}", Moota::new(SECRET)).contains(SECRET));
}

#[test]
fn amounts_are_whole_rupiah_or_refused() {
    assert_eq!(amount(json!("150123.00")), Ok(150_123));
    assert_eq!(amount(json!("150123.0")), Ok(150_123));
    assert_eq!(amount(json!("150123")), Ok(150_123));
    assert_eq!(amount(json!(150123)), Ok(150_123));
    assert_eq!(amount(json!(150123.0)), Ok(150_123));
    for refused in [
        json!("150123.50"),
        json!(150123.5),
        json!("150.123,00"),
        json!("150,123.00"),
        json!("150.000"),
        json!("150123."),
        json!(".00"),
        json!("-150123"),
        json!(-150123),
        json!("0"),
        json!(0),
        json!("1e5"),
        json!("Rp 150.123"),
        json!(""),
        json!(true),
        json!(null),
        json!("10000000000000"),
    ] {
        assert!(
            matches!(
                amount(refused.clone()),
                Err(MutationError::BadField {
                    field: "amount",
                    index: 0,
                    ..
                })
            ),
            "{refused}"
        );
    }
    assert_eq!(amount(json!(MAX_AMOUNT)), Ok(MAX_AMOUNT));
}

#[test]
fn oversize_fields_are_cut_or_refused() {
    let long_description = "é".repeat(MAX_DESCRIPTION_CHARS + 50);
    let m = one_with("description", json!(long_description)).unwrap();
    assert_eq!(m[0].description.chars().count(), MAX_DESCRIPTION_CHARS);
    assert!(m[0].description.chars().all(|c| c == 'é'));

    let long_id = "x".repeat(MAX_ID_CHARS + 1);
    assert!(matches!(
        one_with("mutation_id", json!(long_id)),
        Err(MutationError::BadField {
            field: "mutation_id",
            ..
        })
    ));
    assert!(matches!(
        one_with("account_number", json!(long_id)),
        Err(MutationError::BadField {
            field: "account_number",
            ..
        })
    ));
    assert_eq!(
        one_with("mutation_id", json!("x".repeat(MAX_ID_CHARS))).unwrap()[0]
            .external_id
            .len(),
        MAX_ID_CHARS
    );

    let huge = vec![b' '; MAX_PUSH_BYTES + 1];
    let moota = Moota::new(SECRET);
    assert!(matches!(
        moota.parse(&huge),
        Err(MutationError::TooLarge { .. })
    ));
    assert!(matches!(
        moota.verify(&signed(&huge), &huge),
        Err(MutationError::TooLarge { .. })
    ));
    let many = serde_json::to_vec(&vec![json!({}); MAX_MUTATIONS + 1]).unwrap();
    assert!(matches!(
        moota.parse(&many),
        Err(MutationError::TooMany { .. })
    ));
}

#[test]
fn dates_are_jakarta_time() {
    let at = |d: &str| one_with("date", json!(d)).map(|m| m[0].occurred_at.to_rfc3339());
    assert_eq!(
        at("2026-01-02 03:04:05").unwrap(),
        "2026-01-01T20:04:05+00:00"
    );
    assert_eq!(at("2026-07-01").unwrap(), "2026-06-30T17:00:00+00:00");
    for bad in ["02/01/2026", "2026-13-01 00:00:00", "yesterday", ""] {
        assert!(
            matches!(at(bad), Err(MutationError::BadField { field: "date", .. })),
            "{bad}"
        );
    }
    assert!(matches!(
        one_with("date", Value::Null),
        Err(MutationError::BadField { field: "date", .. })
    ));
}

#[test]
fn malformed_pushes_are_refused() {
    let moota = Moota::new(SECRET);
    assert!(matches!(
        moota.parse(b"not json"),
        Err(MutationError::NotJson(_))
    ));
    assert_eq!(
        moota.parse(br#"{"mutation_id":"x"}"#),
        Err(MutationError::NotAnArray)
    );
    assert_eq!(moota.parse(b"[]"), Ok(vec![]));
    assert!(matches!(
        moota.parse(b"[1]"),
        Err(MutationError::BadField {
            field: "mutation",
            ..
        })
    ));
    assert!(matches!(
        one_with("type", json!("XX")),
        Err(MutationError::BadField { field: "type", .. })
    ));
    assert!(matches!(
        one_with("mutation_id", json!("  ")),
        Err(MutationError::BadField {
            field: "mutation_id",
            ..
        })
    ));
    assert!(matches!(
        one_with("description", json!(5)),
        Err(MutationError::BadField {
            field: "description",
            ..
        })
    ));
    // The index names the failing mutation.
    let body = serde_json::to_vec(&json!([
        {"mutation_id": "a", "account_number": "1", "date": "2026-01-01", "amount": 5, "type": "CR"},
        {"mutation_id": "b", "account_number": "1", "date": "2026-01-01", "amount": "5,5", "type": "CR"},
    ]))
    .unwrap();
    assert!(matches!(
        moota.parse(&body),
        Err(MutationError::BadField {
            index: 1,
            field: "amount",
            ..
        })
    ));
    // Lowercase type and missing description/bank are fine.
    let m = one_with("type", json!("db")).unwrap();
    assert!(!m[0].credit);
    assert_eq!(m[0].bank, "");
}
