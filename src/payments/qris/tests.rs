use super::*;

/// Builds a payload from (id, value) pairs and closes it with a valid CRC.
fn with_crc(fields: &[(u8, &str)]) -> String {
    let mut out = String::new();
    for (id, value) in fields {
        out.push_str(&format!("{id:02}{:02}{value}", value.len()));
    }
    out.push_str("6304");
    let crc = crc16_ccitt_false(out.as_bytes());
    format!("{out}{crc:04X}")
}

/// The fields of a realistic static QRIS, in the order issuers print them.
fn static_fields() -> Vec<(u8, &'static str)> {
    vec![
        (0, "01"),
        (1, "11"),
        (
            26,
            "0014ID.CO.QRIS.WWW01189360091530012345670215ID10200123456780303UMI",
        ),
        (51, "0014ID.CO.QRIS.WWW0215ID20211234567890303UMI"),
        (52, "5812"),
        (53, "360"),
        (58, "ID"),
        (59, "TOKO SUKSES MAKMUR"),
        (60, "JAKARTA SELATAN"),
        (61, "12940"),
        (62, "0703A01"),
    ]
}

fn static_payload() -> String {
    with_crc(&static_fields())
}

fn without(id: u8) -> String {
    let fields: Vec<_> = static_fields().into_iter().filter(|f| f.0 != id).collect();
    with_crc(&fields)
}

fn replaced(id: u8, value: &'static str) -> String {
    let fields: Vec<_> = static_fields()
        .into_iter()
        .map(|f| if f.0 == id { (id, value) } else { f })
        .collect();
    with_crc(&fields)
}

#[test]
fn crc_check_value() {
    assert_eq!(crc16_ccitt_false(b"123456789"), 0x29B1);
    assert_eq!(crc16_ccitt_false(b""), 0xFFFF);
}

#[test]
fn crc_agrees_with_an_independent_implementation() {
    let reference = crc::Crc::<u16>::new(&crc::CRC_16_IBM_3740);
    let payload = static_payload();
    let mut inputs: Vec<Vec<u8>> = vec![
        b"123456789".to_vec(),
        b"A".to_vec(),
        vec![0x00, 0xFF, 0x80, 0x7F],
        payload.as_bytes().to_vec(),
    ];
    // A spread of lengths and byte values, deterministic.
    let mut seed: u32 = 0x1234_5678;
    for len in 0..64 {
        let data = (0..len)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 24) as u8
            })
            .collect();
        inputs.push(data);
    }
    for data in inputs {
        assert_eq!(crc16_ccitt_false(&data), reference.checksum(&data));
    }
}

#[test]
fn static_payload_validates() {
    let qris = validate_static(&format!("  {}\n", static_payload())).unwrap();
    assert_eq!(qris.merchant_name, "TOKO SUKSES MAKMUR");
    assert_eq!(qris.merchant_city, "JAKARTA SELATAN");
    assert_eq!(qris.postal_code.as_deref(), Some("12940"));
    assert!(!qris.dynamic);
    assert_eq!(qris.amount, None);
    assert_eq!(qris.field(52), Some("5812"));
    assert!(qris.field(26).unwrap().starts_with("0014ID.CO.QRIS.WWW"));
    assert_eq!(qris.fields.last().unwrap().id, 63);
    assert_eq!(amount_of(&static_payload()), None);
}

#[test]
fn dynamic_payload_carries_the_amount() {
    let dynamic = dynamic_for_amount(&static_payload(), 150_123).unwrap();
    let qris = validate_static(&dynamic).unwrap();
    assert!(qris.dynamic);
    assert_eq!(qris.field(1), Some("12"));
    assert_eq!(qris.field(54), Some("150123"));
    assert_eq!(qris.amount, Some(150_123));
    assert_eq!(amount_of(&dynamic), Some(150_123));
    // Tag 54 sits after 53 and before 58; ids stay ascending.
    let ids: Vec<u8> = qris.fields.iter().map(|f| f.id).collect();
    assert_eq!(ids, [0, 1, 26, 51, 52, 53, 54, 58, 59, 60, 61, 62, 63]);
    assert!(dynamic.contains("5303360540615012358"));
    // The CRC covers everything before it and is uppercase hex.
    let (covered, crc) = dynamic.split_at(dynamic.len() - 4);
    assert!(covered.ends_with("6304"));
    assert_eq!(
        crc,
        format!("{:04X}", crc16_ccitt_false(covered.as_bytes()))
    );
    // Everything else is carried through unchanged.
    let original = validate_static(&static_payload()).unwrap();
    for field in &original.fields {
        if ![1, 54, 63].contains(&field.id) {
            assert_eq!(qris.field(field.id), Some(field.value.as_str()));
        }
    }
}

#[test]
fn dynamic_is_idempotent_and_replaces_an_old_amount() {
    let once = dynamic_for_amount(&static_payload(), 50_000).unwrap();
    assert_eq!(dynamic_for_amount(&once, 50_000).unwrap(), once);
    let other = dynamic_for_amount(&once, 75_321).unwrap();
    assert_eq!(
        other,
        dynamic_for_amount(&static_payload(), 75_321).unwrap()
    );
    assert_eq!(amount_of(&other), Some(75_321));
}

#[test]
fn amount_bounds() {
    let payload = static_payload();
    assert_eq!(
        dynamic_for_amount(&payload, 0),
        Err(QrisError::AmountOutOfRange(0))
    );
    assert_eq!(
        dynamic_for_amount(&payload, -5),
        Err(QrisError::AmountOutOfRange(-5))
    );
    assert_eq!(
        dynamic_for_amount(&payload, MAX_AMOUNT + 1),
        Err(QrisError::AmountOutOfRange(MAX_AMOUNT + 1))
    );
    let max = dynamic_for_amount(&payload, MAX_AMOUNT).unwrap();
    assert_eq!(amount_of(&max), Some(MAX_AMOUNT));
    assert_eq!(
        amount_of(&dynamic_for_amount(&payload, 1).unwrap()),
        Some(1)
    );
}

#[test]
fn amount_tag_with_zero_decimals_is_read() {
    let mut fields = static_fields();
    fields[1] = (1, "12");
    fields.insert(6, (54, "25000.00"));
    assert_eq!(amount_of(&with_crc(&fields)), Some(25_000));
    fields[6] = (54, "25000.50");
    assert_eq!(
        validate_static(&with_crc(&fields)),
        Err(QrisError::BadAmountTag("25000.50".into()))
    );
}

#[test]
fn tag_54_goes_before_tips_and_fees_to_keep_ids_ascending() {
    let mut fields = static_fields();
    fields.insert(6, (55, "01"));
    let dynamic = dynamic_for_amount(&with_crc(&fields), 10_000).unwrap();
    let ids: Vec<u8> = validate_static(&dynamic)
        .unwrap()
        .fields
        .iter()
        .map(|f| f.id)
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
}

#[test]
fn bad_crc_is_refused() {
    let payload = static_payload();
    let (body, crc) = payload.split_at(payload.len() - 4);
    let wrong = if crc == "0000" { "0001" } else { "0000" };
    assert!(matches!(
        validate_static(&format!("{body}{wrong}")),
        Err(QrisError::BadCrc { .. })
    ));
    // Lowercase hex is not the form QRIS prescribes.
    let lower = format!("{body}{}", crc.to_ascii_lowercase());
    if lower != payload {
        assert!(matches!(
            validate_static(&lower),
            Err(QrisError::BadCrc { .. })
        ));
    }
    // One changed character in the body breaks the CRC.
    let tampered = payload.replace("TOKO SUKSES", "TOKO SUKSEZ");
    assert!(matches!(
        validate_static(&tampered),
        Err(QrisError::BadCrc { .. })
    ));
}

#[test]
fn truncated_payloads_are_refused() {
    let payload = static_payload();
    // A length running past the end.
    assert!(matches!(
        validate_static("000201010211265"),
        Err(QrisError::Truncated { .. })
    ));
    assert!(matches!(
        validate_static("0002010102115999TOKO"),
        Err(QrisError::Truncated { .. })
    ));
    // Cut anywhere: never accepted.
    for cut in 6..payload.len() {
        assert!(validate_static(&payload[..cut]).is_err(), "cut at {cut}");
    }
    // No CRC at all.
    let no_crc = &payload[..payload.len() - 8];
    assert_eq!(validate_static(no_crc), Err(QrisError::MissingCrc));
    // A non-digit where a length should be.
    assert!(matches!(
        validate_static("0002010102115AXX"),
        Err(QrisError::Truncated { .. })
    ));
}

#[test]
fn missing_tags_are_named() {
    assert_eq!(
        validate_static(&without(59)),
        Err(QrisError::MissingTag("tag 59 (merchant name)"))
    );
    assert_eq!(
        validate_static(&without(60)),
        Err(QrisError::MissingTag("tag 60 (merchant city)"))
    );
    assert_eq!(
        validate_static(&without(52)),
        Err(QrisError::MissingTag("tag 52 (merchant category code)"))
    );
    let no_account: Vec<_> = static_fields()
        .into_iter()
        .filter(|f| !(26..=51).contains(&f.0))
        .collect();
    assert!(matches!(
        validate_static(&with_crc(&no_account)),
        Err(QrisError::MissingTag(_))
    ));
    assert_eq!(
        validate_static(&replaced(59, " ")),
        Err(QrisError::MissingTag("tag 59 (merchant name)"))
    );
}

#[test]
fn wrong_currency_country_or_initiation_is_refused() {
    assert_eq!(
        validate_static(&replaced(53, "840")),
        Err(QrisError::NotIdr("840".into()))
    );
    assert_eq!(
        validate_static(&replaced(58, "MY")),
        Err(QrisError::NotIndonesia("MY".into()))
    );
    assert_eq!(
        validate_static(&replaced(1, "13")),
        Err(QrisError::BadInitiation("13".into()))
    );
}

#[test]
fn header_and_duplicates() {
    let payload = static_payload();
    assert_eq!(
        validate_static(&payload.replacen("000201", "000202", 1)),
        Err(QrisError::BadHeader)
    );
    let mut fields = static_fields();
    fields.push((59, "OTHER"));
    assert_eq!(
        validate_static(&with_crc(&fields)),
        Err(QrisError::DuplicateTag(59))
    );
}

#[test]
fn non_ascii_empty_and_too_long_are_refused() {
    let accented = with_crc(
        &static_fields()
            .into_iter()
            .map(|f| if f.0 == 59 { (59, "TOKO É") } else { f })
            .collect::<Vec<_>>(),
    );
    assert_eq!(validate_static(&accented), Err(QrisError::NotAscii));
    assert_eq!(validate_static("   "), Err(QrisError::Empty));
    let long_name = "X".repeat(99);
    let mut fields = static_fields();
    for id in [27, 28, 29, 30, 31] {
        fields.push((id, long_name.as_str()));
    }
    fields.sort_by_key(|f| f.0);
    let long = with_crc(&fields);
    assert!(long.len() > MAX_PAYLOAD_LEN);
    assert!(matches!(
        validate_static(&long),
        Err(QrisError::TooLong { .. })
    ));
    assert_eq!(amount_of(&long), None);
}
