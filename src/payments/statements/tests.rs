use super::*;

const ACCOUNT: &str = "0350000001";

/// A KlikBCA Bisnis export shaped like the public samples.
fn bca_bisnis_csv() -> String {
    [
        r#""Informasi Rekening - Mutasi Rekening"," "," "," "," ","#,
        "",
        r#""No. rekening : 0350000001""#,
        r#""Nama : PT BOOSTER DIGITAL""#,
        r#""Periode : 01/12/2026 - 05/12/2026""#,
        r#""Kode Mata Uang : Rp""#,
        r#""Tanggal Transaksi","Keterangan","Cabang","Jumlah","Saldo""#,
        r#""01/12/2026","TRSF E-BANKING CR 0112/FTSCY/WS95031     150123.00 DEPOSIT 1234   BUDI","0000","150,123.00 CR","1,150,123.00""#,
        r#""02/12/2026","TRSF E-BANKING DB 0212/FTFVA/WS95031 PLN","0000","50,000.00 DB","1,100,123.00""#,
        r#""03/12/2026","KR OTOMATIS NTRF@0000000001X0Z QRIS","0000","1,234,567.00 CR","2,334,690.00""#,
        r#""04/12/2026","SWITCHING CR TRANSFER DR 009 SITI","0998","75,000.00 CR","2,409,690.00""#,
        r#""05/12/2026","BIAYA ADM","0000","10,000.00 DB","2,399,690.00""#,
        r#""Saldo Awal : 1,000,000.00""#,
        r#""Mutasi Debet : 60,000.00","2""#,
        r#""Mutasi Kredit : 1,459,690.00","3""#,
        r#""Saldo Akhir : 2,399,690.00""#,
    ]
    .join("\r\n")
}

/// A KlikBCA Individual export running from December into January.
fn bca_individual_csv() -> String {
    [
        "Informasi Rekening - Mutasi Rekening",
        "No. rekening : ,'1234567890",
        "Nama : ,BUDI SANTOSO",
        "Periode : ,28/12/2026 - 03/01/2027",
        "Kode Mata Uang : ,IDR",
        "",
        "Tanggal Transaksi,Keterangan,Cabang,Jumlah,,Saldo",
        r#"'28/12,"TRSF E-BANKING CR 2812/FTSCY/WS95051 DEP 77",'0000,"200,000.00",CR,"1,200,000.00""#,
        r#"'30/12,"TARIKAN ATM 30/12",'0000,"100,000.00",DB,"1,100,000.00""#,
        r#"'02/01,"TRSF E-BANKING CR 0201/FTSCY/WS95051 DEP 78",'0000,"50,000.00",CR,"1,150,000.00""#,
        r#"PEND,"TRSF E-BANKING CR DEP 79",'0000,"25,000.00",CR,"#,
        r#""Saldo Awal : 1,000,000.00""#,
        r#""Mutasi Kredit : 250,000.00""#,
        r#""Mutasi Debet : 100,000.00""#,
        r#""Saldo Akhir : 1,150,000.00""#,
    ]
    .join("\n")
}

fn bisnis(csv: &str) -> Result<ParsedStatement, StatementError> {
    parse_statement(csv.as_bytes(), &ColumnMapping::bca_bisnis(), ACCOUNT, 2026)
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[test]
fn a_bca_bisnis_statement_gives_its_credits_in_exact_rupiah() {
    let parsed = bisnis(&bca_bisnis_csv()).unwrap();
    let amounts: Vec<i64> = parsed.credits.iter().map(|l| l.amount).collect();
    assert_eq!(amounts, [150_123, 1_234_567, 75_000]);
    assert_eq!(parsed.debits, 2);
    assert_eq!(parsed.ignored, 4);
    let first = &parsed.credits[0];
    assert_eq!(first.date, date(2026, 12, 1));
    assert_eq!(
        first.description,
        "TRSF E-BANKING CR 0112/FTSCY/WS95031 150123.00 DEPOSIT 1234 BUDI"
    );
    assert_eq!(first.row, 8);
    assert_eq!(parsed.credits[2].row, 11);
    assert_eq!(first.external_id.len(), 64);
    assert!(first.external_id.bytes().all(|b| b.is_ascii_hexdigit()));
}

#[test]
fn a_bca_individual_statement_dates_yearless_lines_across_new_year() {
    let parsed = parse_statement(
        bca_individual_csv().as_bytes(),
        &ColumnMapping::bca_individual(),
        "1234567890",
        2027,
    )
    .unwrap();
    let lines: Vec<(NaiveDate, i64)> = parsed.credits.iter().map(|l| (l.date, l.amount)).collect();
    assert_eq!(
        lines,
        [(date(2026, 12, 28), 200_000), (date(2027, 1, 2), 50_000)]
    );
    assert_eq!(parsed.debits, 1);
    // PEND and the four footers.
    assert_eq!(parsed.ignored, 5);
}

#[test]
fn the_same_statement_twice_gives_the_same_ids() {
    let once = bisnis(&bca_bisnis_csv()).unwrap();
    let twice = bisnis(&bca_bisnis_csv()).unwrap();
    assert_eq!(once, twice);
    // An overlapping statement (later lines only, plus a new one) agrees on the
    // lines they share.
    let overlapping = bca_bisnis_csv().replace(
        "\"01/12/2026\",\"TRSF E-BANKING CR 0112",
        "\"06/12/2026\",\"TRSF E-BANKING CR 0612",
    );
    let other = bisnis(&overlapping).unwrap();
    assert_eq!(other.credits[1].external_id, once.credits[1].external_id);
    assert_eq!(other.credits[2].external_id, once.credits[2].external_id);
    assert_ne!(other.credits[0].external_id, once.credits[0].external_id);
    // The account number is part of the id.
    let elsewhere = parse_statement(
        bca_bisnis_csv().as_bytes(),
        &ColumnMapping::bca_bisnis(),
        "9999999999",
        2026,
    )
    .unwrap();
    assert_ne!(
        elsewhere.credits[0].external_id,
        once.credits[0].external_id
    );
}

#[test]
fn identical_lines_get_distinct_ids() {
    let line =
        r#""04/12/2026","SWITCHING CR TRANSFER DR 009 SITI","0998","75,000.00 CR","2,409,690.00""#;
    let csv = bca_bisnis_csv().replace(line, &format!("{line}\n{line}"));
    let parsed = bisnis(&csv).unwrap();
    assert_eq!(parsed.credits.len(), 4);
    let (a, b) = (&parsed.credits[2], &parsed.credits[3]);
    assert_eq!(
        (a.date, &a.description, a.amount),
        (b.date, &b.description, b.amount)
    );
    assert_ne!(a.external_id, b.external_id);
    assert_eq!(
        a.external_id,
        line_id(ACCOUNT, a.date, &a.description, a.amount, 0)
    );
    assert_eq!(
        b.external_id,
        line_id(ACCOUNT, b.date, &b.description, b.amount, 1)
    );
    // Uploading it again gives the same pair.
    assert_eq!(bisnis(&csv).unwrap(), parsed);
}

#[test]
fn a_malformed_amount_names_its_row_and_column() {
    let csv = bca_bisnis_csv().replace("75,000.00 CR", "75.000,00 CR");
    let error = bisnis(&csv).unwrap_err();
    assert!(
        matches!(
            error,
            StatementError::BadAmount {
                row: 11,
                column: 4,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().starts_with("row 11, column 4:"),
        "{error}"
    );

    let cents = bca_bisnis_csv().replace("75,000.00 CR", "75,000.50 CR");
    assert!(matches!(
        bisnis(&cents),
        Err(StatementError::BadAmount {
            row: 11,
            reason: "is not a whole number of rupiah",
            ..
        })
    ));
    let unmarked = bca_bisnis_csv().replace("75,000.00 CR", "75,000.00");
    assert!(matches!(
        bisnis(&unmarked),
        Err(StatementError::BadAmount {
            row: 11,
            column: 4,
            ..
        })
    ));
    for bad in [
        "7,5000.00 CR",
        "75,00.00 CR",
        "Rp 75,000.00 CR",
        "-75,000.00 CR",
    ] {
        let csv = bca_bisnis_csv().replace("75,000.00 CR", bad);
        assert!(
            matches!(bisnis(&csv), Err(StatementError::BadAmount { row: 11, .. })),
            "{bad}"
        );
    }
}

#[test]
fn bad_dates_and_short_rows_name_their_row() {
    let csv = bca_bisnis_csv().replace("\"03/12/2026\"", "\"31/02/2026\"");
    assert!(matches!(
        bisnis(&csv),
        Err(StatementError::BadDate {
            row: 10,
            column: 1,
            ..
        })
    ));
    let csv = bca_bisnis_csv().replace(
        r#""05/12/2026","BIAYA ADM","0000","10,000.00 DB","2,399,690.00""#,
        r#""05/12/2026","BIAYA ADM""#,
    );
    assert_eq!(
        bisnis(&csv),
        Err(StatementError::MissingColumn { row: 12, column: 4 })
    );
    // 29 February without a year, in a year that has none.
    let csv = bca_individual_csv().replace("'02/01,", "'29/02,");
    let mapping = ColumnMapping::bca_individual();
    assert!(matches!(
        parse_statement(csv.as_bytes(), &mapping, "1", 2027),
        Err(StatementError::BadDate { row: 10, .. })
    ));
    assert!(parse_statement(csv.as_bytes(), &mapping, "1", 2028).is_ok());
}

#[test]
fn a_custom_json_mapping_reads_another_banks_layout() {
    let mapping: ColumnMapping = serde_json::from_str(
        r#"{
            "date_column": 1,
            "description_column": 3,
            "amount": { "kind": "split", "credit_column": 5, "debit_column": 4 },
            "date_format": "%d-%m-%Y",
            "decimal_separator": ",",
            "thousands_separator": ".",
            "skip_rows": 1,
            "delimiter": ";"
        }"#,
    )
    .unwrap();
    let csv = "Tgl;Tgl. Val.;Rincian Transaksi;Debit;Kredit;Saldo\n\
               01-12-2026;01-12-2026;TRANSFER DARI ANDI;;1.500.000,00;11.500.000,00\n\
               02-12-2026;02-12-2026;BIAYA ADM;15.000,00;;11.485.000,00\n\
               03-12-2026;03-12-2026;KOREKSI;-;0,00;11.485.000,00\n\
               04-12-2026;04-12-2026;TRANSFER DARI RINA;;250.000;11.735.000,00\n";
    let parsed = parse_statement(csv.as_bytes(), &mapping, "1234", 2000).unwrap();
    let lines: Vec<(NaiveDate, &str, i64)> = parsed
        .credits
        .iter()
        .map(|l| (l.date, l.description.as_str(), l.amount))
        .collect();
    assert_eq!(
        lines,
        [
            (date(2026, 12, 1), "TRANSFER DARI ANDI", 1_500_000),
            (date(2026, 12, 4), "TRANSFER DARI RINA", 250_000),
        ]
    );
    assert_eq!((parsed.debits, parsed.ignored), (1, 1));
    // With this mapping an English-style amount is refused, not misread.
    let english = csv.replace("1.500.000,00", "1,500,000.00");
    assert!(matches!(
        parse_statement(english.as_bytes(), &mapping, "1234", 2000),
        Err(StatementError::BadAmount {
            row: 2,
            column: 5,
            ..
        })
    ));
    // A line with both a credit and a debit is refused.
    let both = csv.replace(";;1.500.000,00", ";5,00;1.500.000,00");
    assert!(matches!(
        parse_statement(both.as_bytes(), &mapping, "1234", 2000),
        Err(StatementError::BadAmount { row: 2, .. })
    ));
}

#[test]
fn a_signed_json_mapping_reads_negative_debits() {
    let mapping: ColumnMapping = serde_json::from_str(
        r#"{"date_column": 1, "description_column": 2,
            "amount": {"kind": "signed", "column": 3}, "date_format": "%Y-%m-%d"}"#,
    )
    .unwrap();
    let csv = "2026-12-01,Gaji,5000000\n2026-12-02,Belanja,-250000\n2026-12-03,Setor,+75000\n";
    let parsed = parse_statement(csv.as_bytes(), &mapping, "1", 2000).unwrap();
    let amounts: Vec<i64> = parsed.credits.iter().map(|l| l.amount).collect();
    assert_eq!(amounts, [5_000_000, 75_000]);
    assert_eq!(parsed.debits, 1);
}

#[test]
fn unusable_mappings_are_refused() {
    let unknown = serde_json::from_str::<ColumnMapping>(
        r#"{"date_column": 1, "description_column": 2, "colour": "red",
            "amount": {"kind": "signed", "column": 3}, "date_format": "%Y"}"#,
    );
    assert!(unknown.is_err());
    let mut mapping = ColumnMapping::bca_bisnis();
    mapping.date_column = 0;
    assert!(matches!(
        parse_statement(b"", &mapping, "1", 2026),
        Err(StatementError::BadMapping(_))
    ));
    let changes: [fn(&mut ColumnMapping); 5] = [
        |m: &mut ColumnMapping| m.thousands_separator = Some('.'),
        |m: &mut ColumnMapping| m.delimiter = 'x',
        |m: &mut ColumnMapping| m.date_format = "%Q".into(),
        |m: &mut ColumnMapping| m.date_format = String::new(),
        |m: &mut ColumnMapping| {
            m.amount = AmountColumns::Marked(MarkedAmount {
                column: 4,
                marker_column: None,
                credit_marker: "CR".into(),
                debit_marker: "cr".into(),
            })
        },
    ];
    for change in changes {
        let mut mapping = ColumnMapping::bca_bisnis();
        change(&mut mapping);
        assert!(matches!(
            mapping.validate(),
            Err(StatementError::BadMapping(_))
        ));
    }
    assert!(ColumnMapping::bca_bisnis().validate().is_ok());
    assert!(ColumnMapping::bca_individual().validate().is_ok());
}

#[test]
fn bounds_are_enforced() {
    let huge = vec![b'a'; MAX_FILE_BYTES + 1];
    assert_eq!(
        bisnis(std::str::from_utf8(&huge).unwrap()),
        Err(StatementError::TooLarge {
            max: MAX_FILE_BYTES
        })
    );
    let mapping: ColumnMapping = serde_json::from_str(
        r#"{"date_column": 1, "description_column": 2,
            "amount": {"kind": "signed", "column": 3}, "date_format": "%Y-%m-%d"}"#,
    )
    .unwrap();
    let many = "2026-01-01,x,1\n".repeat(MAX_ROWS + 1);
    assert_eq!(
        parse_statement(many.as_bytes(), &mapping, "1", 2026),
        Err(StatementError::TooManyRows { max: MAX_ROWS })
    );
    let long = format!("2026-01-01,{},1\n", "x".repeat(MAX_CELL_CHARS + 1));
    assert_eq!(
        parse_statement(long.as_bytes(), &mapping, "1", 2026),
        Err(StatementError::FieldTooLong {
            row: 1,
            column: 2,
            max: MAX_CELL_CHARS
        })
    );
    let kept = format!("2026-01-01,{},1\n", "é".repeat(MAX_CELL_CHARS));
    let parsed = parse_statement(kept.as_bytes(), &mapping, "1", 2026).unwrap();
    assert_eq!(
        parsed.credits[0].description.chars().count(),
        MAX_DESCRIPTION_CHARS
    );
    assert_eq!(
        parse_statement(b"x,y,1", &mapping, " ", 2026),
        Err(StatementError::BadAccount)
    );
    assert_eq!(
        bisnis("just,some,text\n"),
        Err(StatementError::HeaderNotFound("Tanggal Transaksi".into()))
    );
    // A byte-order mark does not hide the first cell.
    let with_bom = format!("\u{feff}{}", bca_bisnis_csv());
    assert_eq!(
        bisnis(&with_bom).unwrap(),
        bisnis(&bca_bisnis_csv()).unwrap()
    );
}
