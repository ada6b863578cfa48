//! What an operation over the WebSocket may do, and with which credential. The
//! socket is for subscriptions and the queries a live view needs:
//!
//! - mutations are refused (they go over `POST /graphql`, which checks the
//!   credential per request and runs every write to its end even if the client
//!   goes away);
//! - every operation re-reads the credential the socket connected with, so a
//!   revoked key or session, a ban or a lowered role applies to the next operation,
//!   with fresh DataLoaders (no rows cached for the life of the connection);
//! - a watcher closes the socket (code 4403) as soon as the user's credentials
//!   change in a way that takes access away: revocations, bans and role changes are
//!   announced over LISTEN/NOTIFY (`events::CREDENTIALS_CHANNEL`), so events stop
//!   reaching a socket that may no longer receive them; when the LISTEN
//!   connection comes back after a drop (notices may have been lost) every socket
//!   re-checks (`events::EVERY_USER`);
//! - the user's rate limit applies to every operation on the socket as over HTTP,
//!   one socket holds at most [`MAX_SUBSCRIPTIONS`] subscriptions and one user at
//!   most [`MAX_SUBSCRIPTIONS_PER_USER`] in a process.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use async_graphql::{
    Request, ServerResult, extensions::ExtensionContext, parser::types::ExecutableDocument,
};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::{document_rule::DocumentRule, error::GraphqlError};
use crate::{
    app::AppState,
    auth::{self, AuthUser, Viewer},
    error::{AppError, AppResult},
    rate_limit::UserRateLimiter,
};

/// The WebSocket close code when the credential no longer allows the connection.
pub const CLOSE_REVOKED: u16 = 4403;
/// The close code for a socket that did not send `connection_init` in time
/// (graphql-transport-ws).
pub const CLOSE_INIT_TIMEOUT: u16 = 4408;
/// How long a new socket may take to send `connection_init`.
pub const INIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// Subscriptions one socket may hold at once.
pub const MAX_SUBSCRIPTIONS: usize = 100;
/// Subscriptions one user may hold at once in this process, over all sockets.
pub const MAX_SUBSCRIPTIONS_PER_USER: usize = 500;

/// Connection data of a WebSocket; its presence marks a request as arriving over
/// one. No `Debug`: it holds the bearer token.
#[derive(Clone)]
pub struct SocketSession {
    /// The bearer token of `connection_init` (None: anonymous).
    pub token: Option<String>,
    /// Whether the socket connected with the admin role.
    pub connected_as_admin: bool,
    /// Who connected (None: anonymous); every operation re-checks the credential.
    pub user_id: Option<i64>,
    /// Cancelled when the credential stops allowing the connection; the socket is
    /// then closed with [`CLOSE_REVOKED`].
    pub revoked: CancellationToken,
    /// The same per-user limit as `POST /graphql`.
    pub rate_limiter: UserRateLimiter,
    /// Subscriptions running on this socket.
    pub subscriptions: Arc<AtomicUsize>,
}

impl SocketSession {
    /// The viewer as the credential stands now. An error (revoked, expired,
    /// banned, no longer admin) also closes the socket.
    pub async fn current_viewer(&self, state: &AppState) -> AppResult<Viewer> {
        let Some(token) = &self.token else {
            return Ok(Viewer(None));
        };
        let checked = async {
            let user = auth::authenticate(&state.caches, &state.pool, token).await?;
            self.still_allowed(&user)?;
            Ok(user)
        }
        .await;
        match checked {
            Ok(user) => Ok(Viewer(Some(user))),
            Err(error) => {
                if !matches!(error, AppError::Internal(_)) {
                    self.revoked.cancel();
                }
                Err(error)
            }
        }
    }

    fn still_allowed(&self, user: &AuthUser) -> AppResult<()> {
        if user.user.is_banned() {
            return Err(AppError::forbidden("this account is banned"));
        }
        if self.connected_as_admin && !user.is_staff() {
            return Err(AppError::forbidden(
                "the admin role was withdrawn; connect again",
            ));
        }
        Ok(())
    }

    /// Re-checks the credential whenever the user's credentials change, until the
    /// socket ends (`ended`) or the credential no longer allows it.
    pub fn watch(&self, state: AppState, user_id: i64, ended: CancellationToken) {
        let session = self.clone();
        let mut changes = state.events.subscribe_credentials();
        tokio::spawn(async move {
            loop {
                let changed = tokio::select! {
                    _ = ended.cancelled() => return,
                    _ = session.revoked.cancelled() => return,
                    changed = changes.recv() => changed,
                };
                match changed {
                    Ok(id) if id != user_id && id != crate::events::EVERY_USER => continue,
                    // A missed notice may have been ours: check.
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                }
                if let Err(error) = session.current_viewer(&state).await {
                    tracing::info!(
                        user_id,
                        code = error.code(),
                        "closing a WebSocket whose credential changed"
                    );
                }
            }
        });
    }
}

type PerUser = Arc<Mutex<HashMap<i64, usize>>>;

/// One running subscription; frees its places (the socket's, the user's) when
/// dropped, however the subscription ends.
pub struct SubscriptionSlot {
    socket: Arc<AtomicUsize>,
    user: Option<(i64, PerUser)>,
}

impl Drop for SubscriptionSlot {
    fn drop(&mut self) {
        metrics::gauge!(crate::metrics::SUBSCRIPTIONS).decrement(1);
        self.socket.fetch_sub(1, Ordering::SeqCst);
        if let Some((user_id, per_user)) = &self.user {
            let mut counts = per_user.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(count) = counts.get_mut(user_id) {
                *count -= 1;
                if *count == 0 {
                    counts.remove(user_id);
                }
            }
        }
    }
}

impl SubscriptionSlot {
    /// A place for a new subscription, or the reason there is none.
    fn take(
        socket: &Arc<AtomicUsize>,
        user: Option<(i64, &PerUser)>,
    ) -> Result<SubscriptionSlot, String> {
        if socket.fetch_add(1, Ordering::SeqCst) >= MAX_SUBSCRIPTIONS {
            socket.fetch_sub(1, Ordering::SeqCst);
            return Err(format!(
                "at most {MAX_SUBSCRIPTIONS} subscriptions per connection"
            ));
        }
        let mut slot = SubscriptionSlot {
            socket: socket.clone(),
            user: None,
        };
        // Dropping the slot (below, when refused) takes this back.
        metrics::gauge!(crate::metrics::SUBSCRIPTIONS).increment(1);
        if let Some((user_id, per_user)) = user {
            let mut counts = per_user.lock().unwrap_or_else(|e| e.into_inner());
            let count = counts.entry(user_id).or_default();
            if *count >= MAX_SUBSCRIPTIONS_PER_USER {
                return Err(format!(
                    "at most {MAX_SUBSCRIPTIONS_PER_USER} subscriptions per user"
                ));
            }
            *count += 1;
            slot.user = Some((user_id, per_user.clone()));
        }
        Ok(slot)
    }
}

/// The socket's side of every operation, applied by the schema's extension
/// (`extension.rs`); acts only on requests carrying a [`SocketSession`].
#[derive(Default)]
pub struct SocketPolicy {
    per_user: PerUser,
}

impl SocketPolicy {
    /// Re-reads the credential of the socket the request came over and applies
    /// the user's rate limit; the request then runs as that viewer, with fresh
    /// DataLoaders.
    pub async fn prepare(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
    ) -> ServerResult<Request> {
        let Some(session) = ctx.data_opt::<SocketSession>() else {
            return Ok(request);
        };
        let state = ctx.data_unchecked::<AppState>();
        let viewer = session
            .current_viewer(state)
            .await
            .and_then(|viewer| match &viewer.0 {
                Some(user) if session.rate_limiter.check(user.id()).is_err() => {
                    Err(AppError::RateLimited)
                }
                _ => Ok(viewer),
            })
            .map_err(|error| GraphqlError::from(error).into_server_error())?;
        let (viewer, loaders) = super::request_data(state, viewer);
        Ok(request.data(viewer).data(loaders))
    }

    /// A place for a new subscription on the socket the request came over (none
    /// needed for other requests), or the error refusing it.
    pub fn subscription_slot(
        &self,
        ctx: &ExtensionContext<'_>,
    ) -> ServerResult<Option<SubscriptionSlot>> {
        let Some(session) = ctx.data_opt::<SocketSession>() else {
            return Ok(None);
        };
        SubscriptionSlot::take(
            &session.subscriptions,
            session.user_id.map(|id| (id, &self.per_user)),
        )
        .map(Some)
        .map_err(|why| GraphqlError::from(AppError::BadRequest(why)).into_server_error())
    }
}

/// Mutations are sent with POST: over the socket they could outlive the request
/// that a dropped connection ends, and the HTTP path runs them to their end.
#[derive(Clone)]
pub struct NoSocketMutations;

impl DocumentRule for NoSocketMutations {
    fn read(
        &self,
        ctx: &ExtensionContext<'_>,
        document: &ExecutableDocument,
    ) -> ServerResult<bool> {
        if super::has_mutation(document) && ctx.data_opt::<SocketSession>().is_some() {
            return Err(GraphqlError::from(AppError::BadRequest(
                "mutations are not accepted over the WebSocket; send them with POST /graphql"
                    .into(),
            ))
            .into_server_error());
        }
        Ok(false)
    }
}
