//! Catalogue administration, pricing and listing, including bad input and the
//! DataLoader statement count.

mod common;

use common::*;
use serde_json::{Value, json};

const CREATE_CATEGORY: &str = "mutation($input: CreateCategoryInput!) { adminCreateCategory(input: $input) { id name sortOrder } }";
const CREATE_PROVIDER: &str = "mutation($input: CreateProviderInput!) { adminCreateProvider(input: $input) { id name apiKeyMasked exchangeRate currency markupBasisPoints } }";
const CREATE_SERVICE: &str = "mutation($input: CreateServiceInput!) { adminCreateService(input: $input) { id name pricePer1000 active provider { id } } }";

async fn category(app: &TestApp, admin: &str, name: &str) -> String {
    app.ok(
        Some(admin),
        CREATE_CATEGORY,
        json!({ "input": { "name": name } }),
    )
    .await["adminCreateCategory"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn provider(app: &TestApp, admin: &str, name: &str, rate: &str) -> String {
    let input = json!({ "input": {
        "name": name, "kind": "API_V2", "baseUrl": "https://panel.example/api/v2",
        "apiKey": "jap-secret-key-9876", "currency": "USD", "exchangeRate": rate } });
    let data = app.ok(Some(admin), CREATE_PROVIDER, input).await;
    assert_eq!(data["adminCreateProvider"]["apiKeyMasked"], "****9876");
    data["adminCreateProvider"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// An imported service; its provider service id is its name (one local service per
/// provider service).
fn imported(category: &str, provider: &str, name: &str, rate: &str) -> Value {
    json!({ "input": {
        "categoryId": category, "name": name, "platform": "TWITTER",
        "pricing": { "provider": { "providerId": provider, "providerServiceId": name, "providerRate": rate } },
        "minQuantity": 10, "maxQuantity": 10000 } })
}

#[tokio::test(flavor = "multi_thread")]
async fn imported_and_own_services_are_priced_by_the_markup_rule() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let cat = category(&app, &admin, "Twitter Followers").await;
    let jap = provider(&app, &admin, "JustAnotherPanel", "16000").await;

    // 0.90 USD x 16,000 x 1.10 = 15,840.
    let s1 = app
        .ok(
            Some(&admin),
            CREATE_SERVICE,
            imported(&cat, &jap, "Followers", "0.90"),
        )
        .await;
    assert_eq!(s1["adminCreateService"]["pricePer1000"], 15840);
    let s1_id = s1["adminCreateService"]["id"].as_str().unwrap().to_string();

    // Own product (Twitter accounts from stock): price set freely.
    let own = json!({ "input": {
        "categoryId": cat, "name": "Twitter account (aged 2019)", "platform": "TWITTER",
        "pricing": { "own": { "pricePer1000": 25_000_000 } }, "minQuantity": 1, "maxQuantity": 50 } });
    let s2 = app.ok(Some(&admin), CREATE_SERVICE, own).await;
    assert_eq!(s2["adminCreateService"]["pricePer1000"], 25_000_000);
    assert_eq!(s2["adminCreateService"]["provider"], Value::Null);

    // Per-service markup wins, then provider markup, then the default.
    let update = "mutation($id: ID!, $input: UpdateServiceInput!) { adminUpdateService(id: $id, input: $input) { pricePer1000 markupBasisPoints } }";
    let data = app
        .ok(
            Some(&admin),
            update,
            json!({ "id": s1_id, "input": { "markupBasisPoints": 2500 } }),
        )
        .await;
    assert_eq!(data["adminUpdateService"]["pricePer1000"], 18000);
    let data = app
        .ok(
            Some(&admin),
            update,
            json!({ "id": s1_id, "input": { "markupBasisPoints": null } }),
        )
        .await;
    assert_eq!(data["adminUpdateService"]["pricePer1000"], 15840);

    let update_provider = "mutation($id: ID!, $input: UpdateProviderInput!) { adminUpdateProvider(id: $id, input: $input) { markupBasisPoints exchangeRate } }";
    app.ok(
        Some(&admin),
        update_provider,
        json!({ "id": jap, "input": { "markupBasisPoints": 500, "exchangeRate": "16250.5" } }),
    )
    .await;
    let price = |data: Value| data["service"]["pricePer1000"].clone();
    let service_q = "query($id: ID!) { service(id: $id) { pricePer1000 } }";
    // 0.90 x 16,250.5 x 1.05 = 15,356.72... -> 15,357.
    assert_eq!(
        price(app.ok(None, service_q, json!({ "id": s1_id })).await),
        15357
    );

    // The global default only applies where nothing more specific is set.
    app.ok(
        Some(&admin),
        update_provider,
        json!({ "id": jap, "input": { "markupBasisPoints": null } }),
    )
    .await;
    let data = app.read(&admin, "mutation { adminSetDefaultMarkup(basisPoints: 2000) { defaultMarkupBasisPoints repricedServices } }").await;
    assert_eq!(data["adminSetDefaultMarkup"]["repricedServices"], 1);
    // 0.90 x 16,250.5 x 1.20 = 17,550.54 -> 17,551; the own product is untouched.
    assert_eq!(
        price(app.ok(None, service_q, json!({ "id": s1_id })).await),
        17551
    );
    assert_eq!(
        price(
            app.ok(
                None,
                service_q,
                json!({ "id": s2["adminCreateService"]["id"] })
            )
            .await
        ),
        25_000_000
    );

    // An imported service's price cannot be set by hand; an own product's can.
    let answer = app
        .gql(
            Some(&admin),
            update,
            json!({ "id": s1_id, "input": { "pricePer1000": 1 } }),
        )
        .await;
    assert_invalid(&answer, "pricePer1000");

    // Secrets never come back: the provider key appears nowhere in any answer.
    let all = app
        .read(&admin, "{ adminProviders { name apiKeyMasked baseUrl } }")
        .await;
    assert!(!all.to_string().contains("jap-secret-key-9876"));
}

#[tokio::test(flavor = "multi_thread")]
async fn customers_list_filter_and_page_active_services() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let twitter = category(&app, &admin, "Twitter").await;
    let instagram = category(&app, &admin, "Instagram").await;
    let jap = provider(&app, &admin, "JAP", "16000").await;
    for i in 0..5 {
        app.ok(
            Some(&admin),
            CREATE_SERVICE,
            imported(&twitter, &jap, &format!("Twitter Followers {i}"), "1"),
        )
        .await;
    }
    let mut ig = imported(&instagram, &jap, "Instagram Likes", "0.5");
    ig["input"]["platform"] = json!("INSTAGRAM");
    let ig_id = app.ok(Some(&admin), CREATE_SERVICE, ig).await["adminCreateService"]["id"].clone();

    let list = "query($first: Int, $after: String, $cat: ID, $platform: Platform, $search: String) {
        services(first: $first, after: $after, categoryId: $cat, platform: $platform, search: $search) {
          totalCount pageInfo { hasNextPage endCursor } edges { node { id name platform category { name } } } } }";
    let page1 = app.ok(None, list, json!({ "first": 4 })).await;
    assert_eq!(page1["services"]["totalCount"], 6);
    assert_eq!(page1["services"]["edges"].as_array().unwrap().len(), 4);
    assert_eq!(page1["services"]["pageInfo"]["hasNextPage"], true);
    let cursor = page1["services"]["pageInfo"]["endCursor"].clone();
    let page2 = app
        .ok(None, list, json!({ "first": 4, "after": cursor }))
        .await;
    assert_eq!(page2["services"]["edges"].as_array().unwrap().len(), 2);
    assert_eq!(page2["services"]["pageInfo"]["hasNextPage"], false);
    assert_eq!(
        page2["services"]["edges"][1]["node"]["category"]["name"],
        "Instagram"
    );

    let data = app.ok(None, list, json!({ "platform": "INSTAGRAM" })).await;
    assert_eq!(data["services"]["totalCount"], 1);
    let data = app.ok(None, list, json!({ "search": "followers 3" })).await;
    assert_eq!(data["services"]["totalCount"], 1);
    let data = app.ok(None, list, json!({ "cat": twitter })).await;
    assert_eq!(data["services"]["totalCount"], 5);
    let data = app.ok(None, list, json!({ "search": "%" })).await;
    assert_eq!(
        data["services"]["totalCount"], 0,
        "LIKE wildcards are literal"
    );

    // Reordering categories changes the listing order.
    app.ok(
        Some(&admin),
        "mutation($ids: [ID!]!) { adminReorderCategories(ids: $ids) { id sortOrder } }",
        json!({ "ids": [instagram, twitter] }),
    )
    .await;
    let data = app.ok(None, list, json!({ "first": 1 })).await;
    assert_eq!(
        data["services"]["edges"][0]["node"]["name"],
        "Instagram Likes"
    );
    let answer = app
        .gql(
            Some(&admin),
            "mutation($ids: [ID!]!) { adminReorderCategories(ids: $ids) { id } }",
            json!({ "ids": [instagram] }),
        )
        .await;
    assert_invalid(&answer, "ids");

    // Deactivated services disappear for customers but stay for admins.
    app.ok(
        Some(&admin),
        "mutation($id: ID!) { adminSetServiceActive(id: $id, active: false) { active } }",
        json!({ "id": ig_id }),
    )
    .await;
    assert_eq!(
        app.ok(None, list, json!({})).await["services"]["totalCount"],
        5
    );
    assert_eq!(
        app.ok(
            None,
            "query($id: ID!) { service(id: $id) { id } }",
            json!({ "id": ig_id })
        )
        .await["service"],
        Value::Null
    );
    let all = app
        .read(&admin, "{ services(includeInactive: true) { totalCount } }")
        .await;
    assert_eq!(all["services"]["totalCount"], 6);
    let (_, customer) = app.customer("c@example.com").await;
    let theirs = app
        .read(
            &customer,
            "{ services(includeInactive: true) { totalCount } }",
        )
        .await;
    assert_eq!(
        theirs["services"]["totalCount"], 5,
        "includeInactive is ignored for customers"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_catalogue_mutation_rejects_bad_input_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let cat = category(&app, &admin, "Twitter").await;
    let jap = provider(&app, &admin, "JAP", "16000").await;

    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            CREATE_CATEGORY,
            json!({ "input": { "name": "  " } }),
            "VALIDATION",
            "name",
        ),
        (
            CREATE_CATEGORY,
            json!({ "input": { "name": "twitter" } }),
            "CONFLICT",
            "",
        ),
        (
            CREATE_SERVICE,
            {
                let mut v = imported(&cat, &jap, "", "1");
                v["input"]["name"] = json!("");
                v
            },
            "VALIDATION",
            "name",
        ),
        (
            CREATE_SERVICE,
            {
                let mut v = imported(&cat, &jap, "x", "1");
                v["input"]["maxQuantity"] = json!(5);
                v
            },
            "VALIDATION",
            "maxQuantity",
        ),
        (
            CREATE_SERVICE,
            {
                let mut v = imported(&cat, &jap, "x", "1");
                v["input"]["minQuantity"] = json!(0);
                v
            },
            "VALIDATION",
            "minQuantity",
        ),
        (
            CREATE_SERVICE,
            {
                let mut v = imported(&cat, &jap, "x", "1");
                v["input"]["quantityStep"] = json!(3);
                v
            },
            "VALIDATION",
            "quantityStep",
        ),
        (
            CREATE_SERVICE,
            imported(&cat, &jap, "x", "-1"),
            "VALIDATION",
            "providerRate",
        ),
        (
            CREATE_SERVICE,
            imported("999", &jap, "x", "1"),
            "NOT_FOUND",
            "",
        ),
        (
            CREATE_SERVICE,
            imported(&cat, "999", "x", "1"),
            "NOT_FOUND",
            "",
        ),
        (
            CREATE_SERVICE,
            imported("abc", &jap, "x", "1"),
            "VALIDATION",
            "categoryId",
        ),
        (
            CREATE_SERVICE,
            {
                let mut v = imported(&cat, &jap, "x", "1");
                v["input"]["pricing"]["provider"]["markupBasisPoints"] = json!(-5);
                v
            },
            "VALIDATION",
            "markupBasisPoints",
        ),
        (
            CREATE_SERVICE,
            json!({ "input": { "categoryId": cat, "name": "x", "platform": "TWITTER", "pricing": { "own": { "pricePer1000": -1 } }, "minQuantity": 1, "maxQuantity": 2 } }),
            "VALIDATION",
            "pricePer1000",
        ),
        (
            CREATE_SERVICE,
            json!({ "input": { "categoryId": cat, "name": "x", "platform": "TWITTER", "pricing": { "own": { "pricePer1000": 1, "fulfillment": "PROVIDER" } }, "minQuantity": 1, "maxQuantity": 2 } }),
            "VALIDATION",
            "fulfillment",
        ),
        (
            CREATE_PROVIDER,
            json!({ "input": { "name": "P2", "kind": "API_V2", "baseUrl": "not a url", "apiKey": "k", "exchangeRate": "1" } }),
            "VALIDATION",
            "baseUrl",
        ),
        (
            CREATE_PROVIDER,
            json!({ "input": { "name": "P2", "kind": "API_V2", "baseUrl": "https://x.example", "apiKey": "", "exchangeRate": "1" } }),
            "VALIDATION",
            "apiKey",
        ),
        (
            CREATE_PROVIDER,
            json!({ "input": { "name": "P2", "kind": "API_V2", "baseUrl": "https://x.example", "apiKey": "k", "currency": "USD" } }),
            "VALIDATION",
            "exchangeRate",
        ),
        (
            CREATE_PROVIDER,
            json!({ "input": { "name": "P2", "kind": "API_V2", "baseUrl": "https://x.example", "apiKey": "k", "exchangeRate": "0" } }),
            "VALIDATION",
            "exchangeRate",
        ),
        (
            CREATE_PROVIDER,
            json!({ "input": { "name": "P2", "kind": "MEDANPEDIA", "baseUrl": "https://x.example", "apiKey": "k" } }),
            "VALIDATION",
            "apiId",
        ),
        (
            CREATE_PROVIDER,
            json!({ "input": { "name": "JAP", "kind": "API_V2", "baseUrl": "https://x.example", "apiKey": "k", "exchangeRate": "1" } }),
            "CONFLICT",
            "",
        ),
        (
            "mutation { adminSetDefaultMarkup(basisPoints: -1) { repricedServices } }",
            json!({}),
            "VALIDATION",
            "basisPoints",
        ),
        (
            "mutation { adminUpdateService(id: \"424242\", input: { name: \"x\" }) { id } }",
            json!({}),
            "NOT_FOUND",
            "",
        ),
        (
            "mutation { adminUpdateCategory(id: \"424242\", input: { name: \"x\" }) { id } }",
            json!({}),
            "NOT_FOUND",
            "",
        ),
    ];
    let snapshot_query = "{ categories(includeInactive: true) { id name } services(includeInactive: true) { totalCount } adminProviders { id name } adminPricing { defaultMarkupBasisPoints } }";
    let before = app.ok(Some(&admin), snapshot_query, json!({})).await;
    for (query, variables, code, field) in &cases {
        let answer = app.gql(Some(&admin), query, variables.clone()).await;
        assert_eq!(error_code(&answer), *code, "{query} {variables}: {answer}");
        assert_eq!(
            error_field(&answer),
            *field,
            "{query} {variables}: {answer}"
        );
    }
    let after = app.ok(Some(&admin), snapshot_query, json!({})).await;
    assert_eq!(after, before, "rejected mutations wrote nothing");
}

/// Listing services with their categories and providers costs a constant number of
/// SQL statements, whatever the page size: the relations go through DataLoaders.
#[tokio::test(flavor = "multi_thread")]
async fn listing_services_with_relations_is_a_constant_number_of_queries() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let mut categories = Vec::new();
    for i in 0..10 {
        categories.push(category(&app, &admin, &format!("Category {i}")).await);
    }
    let mut providers = Vec::new();
    for i in 0..4 {
        providers.push(provider(&app, &admin, &format!("Provider {i}"), "15000").await);
    }
    // 100 services spread over every category and provider, inserted in one go.
    {
        use booster::db::{enums::*, schema::services, services::NewService};
        use diesel_async::RunQueryDsl;
        let rows: Vec<NewService> = (0..100)
            .map(|i| NewService {
                category_id: categories[i % 10].parse().unwrap(),
                name: format!("Service {i}"),
                description: String::new(),
                platform: Platform::Twitter,
                service_type: ServiceType::Default,
                provider_id: Some(providers[i % 4].parse().unwrap()),
                provider_service_id: Some(i.to_string()),
                provider_rate: Some(1.into()),
                markup_bps: None,
                fulfillment: Fulfillment::Provider,
                price_per_1000: 16500,
                min_quantity: 10,
                max_quantity: 1000,
                quantity_step: 1,
                refill: false,
                cancel: false,
                dripfeed: false,
                active: true,
                sort_order: i as i32,
            })
            .collect();
        diesel::insert_into(services::table)
            .values(&rows)
            .execute(&mut app.conn().await)
            .await
            .unwrap();
    }
    let query = "query($first: Int) { services(first: $first) { totalCount edges { node { id name category { id name } provider { id name } } } } }";
    // The admin's credential is resolved once and then cached (see tests/caches.rs).
    while !app.state.caches.is_live() {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    app.read(&admin, "{ me { id } }").await;
    let mut counts = Vec::new();
    for first in [1, 10, 100] {
        let (statements, data) = app
            .statements_of(app.ok(Some(&admin), query, json!({ "first": first })))
            .await;
        let edges = data["services"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), first as usize);
        assert!(
            edges
                .iter()
                .all(|e| e["node"]["category"]["name"].is_string()
                    && e["node"]["provider"]["name"].is_string())
        );
        println!(
            "services(first: {first}) with category and provider: {statements} SQL statements"
        );
        counts.push(statements);
    }
    assert!(
        counts.iter().all(|c| *c == counts[0]),
        "statement count grows with page size: {counts:?}"
    );
    // The count, the page, one batch of categories and one of providers (no pool
    // liveness checks: connections are recycled without a probe).
    assert_eq!(counts[0], 4, "{counts:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn thousands_of_aliases_of_a_service_cost_a_few_batched_queries() {
    use booster::db::enums::Fulfillment;
    let app = TestApp::spawn().await;
    let service = service(&app, Fulfillment::Manual, 10_000, 10, 10_000).await;
    let aliases: String = (0..2_000)
        .map(|i| format!("s{i}: service(id: \"{}\") {{ id name }} ", service + i % 7))
        .collect();
    let document = format!("{{ {aliases} }}");
    let (statements, data) = app.statements_of(app.ok(None, &document, json!({}))).await;
    assert_eq!(data["s0"]["id"], service.to_string());
    assert!(data["s1"].is_null(), "unknown ids answer null");
    // One query per alias before; now a few batches (the DataLoader's batching
    // window and its batch size of 1,000 decide how many: 1 to 4 on a quiet
    // machine, a few dozen when parallel tests starve the resolver of CPU and the
    // 1 ms window closes early).
    println!("2,000 aliases of service(id:): {statements} SQL statements");
    assert!(
        statements <= 100,
        "{statements} statements for 2,000 aliases"
    );
}
