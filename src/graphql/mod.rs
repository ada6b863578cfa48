//! The GraphQL API: schema assembly and its limits, the query, mutation and
//! subscription roots, object types, DataLoaders, guards and error codes.

pub mod budget;
pub mod cache_hints;
pub mod coherence;
pub mod document_rule;
pub mod documents;
pub mod error;
pub mod extension;
pub mod flat;
pub mod guards;
pub mod input;
pub mod limits;
pub mod loaders;
pub mod mutation;
pub mod pagination;
pub mod persisted;
pub mod query;
pub mod scalars;
pub mod socket;
pub mod subscription;
pub mod types;

use std::sync::Arc;

use async_graphql::{Context, Schema, dataloader::Loader};

use crate::{
    app::AppState,
    auth::{AuthUser, Viewer},
    db::PooledConn,
    domain::audit::AdminWrite,
    error::AppError,
};
use error::{GraphqlError, GraphqlResult};
use loaders::{DbLoader, Loaders};

pub type AppSchema =
    Schema<query::QueryRoot, mutation::MutationRoot, subscription::SubscriptionRoot>;

pub fn build_schema(state: AppState) -> AppSchema {
    let server = &state.config.server;
    Schema::build(
        query::QueryRoot::default(),
        mutation::MutationRoot::default(),
        subscription::SubscriptionRoot,
    )
    .extension(extension::PolicyExtension::new(extension::Policies {
        documents: Default::default(),
        limits: limits::QueryLimits {
            max_depth: server.graphql_max_depth,
            max_complexity: server.graphql_max_complexity,
            query_timeout: server.graphql_query_timeout,
        },
        budget: budget::AnswerBudget {
            max_values: server.graphql_max_answer_values,
        },
        socket: socket::SocketPolicy::default(),
        rules: document_rule::DocumentRules::new(vec![
            Arc::new(socket::NoSocketMutations),
            Arc::new(coherence::CacheCoherence),
            Arc::new(cache_hints::CacheHints),
        ]),
    }))
    .limit_recursive_depth(32)
    .limit_directives(20)
    .data(mutation::AccountAttemptLimiter(
        crate::rate_limit::IpRateLimiter::per_minute(
            state.config.accounts.attempts_per_address_per_minute,
        ),
    ))
    .data(mutation::NewsletterSignupLimiter(
        crate::rate_limit::IpRateLimiter::per_hour(
            state.config.content.newsletter_signups_per_ip_per_hour,
        ),
    ))
    .data(state)
    .finish()
}

/// The SDL of the schema, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(
        query::QueryRoot::default(),
        mutation::MutationRoot::default(),
        subscription::SubscriptionRoot,
    )
    .finish()
    .sdl()
}

/// Per-request data: who is asking and fresh DataLoaders.
pub fn request_data(state: &AppState, viewer: Viewer) -> (Viewer, Loaders) {
    (
        viewer,
        loaders::new_loaders(state.pool.clone(), state.caches.clone()),
    )
}

/// The client's IP address as the HTTP layer determined it (`TRUSTED_PROXIES`
/// decide whether `X-Forwarded-For` counts); `None` when unknown.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub Option<std::net::IpAddr>);

/// The client's `User-Agent` header (bounded), for the sign-in history.
#[derive(Debug, Clone, Default)]
pub struct ClientUserAgent(pub String);

/// The client as a sign-in records it.
pub fn sign_in_client(ctx: &Context<'_>) -> crate::domain::accounts::sign_in::Client {
    let address = ctx.data_opt::<ClientAddress>().and_then(|a| a.0);
    let agent = ctx
        .data_opt::<ClientUserAgent>()
        .map_or("", |a| a.0.as_str());
    crate::domain::accounts::sign_in::Client::new(address, agent)
}

pub fn state<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

pub fn viewer<'a>(ctx: &Context<'a>) -> &'a Viewer {
    static ANONYMOUS: Viewer = Viewer(None);
    ctx.data_opt::<Viewer>().unwrap_or(&ANONYMOUS)
}

/// The signed-in user; fields that call this carry a guard too.
pub fn current_user<'a>(ctx: &Context<'a>) -> GraphqlResult<&'a AuthUser> {
    Ok(viewer(ctx).require_user()?)
}

/// The one shape of an admin write (`domain::audit::AdminWrite`): the signed-in
/// admin and what the audit log calls the action.
pub fn admin_write<'a>(ctx: &Context<'_>, action: &'a str) -> GraphqlResult<AdminWrite<'a>> {
    Ok(AdminWrite::new(current_user(ctx)?.id(), action))
}

pub async fn conn(ctx: &Context<'_>) -> GraphqlResult<PooledConn> {
    Ok(state(ctx).pool.get().await?)
}

/// A connection for reading a list page: the page pool's when the page is one
/// owner's rows and nothing else (`db::PlanCache::Generic`: one plan per
/// statement, never re-planned), the main pool's otherwise, as a filter's best
/// plan may depend on its value.
pub async fn page_conn(ctx: &Context<'_>, owner_only: bool) -> GraphqlResult<PooledConn> {
    let state = state(ctx);
    let pool = if owner_only {
        &state.page_pool
    } else {
        &state.pool
    };
    Ok(pool.get().await?)
}

/// Loads one row through the request's DataLoader; a dangling id is an internal error.
pub async fn load<K>(
    ctx: &Context<'_>,
    key: K,
    what: &'static str,
) -> GraphqlResult<<DbLoader as Loader<K>>::Value>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + Copy + std::fmt::Debug + 'static,
    DbLoader: Loader<K, Error = Arc<anyhow::Error>>,
{
    let loaders = ctx.data_unchecked::<Loaders>();
    match loaders.load_one(key).await {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err(AppError::internal(anyhow::anyhow!(
            "{what} {key:?} is referenced but missing"
        ))
        .into()),
        Err(e) => Err(GraphqlError::from(AppError::internal(anyhow::anyhow!(
            "loading {what}: {e:#}"
        )))),
    }
}

/// [`load`] for a relation that may be absent (a row not written yet).
pub async fn load_optional<K>(
    ctx: &Context<'_>,
    key: K,
    what: &'static str,
) -> GraphqlResult<Option<<DbLoader as Loader<K>>::Value>>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + Copy + std::fmt::Debug + 'static,
    DbLoader: Loader<K, Error = Arc<anyhow::Error>>,
{
    let loaders = ctx.data_unchecked::<Loaders>();
    loaders.load_one(key).await.map_err(|e| {
        GraphqlError::from(AppError::internal(anyhow::anyhow!("loading {what}: {e:#}")))
    })
}

/// Looks up a row by an id the client sent, through the request's DataLoader (aliases
/// batch, and unknown ids are remembered as unknown): `None` when nothing has it.
pub async fn lookup<K, Row>(
    ctx: &Context<'_>,
    key: K,
    what: &'static str,
) -> GraphqlResult<Option<Row>>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + Copy + std::fmt::Debug + 'static,
    Row: Send + Sync + Clone + 'static,
    DbLoader: Loader<loaders::Lookup<K>, Value = Option<Row>, Error = Arc<anyhow::Error>>,
{
    let loaders = ctx.data_unchecked::<Loaders>();
    match loaders.load_one(loaders::Lookup(key)).await {
        Ok(found) => Ok(found.flatten()),
        Err(e) => Err(GraphqlError::from(AppError::internal(anyhow::anyhow!(
            "loading {what}: {e:#}"
        )))),
    }
}

/// Loads many rows at once into the request's DataLoader cache. List resolvers call
/// it with the keys of a whole page when the query selects the relation, so the
/// batch does not depend on the loader's timing: one statement per relation, always.
pub async fn prefetch<K>(ctx: &Context<'_>, keys: impl IntoIterator<Item = K>) -> GraphqlResult<()>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + Copy + std::fmt::Debug + 'static,
    DbLoader: Loader<K, Error = Arc<anyhow::Error>>,
{
    let loaders = ctx.data_unchecked::<Loaders>();
    let mut keys: Vec<K> = keys.into_iter().collect();
    if keys.is_empty() {
        return Ok(());
    }
    let mut seen = std::collections::HashSet::new();
    keys.retain(|k| seen.insert(*k));
    loaders
        .load_many(keys)
        .await
        .map(|_| ())
        .map_err(|e| AppError::internal(anyhow::anyhow!("prefetching: {e:#}")).into())
}

/// A date-time argument, checked against what the database can store (PostgreSQL
/// timestamps reach back only to 4713 BC, while the scalar accepts far earlier):
/// years 1 to 9999, else VALIDATION naming the field.
pub fn check_date(
    field: &str,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> GraphqlResult<Option<chrono::DateTime<chrono::Utc>>> {
    use chrono::Datelike;
    match at {
        Some(at) if !(1..=9999).contains(&at.year()) => Err(AppError::validation(
            field,
            format!("{field} must be a date between the years 1 and 9999"),
        )
        .into()),
        _ => Ok(at),
    }
}

/// Parses an optional `ID` argument naming a row.
pub fn parse_opt_id(field: &str, id: Option<&async_graphql::ID>) -> GraphqlResult<Option<i64>> {
    id.map(|id| parse_id(field, id)).transpose()
}

/// Parses a list of `ID`s naming rows; the first bad one is VALIDATION on `field`.
pub fn parse_ids(field: &str, ids: &[async_graphql::ID]) -> GraphqlResult<Vec<i64>> {
    ids.iter().map(|id| parse_id(field, id)).collect()
}

/// Whether a parsed document holds a mutation (the caches' coherence and the
/// WebSocket's refusal of writes both ask).
pub fn has_mutation(document: &async_graphql::parser::types::ExecutableDocument) -> bool {
    document.operations.iter().any(|(_, operation)| {
        operation.node.ty == async_graphql::parser::types::OperationType::Mutation
    })
}

/// The bytes of an uploaded file, at most `max_bytes` (a larger file is refused,
/// never cut short). VALIDATION on `file`.
pub fn read_upload(
    ctx: &Context<'_>,
    file: &async_graphql::Upload,
    max_bytes: usize,
) -> GraphqlResult<Vec<u8>> {
    use std::io::Read;
    let upload = file
        .value(ctx)
        .map_err(|_| AppError::validation("file", "the upload is missing"))?;
    let mut bytes = Vec::new();
    // One byte past the limit tells a file that is too large from one that fits.
    upload
        .into_read()
        .take(max_bytes as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|_| AppError::validation("file", "the upload could not be read"))?;
    if bytes.len() > max_bytes {
        return Err(AppError::validation(
            "file",
            format!("the file is larger than {max_bytes} bytes"),
        )
        .into());
    }
    Ok(bytes)
}

/// Parses an `ID` argument naming a row.
pub fn parse_id(field: &str, id: &async_graphql::ID) -> GraphqlResult<i64> {
    id.parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| AppError::validation(field, format!("{field} is not a valid id")).into())
}
