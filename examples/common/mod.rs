//! What the benchmark programs share: a database of their own, created, migrated
//! and dropped around the run, and the one service they order from.
#![allow(dead_code)]

use booster::db::{
    self,
    enums::{Fulfillment, Platform, ServiceType},
    schema::{service_categories, services},
    services::NewService,
};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// Runs `bench` against a fresh, migrated database on the local PostgreSQL, then
/// drops the database whatever `bench` returned.
pub async fn with_bench_database<F, Fut>(bench: F) -> anyhow::Result<()>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let name = format!("booster_bench_{}", uuid::Uuid::new_v4().simple());
    let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
    db::ensure_database_exists(&url).await?;
    db::run_migrations(&url).await?;
    let result = bench(url).await;
    let (client, connection) = tokio_postgres::connect(
        "postgres://postgres@127.0.0.1:5432/postgres",
        tokio_postgres::NoTls,
    )
    .await?;
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await?;
    result
}

/// A "Twitter followers" service in a "Bench" category: an own MANUAL product at
/// 10,000 rupiah per 1000, or, given `(provider id, its service id)`, a provider's
/// service at 1,000.
pub async fn bench_service(
    conn: &mut AsyncPgConnection,
    provider: Option<(i64, &str)>,
) -> anyhow::Result<i64> {
    let category: i64 = diesel::insert_into(service_categories::table)
        .values(service_categories::name.eq("Bench"))
        .returning(service_categories::id)
        .get_result(conn)
        .await?;
    let (fulfillment, price_per_1000) = match provider {
        Some(_) => (Fulfillment::Provider, 1000),
        None => (Fulfillment::Manual, 10_000),
    };
    Ok(diesel::insert_into(services::table)
        .values(NewService {
            category_id: category,
            name: "Twitter followers".into(),
            description: String::new(),
            platform: Platform::Twitter,
            service_type: ServiceType::Default,
            provider_id: provider.map(|(id, _)| id),
            provider_service_id: provider.map(|(_, remote)| remote.to_string()),
            provider_rate: provider.map(|_| 1.into()),
            markup_bps: None,
            fulfillment,
            price_per_1000,
            min_quantity: 10,
            max_quantity: 100_000,
            quantity_step: 1,
            refill: false,
            cancel: provider.is_none(),
            dripfeed: false,
            active: true,
            sort_order: 0,
        })
        .returning(services::id)
        .get_result(conn)
        .await?)
}
