//! Measures the catalogue import on this machine and prints the figures: a 5,000-
//! service API v2 catalogue served by a fake panel on 127.0.0.1, then
//! - preview (fetch + compare) of the whole catalogue, nothing imported yet;
//! - import of all of it into categories named after the provider's (created);
//! - a sync after the provider changed ~10% of the rates and dropped ~5%;
//! - a second sync with nothing changed.
//!
//! Each step counts the SQL statements it ran: they must not grow with the catalogue.
//!
//! Run: `cargo run --release --example catalog_import_bench` (PostgreSQL on 127.0.0.1:5432).

#[path = "../tests/common/fake_provider.rs"]
mod fake_provider;

mod common;

use std::{str::FromStr, time::Instant};

use bigdecimal::BigDecimal;
use booster::{
    config::Config,
    crypto::SecretBox,
    db::{
        self, QueryCounter,
        enums::{Currency, ProviderKind},
    },
    domain::{
        catalog::{self, ProviderInput},
        catalog_import::{self, Selection, Target},
    },
    providers,
};
use serde_json::Value;

const SERVICES: i64 = 5_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::with_bench_database(|url| async move { run(&url).await }).await
}

fn anyhow_err(e: booster::error::AppError) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}

fn catalogue(rate_bump: impl Fn(i64) -> bool, dropped: impl Fn(i64) -> bool) -> Vec<Value> {
    (1..=SERVICES)
        .filter(|id| !dropped(*id))
        .map(|id| {
            let (_, platform) = common::PLATFORMS[(id % 7) as usize];
            let kind = common::KINDS[(id % 8) as usize];
            let cents = 10 + id % 500 + if rate_bump(id) { 7 } else { 0 };
            let rate = format!("{}.{:02}", cents / 100, cents % 100);
            let type_label = if id % 8 == 3 {
                "Custom Comments"
            } else {
                "Default"
            };
            fake_provider::service(
                id,
                &format!("{platform} {kind} #{id} [Refill 30D]"),
                &format!("{platform} {kind}"),
                type_label,
                &rate,
            )
        })
        .collect()
}

async fn run(url: &str) -> anyhow::Result<()> {
    let counter = QueryCounter::default();
    let pool = db::build_pool(url, 4, db::PlanCache::Auto, counter.clone())?;
    let secrets = SecretBox::new(&Config::local(url).secret_key);
    let http = reqwest::Client::new();
    let fake = fake_provider::FakeProvider::with_services(catalogue(|_| false, |_| false)).await;
    let mut conn = pool.get().await?;
    common::print_resident("at rest");
    let provider = catalog::create_provider(
        &mut conn,
        &secrets,
        ProviderInput {
            name: Some("Bench panel".into()),
            kind: Some(ProviderKind::ApiV2),
            base_url: Some(fake.url.clone()),
            api_key: Some(fake_provider::KEY.into()),
            api_id: None,
            currency: Some(Currency::Usd),
            exchange_rate: Some(BigDecimal::from_str("16250.5")?),
            markup_bps: None,
            active: Some(true),
            low_balance_threshold: None,
        },
    )
    .await
    .map_err(anyhow_err)?;
    let client =
        providers::client_for(&provider, &secrets, http, Default::default()).map_err(anyhow_err)?;
    println!("catalogue: {SERVICES} services (API v2, USD at 16,250.5, markup 10%)");

    let start = Instant::now();
    let remote = catalog_import::fetch_catalog(client.as_ref())
        .await
        .map_err(anyhow_err)?;
    let fetched = start.elapsed();
    let before = counter.get();
    let preview = catalog_import::preview(&mut conn, &provider, &remote)
        .await
        .map_err(anyhow_err)?;
    println!(
        "preview:  {:>8.1} ms (fetch {:.1} ms) - {} new, {} SQL statements",
        start.elapsed().as_secs_f64() * 1000.0,
        fetched.as_secs_f64() * 1000.0,
        preview.new.len(),
        counter.get() - before
    );

    let start = Instant::now();
    let remote = catalog_import::fetch_catalog(client.as_ref())
        .await
        .map_err(anyhow_err)?;
    let before = counter.get();
    let report = catalog_import::import(
        &mut conn,
        &provider,
        &remote,
        &Selection::AllNew,
        Target::ProviderCategories,
    )
    .await
    .map_err(anyhow_err)?;
    println!(
        "import:   {:>8.1} ms - {} imported, {} skipped, {} categories created, {} SQL statements",
        start.elapsed().as_secs_f64() * 1000.0,
        report.imported.len(),
        report.skipped.len(),
        report.categories_created.len(),
        counter.get() - before
    );

    fake.set_services(catalogue(|id| id % 10 == 0, |id| id % 20 == 7));
    let start = Instant::now();
    let before = counter.get();
    let sync = catalog_import::sync_provider(&mut conn, client.as_ref(), &provider)
        .await
        .map_err(anyhow_err)?
        .ok_or_else(|| anyhow::anyhow!("provider locked"))?;
    println!(
        "sync:     {:>8.1} ms - {} rates changed, {} removed, {} repriced, {} SQL statements",
        start.elapsed().as_secs_f64() * 1000.0,
        sync.rate_changed,
        sync.removed,
        sync.repriced,
        counter.get() - before
    );

    let start = Instant::now();
    let before = counter.get();
    let idle = catalog_import::sync_provider(&mut conn, client.as_ref(), &provider)
        .await
        .map_err(anyhow_err)?
        .ok_or_else(|| anyhow::anyhow!("provider locked"))?;
    println!(
        "re-sync:  {:>8.1} ms - {} changes, {} SQL statements",
        start.elapsed().as_secs_f64() * 1000.0,
        idle.rate_changed + idle.details_changed + idle.removed + idle.new,
        counter.get() - before
    );
    common::print_resident("after preview, import and sync (with the fake provider)");
    Ok(())
}
