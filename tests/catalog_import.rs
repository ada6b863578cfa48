//! Catalogue import and sync against fake providers on 127.0.0.1: preview, import,
//! sync (new, changed, removed, reappearing services), the markup and USD rules, the
//! catalogue sync job and its advisory lock, and the MedanPedia client.

mod common;

use std::{collections::HashMap, str::FromStr};

use bigdecimal::BigDecimal;
use booster::{
    db::{
        enums::{Currency, OrderStatus, ProviderKind},
        schema::{catalog_changes, service_categories, services},
    },
    domain::catalog::{self, ProviderInput},
    jobs::catalog_sync,
    providers::{ProviderClient, ProviderError, RemoteOrderRequest},
};
use common::{
    TestApp, UNREACHABLE_URL, error_code,
    fake_medanpedia::{self, FakeMedanPedia},
    fake_provider::{self, FakeProvider, service},
};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

const PREVIEW: &str = r#"query($p: ID!) { adminPreviewProviderCatalog(providerId: $p) {
    new { providerServiceId name category typeLabel type platform providerRate pricePer1000 minQuantity maxQuantity refill cancel dripfeed }
    changed { service { id } providerServiceId changedFields
        old { name providerRate pricePer1000 minQuantity maxQuantity }
        new { name providerRate pricePer1000 minQuantity maxQuantity } }
    removed { service { id } providerServiceId name active } } }"#;

const IMPORT: &str = r#"mutation($i: ImportProviderServicesInput!) { adminImportProviderServices(input: $i) {
    imported importedServiceIds skipped { providerServiceId reason } categoriesCreated createdCategories { id name } } }"#;

const SYNC: &str = r#"mutation($p: ID!) { adminSyncProviderCatalog(providerId: $p) {
    new rateChanged detailsChanged removed reappeared reactivated repriced } }"#;

const CHANGES: &str = r#"query($p: ID!, $first: Int, $after: String) { adminCatalogChanges(providerId: $p, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id kind providerServiceId service { id } oldValues newValues createdAt } } } }"#;

struct ProviderSpec<'a> {
    kind: ProviderKind,
    url: &'a str,
    key: &'a str,
    api_id: Option<&'a str>,
    currency: Currency,
    exchange_rate: &'a str,
    markup_bps: Option<i32>,
}

impl<'a> ProviderSpec<'a> {
    fn api_v2(url: &'a str) -> Self {
        ProviderSpec {
            kind: ProviderKind::ApiV2,
            url,
            key: fake_provider::KEY,
            api_id: None,
            currency: Currency::Usd,
            exchange_rate: "16000",
            markup_bps: None,
        }
    }

    fn medanpedia(url: &'a str) -> Self {
        ProviderSpec {
            kind: ProviderKind::Medanpedia,
            url,
            key: fake_medanpedia::API_KEY,
            api_id: Some(fake_medanpedia::API_ID),
            currency: Currency::Idr,
            exchange_rate: "1",
            markup_bps: None,
        }
    }
}

async fn create_provider(app: &TestApp, spec: ProviderSpec<'_>) -> i64 {
    let mut conn = app.conn().await;
    catalog::create_provider(
        &mut conn,
        &app.state.secrets,
        ProviderInput {
            name: Some(format!("provider-{}", uuid::Uuid::new_v4().simple())),
            kind: Some(spec.kind),
            base_url: Some(spec.url.to_string()),
            api_key: Some(spec.key.to_string()),
            api_id: Some(spec.api_id.map(str::to_string)),
            currency: Some(spec.currency),
            exchange_rate: Some(BigDecimal::from_str(spec.exchange_rate).unwrap()),
            markup_bps: Some(spec.markup_bps),
            active: Some(true),
            low_balance_threshold: None,
        },
    )
    .await
    .unwrap()
    .id
}

#[derive(Debug, Queryable)]
struct Row {
    id: i64,
    category_id: i64,
    name: String,
    platform: String,
    service_type: String,
    provider_rate: Option<BigDecimal>,
    markup_bps: Option<i32>,
    price_per_1000: i64,
    min_quantity: i64,
    max_quantity: i64,
    refill: bool,
    active: bool,
}

/// The provider's imported services by provider service id.
async fn imported(app: &TestApp, provider_id: i64) -> HashMap<String, Row> {
    let rows: Vec<(Option<String>, Row)> = services::table
        .filter(services::provider_id.eq(provider_id))
        .select((
            services::provider_service_id,
            (
                services::id,
                services::category_id,
                services::name,
                services::platform,
                services::service_type,
                services::provider_rate,
                services::markup_bps,
                services::price_per_1000,
                services::min_quantity,
                services::max_quantity,
                services::refill,
                services::active,
            ),
        ))
        .load(&mut app.conn().await)
        .await
        .unwrap();
    rows.into_iter().map(|(p, r)| (p.unwrap(), r)).collect()
}

async fn count_services(app: &TestApp) -> i64 {
    services::table
        .count()
        .get_result(&mut app.conn().await)
        .await
        .unwrap()
}

async fn count_categories(app: &TestApp) -> i64 {
    service_categories::table
        .count()
        .get_result(&mut app.conn().await)
        .await
        .unwrap()
}

fn dec(s: &str) -> BigDecimal {
    BigDecimal::from_str(s).unwrap()
}

fn by_psid(list: &Value) -> HashMap<String, Value> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["providerServiceId"].as_str().unwrap().to_string(),
                e.clone(),
            )
        })
        .collect()
}

fn initial_catalog() -> Vec<Value> {
    vec![
        service(
            1,
            "Twitter Followers [Real]",
            "Twitter Followers",
            "Default",
            "0.90",
        ),
        service(
            2,
            "Likes + Comments",
            "Instagram Comments",
            "Custom Comments",
            "2.50",
        ),
        service(3, "Story votes", "Instagram Polls", "Quantum Poll", "1.00"),
        service(4, "Youtube Views", "YouTube", "Default", "0.0123"),
    ]
}

#[tokio::test]
async fn preview_import_and_sync_follow_the_provider() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let fake = FakeProvider::with_services(initial_catalog()).await;
    let provider = create_provider(&app, ProviderSpec::api_v2(&fake.url)).await;
    let p = json!({ "p": provider.to_string() });

    // Preview: everything is new; priced at rate x 16,000 x 1.10, rounded up.
    let preview =
        app.ok(Some(&admin), PREVIEW, p.clone()).await["adminPreviewProviderCatalog"].clone();
    let new = by_psid(&preview["new"]);
    assert_eq!(new.len(), 4);
    assert_eq!(new["1"]["pricePer1000"], 15840, "0.90 USD x 16000 x 1.1");
    assert_eq!(new["1"]["platform"], "TWITTER");
    assert_eq!(new["1"]["type"], "DEFAULT");
    assert_eq!(new["2"]["type"], "CUSTOM_COMMENTS");
    assert_eq!(new["2"]["platform"], "INSTAGRAM");
    assert_eq!(new["3"]["type"], Value::Null, "unknown label");
    // 0.0123 x 16000 x 1.1 = 216.48 -> 217.
    assert_eq!(new["4"]["pricePer1000"], 217);
    assert_eq!(new["4"]["platform"], "YOUTUBE");
    assert_eq!(preview["changed"], json!([]));
    assert_eq!(preview["removed"], json!([]));
    assert_eq!(count_services(&app).await, 0, "a preview writes nothing");

    // Import everything new, filed under the provider's category names.
    let input = json!({ "i": { "providerId": provider.to_string() } });
    let report =
        app.ok(Some(&admin), IMPORT, input.clone()).await["adminImportProviderServices"].clone();
    assert_eq!(report["imported"], 3);
    assert_eq!(report["categoriesCreated"], 3);
    assert_eq!(
        report["skipped"],
        json!([{ "providerServiceId": "3", "reason": "unknown service type \"Quantum Poll\"" }])
    );
    let rows = imported(&app, provider).await;
    assert_eq!(rows.len(), 3);
    let one = &rows["1"];
    assert_eq!(
        (
            one.price_per_1000,
            one.provider_rate.clone(),
            one.platform.as_str(),
            one.service_type.as_str()
        ),
        (15840, Some(dec("0.90")), "TWITTER", "DEFAULT")
    );
    assert_eq!(
        (one.min_quantity, one.max_quantity, one.active),
        (10, 10000, true)
    );
    assert_eq!(one.name, "Twitter Followers [Real]");
    let category: String = service_categories::table
        .find(one.category_id)
        .select(service_categories::name)
        .first(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!(category, "Twitter Followers");

    // Importing again adds nothing: not with "all new", not by naming the ids.
    let again =
        app.ok(Some(&admin), IMPORT, input.clone()).await["adminImportProviderServices"].clone();
    assert_eq!(
        (
            again["imported"].clone(),
            again["categoriesCreated"].clone()
        ),
        (json!(0), json!(0))
    );
    let named = app
        .ok(
            Some(&admin),
            IMPORT,
            json!({ "i": { "providerId": provider.to_string(), "serviceIds": ["1", "1", "99"] } }),
        )
        .await["adminImportProviderServices"]
        .clone();
    assert_eq!(named["imported"], 0);
    assert_eq!(
        named["skipped"],
        json!([
            { "providerServiceId": "1", "reason": "already imported" },
            { "providerServiceId": "99", "reason": "not in the provider's catalogue" },
        ])
    );
    assert_eq!(count_services(&app).await, 3);
    assert_eq!(count_categories(&app).await, 3);

    // Service 2 gets its own markup (20%): 2.50 x 16000 x 1.2 = 48000.
    let s2 = rows["2"].id;
    app.ok(
        Some(&admin),
        "mutation($id: ID!) { adminUpdateService(id: $id, input: { markupBasisPoints: 2000 }) { pricePer1000 } }",
        json!({ "id": s2.to_string() }),
    )
    .await;
    assert_eq!(imported(&app, provider).await["2"].price_per_1000, 48000);

    // Upstream: 1 gets dearer, 2 cheaper with a new maximum, 4 is dropped, 5 is new.
    let mut two = service(
        2,
        "Likes + Comments",
        "Instagram Comments",
        "Custom Comments",
        "0.50",
    );
    two["max"] = json!("5000");
    fake.set_services(vec![
        service(
            1,
            "Twitter Followers [Real]",
            "Twitter Followers",
            "Default",
            "1.00",
        ),
        two,
        service(3, "Story votes", "Instagram Polls", "Quantum Poll", "1.00"),
        service(5, "Telegram Members", "Telegram", "Default", "3"),
    ]);
    let preview =
        app.ok(Some(&admin), PREVIEW, p.clone()).await["adminPreviewProviderCatalog"].clone();
    let changed = by_psid(&preview["changed"]);
    assert_eq!(changed.len(), 2);
    assert_eq!(changed["1"]["changedFields"], json!(["providerRate"]));
    assert_eq!(
        (
            changed["1"]["old"]["providerRate"].clone(),
            changed["1"]["old"]["pricePer1000"].clone()
        ),
        (json!("0.9"), json!(15840))
    );
    assert_eq!(
        (
            changed["1"]["new"]["providerRate"].clone(),
            changed["1"]["new"]["pricePer1000"].clone()
        ),
        (json!("1"), json!(17600))
    );
    assert_eq!(
        changed["2"]["changedFields"],
        json!(["providerRate", "maxQuantity"])
    );
    assert_eq!(
        changed["2"]["new"]["pricePer1000"], 9600,
        "the service's own 20% markup"
    );
    let removed = by_psid(&preview["removed"]);
    assert_eq!(removed.len(), 1);
    assert_eq!(removed["4"]["active"], true);
    assert_eq!(removed["4"]["service"]["id"], rows["4"].id.to_string());
    let new = by_psid(&preview["new"]);
    let mut new_ids: Vec<&String> = new.keys().collect();
    new_ids.sort();
    assert_eq!(new_ids, ["3", "5"]);

    // Sync: rates and limits follow, prices follow rate and markup, 4 is deactivated.
    let summary = app.ok(Some(&admin), SYNC, p.clone()).await["adminSyncProviderCatalog"].clone();
    assert_eq!(
        summary,
        json!({ "new": 2, "rateChanged": 2, "detailsChanged": 1, "removed": 1, "reappeared": 0, "reactivated": 0, "repriced": 2 })
    );
    let rows = imported(&app, provider).await;
    assert_eq!(
        (rows["1"].price_per_1000, rows["1"].provider_rate.clone()),
        (17600, Some(dec("1")))
    );
    assert_eq!(rows["2"].price_per_1000, 9600);
    assert_eq!(
        rows["2"].markup_bps,
        Some(2000),
        "the override survives a sync"
    );
    assert_eq!(rows["2"].max_quantity, 5000);
    assert!(!rows["4"].active, "dropped upstream: deactivated");
    assert_eq!(count_services(&app).await, 3, "never deleted");
    let notes = app
        .read(&admin, "{ adminNotifications { kind providerId } }")
        .await;
    assert_eq!(
        notes["adminNotifications"][0]["kind"], "PROVIDER_SERVICES_REMOVED",
        "admins hear when services vanish"
    );

    // Nothing changed upstream: a second sync changes nothing (NEW is logged once).
    let summary = app.ok(Some(&admin), SYNC, p.clone()).await["adminSyncProviderCatalog"].clone();
    assert_eq!(
        summary,
        json!({ "new": 0, "rateChanged": 0, "detailsChanged": 0, "removed": 0, "reappeared": 0, "reactivated": 0, "repriced": 0 })
    );

    // The change log, newest first, paginated.
    let page = app
        .ok(
            Some(&admin),
            CHANGES,
            json!({ "p": provider.to_string(), "first": 3 }),
        )
        .await["adminCatalogChanges"]
        .clone();
    // 3 IMPORTED + 2 RATE_CHANGED + 1 DETAILS_CHANGED + 1 REMOVED + 2 NEW.
    assert_eq!(page["totalCount"], 9);
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let rest = app
        .ok(
            Some(&admin),
            CHANGES,
            json!({ "p": provider.to_string(), "first": 20, "after": page["pageInfo"]["endCursor"] }),
        )
        .await["adminCatalogChanges"]
        .clone();
    let mut all: Vec<Value> = page["edges"].as_array().unwrap().clone();
    all.extend(rest["edges"].as_array().unwrap().iter().cloned());
    assert_eq!(all.len(), 9);
    let rate_change = all
        .iter()
        .map(|e| &e["node"])
        .find(|n| n["kind"] == "RATE_CHANGED" && n["providerServiceId"] == "1")
        .unwrap();
    assert_eq!(
        rate_change["oldValues"],
        json!({ "providerRate": "0.9", "pricePer1000": 15840 })
    );
    assert_eq!(
        rate_change["newValues"],
        json!({ "providerRate": "1", "pricePer1000": 17600 })
    );
    let removal = all
        .iter()
        .map(|e| &e["node"])
        .find(|n| n["kind"] == "REMOVED")
        .unwrap();
    assert_eq!(removal["service"]["id"], rows["4"].id.to_string());
    assert!(all.iter().any(|e| e["node"]["kind"] == "NEW"
        && e["node"]["providerServiceId"] == "5"
        && e["node"]["service"].is_null()));

    // 4 comes back: the sync had deactivated it, so the sync reactivates it.
    // 1 is deactivated by an admin, then dropped, then back: it stays inactive.
    app.ok(
        Some(&admin),
        "mutation($id: ID!) { adminSetServiceActive(id: $id, active: false) { active } }",
        json!({ "id": rows["1"].id.to_string() }),
    )
    .await;
    let catalog_without_1 = vec![
        service(
            2,
            "Likes + Comments",
            "Instagram Comments",
            "Custom Comments",
            "0.50",
        ),
        service(4, "Youtube Views", "YouTube", "Default", "0.0123"),
    ];
    fake.set_services(catalog_without_1);
    let summary = app.ok(Some(&admin), SYNC, p.clone()).await["adminSyncProviderCatalog"].clone();
    assert_eq!(
        (
            summary["removed"].clone(),
            summary["reappeared"].clone(),
            summary["reactivated"].clone()
        ),
        (json!(1), json!(1), json!(1))
    );
    let rows = imported(&app, provider).await;
    assert!(rows["4"].active);
    assert_eq!(rows["2"].max_quantity, 10000, "limits follow the provider");
    fake.set_services(initial_catalog());
    let summary = app.ok(Some(&admin), SYNC, p.clone()).await["adminSyncProviderCatalog"].clone();
    assert_eq!(
        (
            summary["reappeared"].clone(),
            summary["reactivated"].clone()
        ),
        (json!(1), json!(0))
    );
    let rows = imported(&app, provider).await;
    assert!(!rows["1"].active, "an admin's deactivation stands");
    assert_eq!(rows["1"].price_per_1000, 15840, "but its rate is followed");
}

#[tokio::test]
async fn markups_per_provider_and_rupiah_providers() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let fake = FakeProvider::with_services(vec![
        service(10, "Followers", "Twitter", "Default", "1234"),
        service(11, "TikTok Likes", "", "Package", "100"),
    ])
    .await;
    let provider = create_provider(
        &app,
        ProviderSpec {
            currency: Currency::Idr,
            exchange_rate: "1",
            markup_bps: Some(2500),
            ..ProviderSpec::api_v2(&fake.url)
        },
    )
    .await;
    let category: String = app
        .read(
            &admin,
            "mutation { adminCreateCategory(input: { name: \"Imported\" }) { id } }",
        )
        .await["adminCreateCategory"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // An unknown category: NOT_FOUND, nothing imported.
    let answer = app
        .gql(
            Some(&admin),
            IMPORT,
            json!({ "i": { "providerId": provider.to_string(), "categoryId": "999999" } }),
        )
        .await;
    assert_eq!(error_code(&answer), "NOT_FOUND");
    assert_eq!(count_services(&app).await, 0);

    let report = app
        .ok(
            Some(&admin),
            IMPORT,
            json!({ "i": { "providerId": provider.to_string(), "categoryId": category, "serviceIds": ["10", "11"] } }),
        )
        .await["adminImportProviderServices"]
        .clone();
    assert_eq!(
        (
            report["imported"].clone(),
            report["categoriesCreated"].clone()
        ),
        (json!(2), json!(0))
    );
    let rows = imported(&app, provider).await;
    // 1234 x 1.25 = 1542.5 -> 1543; 100 x 1.25 = 125.
    assert_eq!(rows["10"].price_per_1000, 1543);
    assert_eq!(rows["11"].price_per_1000, 125);
    assert_eq!(rows["11"].service_type, "PACKAGE");
    assert_eq!(rows["11"].platform, "TIKTOK");
    assert_eq!(rows["10"].platform, "TWITTER", "from the category");
    assert!(rows.values().all(|r| r.category_id.to_string() == category));

    // One local service per provider service, by hand too.
    let answer = app
        .gql(
            Some(&admin),
            "mutation($i: CreateServiceInput!) { adminCreateService(input: $i) { id } }",
            json!({ "i": {
                "categoryId": category, "name": "Copy", "platform": "TWITTER",
                "pricing": { "provider": { "providerId": provider.to_string(), "providerServiceId": "10", "providerRate": "1" } },
                "minQuantity": 10, "maxQuantity": 100 } }),
        )
        .await;
    assert_eq!(error_code(&answer), "CONFLICT");
}

#[tokio::test]
async fn bad_input_and_unreachable_providers_write_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (_, customer) = app.customer("c@example.com").await;

    let answer = app
        .gql(Some(&admin), PREVIEW, json!({ "p": "999999" }))
        .await;
    assert_eq!(error_code(&answer), "NOT_FOUND");
    let answer = app.gql(Some(&admin), SYNC, json!({ "p": "999999" })).await;
    assert_eq!(error_code(&answer), "NOT_FOUND");
    let answer = app
        .gql(Some(&admin), CHANGES, json!({ "p": "999999" }))
        .await;
    assert_eq!(error_code(&answer), "NOT_FOUND");

    let down = create_provider(&app, ProviderSpec::api_v2(UNREACHABLE_URL)).await;
    let p = json!({ "p": down.to_string() });
    let answer = app.gql(Some(&admin), PREVIEW, p.clone()).await;
    assert_eq!(error_code(&answer), "PROVIDER_ERROR");
    let answer = app
        .gql(
            Some(&admin),
            IMPORT,
            json!({ "i": { "providerId": down.to_string() } }),
        )
        .await;
    assert_eq!(error_code(&answer), "PROVIDER_ERROR");
    let answer = app.gql(Some(&admin), SYNC, p.clone()).await;
    assert_eq!(error_code(&answer), "PROVIDER_ERROR");
    assert_eq!(count_services(&app).await, 0);
    assert_eq!(count_categories(&app).await, 0);

    // A wrong key is refused upstream and never shows in the error.
    let fake = FakeProvider::with_services(initial_catalog()).await;
    let wrong = create_provider(
        &app,
        ProviderSpec {
            key: "sk-very-secret-wrong-key",
            ..ProviderSpec::api_v2(&fake.url)
        },
    )
    .await;
    let answer = app
        .gql(Some(&admin), PREVIEW, json!({ "p": wrong.to_string() }))
        .await;
    assert_eq!(error_code(&answer), "PROVIDER_ERROR");
    assert!(answer.to_string().contains("Incorrect API key"));
    assert!(!answer.to_string().contains("sk-very-secret-wrong-key"));

    // A provider that lists nothing (a glitch, most likely) deactivates nothing.
    let ok = create_provider(&app, ProviderSpec::api_v2(&fake.url)).await;
    app.ok(
        Some(&admin),
        IMPORT,
        json!({ "i": { "providerId": ok.to_string() } }),
    )
    .await;
    fake.set_services(vec![]);
    let answer = app
        .gql(Some(&admin), SYNC, json!({ "p": ok.to_string() }))
        .await;
    assert_eq!(error_code(&answer), "PROVIDER_ERROR");
    assert!(imported(&app, ok).await.values().all(|r| r.active));

    // Customers see none of it.
    let answer = app
        .gql(Some(&customer), PREVIEW, json!({ "p": ok.to_string() }))
        .await;
    assert_eq!(error_code(&answer), "FORBIDDEN");
    let answer = app
        .gql(
            Some(&customer),
            IMPORT,
            json!({ "i": { "providerId": ok.to_string() } }),
        )
        .await;
    assert_eq!(error_code(&answer), "FORBIDDEN");
}

#[tokio::test]
async fn sync_job_covers_active_providers_and_respects_the_lock() {
    let app = TestApp::spawn().await;
    let fake = FakeProvider::with_services(initial_catalog()).await;
    let good = create_provider(&app, ProviderSpec::api_v2(&fake.url)).await;
    let down = create_provider(&app, ProviderSpec::api_v2(UNREACHABLE_URL)).await;
    {
        let mut conn = app.conn().await;
        let provider = booster::domain::catalog_import::find_provider(&mut conn, good)
            .await
            .unwrap();
        let remote = fake_catalog(&app, good).await;
        booster::domain::catalog_import::import(
            &mut conn,
            &provider,
            &remote,
            &booster::domain::catalog_import::Selection::AllNew,
            booster::domain::catalog_import::Target::ProviderCategories,
        )
        .await
        .unwrap();
    }
    fake.set_services(vec![service(
        1,
        "Twitter Followers [Real]",
        "Twitter Followers",
        "Default",
        "0.95",
    )]);

    // Another process holds the lock of `good`: this run skips it.
    let mut holder = app.conn().await;
    diesel::sql_query("SELECT pg_advisory_lock(17235, $1::int)")
        .bind::<diesel::sql_types::BigInt, _>(good)
        .execute(&mut holder)
        .await
        .unwrap();
    let run = catalog_sync::run(&app.state).await.unwrap();
    assert_eq!(run.busy, vec![good]);
    assert_eq!(run.failed, vec![down]);
    assert_eq!(imported(&app, good).await["1"].price_per_1000, 15840);
    diesel::sql_query("SELECT pg_advisory_unlock(17235, $1::int)")
        .bind::<diesel::sql_types::BigInt, _>(good)
        .execute(&mut holder)
        .await
        .unwrap();

    let run = catalog_sync::run(&app.state).await.unwrap();
    assert_eq!(run.synced.len(), 1);
    let (id, report) = &run.synced[0];
    assert_eq!(*id, good);
    assert_eq!((report.rate_changed, report.removed), (1, 2));
    let rows = imported(&app, good).await;
    // 0.95 x 16000 x 1.1 = 16720.
    assert_eq!(rows["1"].price_per_1000, 16720);
    assert!(!rows["2"].active && !rows["4"].active);
    let logged: i64 = catalog_changes::table
        .filter(catalog_changes::provider_id.eq(good))
        .filter(catalog_changes::kind.eq("REMOVED"))
        .count()
        .get_result(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!(logged, 2);
}

/// The client the app uses for a stored provider.
async fn client(app: &TestApp, provider_id: i64) -> Box<dyn ProviderClient> {
    let provider = booster::db::providers::ProviderRow::find(&mut *app.conn().await, provider_id)
        .await
        .unwrap()
        .unwrap();
    app.state.provider_client(&provider).unwrap()
}

async fn fake_catalog(app: &TestApp, provider_id: i64) -> Vec<booster::providers::RemoteService> {
    let client = client(app, provider_id).await;
    booster::domain::catalog_import::fetch_catalog(client.as_ref())
        .await
        .unwrap()
}

async fn medanpedia_client(app: &TestApp, url: &str, key: &str) -> Box<dyn ProviderClient> {
    let spec = ProviderSpec {
        key,
        ..ProviderSpec::medanpedia(url)
    };
    client(app, create_provider(app, spec).await).await
}

/// MedanPedia's listing of service 101, at `price` rupiah per 1000.
fn instagram_followers(price: i64) -> Value {
    fake_medanpedia::service(
        101,
        "Instagram Followers Indonesia",
        "Instagram Followers",
        price,
    )
}

#[tokio::test]
async fn medanpedia_client_speaks_its_api() {
    let app = TestApp::spawn().await;
    let fake = FakeMedanPedia::start(vec![
        instagram_followers(15000),
        fake_medanpedia::service(102, "Twitter Retweets", "Twitter", 8000),
    ])
    .await;
    let client = medanpedia_client(&app, &fake.url, fake_medanpedia::API_KEY).await;

    let services = client.services().await.unwrap();
    assert_eq!(services.len(), 2);
    assert_eq!(services[0].id, "101");
    assert_eq!(services[0].rate, BigDecimal::from(15000));
    assert_eq!((services[0].min, services[0].max), (100, 50000));
    assert_eq!(services[0].type_label, "Default");
    assert_eq!(
        services[0].description,
        "Instagram Followers Indonesia, fast start"
    );

    let (balance, currency) = client.balance().await.unwrap();
    assert_eq!(
        (balance, currency.as_str()),
        (BigDecimal::from(250000), "IDR")
    );

    let extra = json!({ "comments": "nice\ngreat" });
    let order_id = client
        .add_order(&RemoteOrderRequest {
            service: "101",
            link: "https://instagram.com/someone",
            quantity: Some(1000),
            extra: &extra,
        })
        .await
        .unwrap();
    let placed = fake.order(order_id.parse().unwrap()).unwrap();
    assert_eq!(
        (
            placed.service.as_str(),
            placed.target.as_str(),
            placed.quantity.as_deref(),
            placed.custom_comments.as_deref()
        ),
        (
            "101",
            "https://instagram.com/someone",
            Some("1000"),
            Some("nice\ngreat")
        )
    );
    let second = client
        .add_order(&RemoteOrderRequest {
            service: "102",
            link: "https://x.com/someone/status/1",
            quantity: Some(500),
            extra: &json!({}),
        })
        .await
        .unwrap();

    // One id: the single form.
    let one = client
        .statuses(std::slice::from_ref(&order_id))
        .await
        .unwrap();
    let status = one[&order_id].as_ref().unwrap();
    assert_eq!(
        (status.status, status.label.as_str()),
        (OrderStatus::Processing, "Pending")
    );
    assert_eq!(status.charge, Some(BigDecimal::from(15000)));

    // Several: the many form, unknown ids are per-order errors.
    fake.set_order(order_id.parse().unwrap(), "Success", 120, 0);
    fake.set_order(second.parse().unwrap(), "Partial", 50, 200);
    let ids = vec![order_id.clone(), second.clone(), "42".to_string()];
    let many = client.statuses(&ids).await.unwrap();
    let done = many[&order_id].as_ref().unwrap();
    assert_eq!(
        (done.status, done.start_count, done.remains),
        (OrderStatus::Completed, Some(120), Some(0))
    );
    let partial = many[&second].as_ref().unwrap();
    assert_eq!(
        (partial.status, partial.remains),
        (OrderStatus::Partial, Some(200))
    );
    assert_eq!(many["42"].as_ref().unwrap_err(), "Pesanan tidak ditemukan");
    let unknown = client.statuses(&["43".to_string()]).await.unwrap();
    assert_eq!(
        unknown["43"].as_ref().unwrap_err(),
        "Pesanan tidak ditemukan"
    );
    fake.set_order(second.parse().unwrap(), "Error", 50, 500);
    let canceled = client
        .statuses(std::slice::from_ref(&second))
        .await
        .unwrap();
    assert_eq!(
        canceled[&second].as_ref().unwrap().status,
        OrderStatus::Canceled
    );

    // Refills.
    let refill = client.refill(&order_id).await.unwrap();
    assert_eq!(client.refill_status(&refill).await.unwrap(), "Pending");
    assert_eq!(
        client.refill(&second).await.unwrap_err(),
        ProviderError::Refused("Pesanan tidak dapat di-refill".into())
    );

    // Logical errors are refusals; cancel is refused per order.
    assert_eq!(
        client
            .add_order(&RemoteOrderRequest {
                service: "999",
                link: "https://x.com/a",
                quantity: Some(100),
                extra: &json!({}),
            })
            .await
            .unwrap_err(),
        ProviderError::Refused("Layanan tidak ditemukan".into())
    );
    let cancel = client
        .cancel(&[order_id.clone(), second.clone()])
        .await
        .unwrap();
    assert_eq!(cancel.len(), 2);
    assert!(cancel.values().all(|outcome| outcome.is_err()));

    // A wrong key: refused with the older `data` message.
    let wrong = medanpedia_client(&app, &fake.url, "wrong-key").await;
    assert_eq!(
        wrong.services().await.unwrap_err(),
        ProviderError::Refused("API ID atau API Key salah".into())
    );
    // Unreachable: transient, after the retries.
    let down = medanpedia_client(&app, UNREACHABLE_URL, fake_medanpedia::API_KEY).await;
    assert!(matches!(
        down.balance().await.unwrap_err(),
        ProviderError::Transient(_)
    ));
}

#[tokio::test]
async fn medanpedia_catalogue_imports_in_rupiah() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let fake = FakeMedanPedia::start(vec![
        instagram_followers(15000),
        fake_medanpedia::service(102, "Spotify Plays", "Spotify", 1234),
    ])
    .await;
    let provider = create_provider(&app, ProviderSpec::medanpedia(&fake.url)).await;
    let report = app
        .ok(
            Some(&admin),
            IMPORT,
            json!({ "i": { "providerId": provider.to_string() } }),
        )
        .await["adminImportProviderServices"]
        .clone();
    assert_eq!(report["imported"], 2);
    let rows = imported(&app, provider).await;
    assert_eq!(rows["101"].price_per_1000, 16500);
    // 1234 x 1.1 = 1357.4 -> 1358.
    assert_eq!(rows["102"].price_per_1000, 1358);
    assert_eq!(rows["102"].platform, "SPOTIFY");
    assert!(!rows["101"].refill);

    fake.set_services(vec![instagram_followers(16000)]);
    let summary = app
        .ok(Some(&admin), SYNC, json!({ "p": provider.to_string() }))
        .await["adminSyncProviderCatalog"]
        .clone();
    assert_eq!(
        (summary["rateChanged"].clone(), summary["removed"].clone()),
        (json!(1), json!(1))
    );
    let rows = imported(&app, provider).await;
    assert_eq!(rows["101"].price_per_1000, 17600);
    assert!(!rows["102"].active);
}

#[tokio::test]
async fn unavailable_providers_are_retried_then_reported_transient() {
    let app = TestApp::spawn().await;
    let fake = FakeProvider::with_services(initial_catalog()).await;
    let id = create_provider(&app, ProviderSpec::api_v2(&fake.url)).await;
    let client = client(&app, id).await;
    fake.set_unavailable(true);
    assert!(matches!(
        client.services().await.unwrap_err(),
        ProviderError::Transient(_)
    ));
    assert_eq!(
        fake.calls(),
        3,
        "503 is retried up to the policy's attempts"
    );
    fake.set_unavailable(false);
    assert_eq!(client.services().await.unwrap().len(), 4);
    fake.set_balance("100.84292");
    let (balance, currency) = client.balance().await.unwrap();
    assert_eq!((balance, currency.as_str()), (dec("100.84292"), "USD"));
}
