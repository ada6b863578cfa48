//! The accept loop: connections, their limits and timeouts, and graceful shutdown.
//!
//! `axum::serve` accepts every connection it can and waits forever for a request's
//! headers, so one client holding ~20,000 idle sockets exhausted the file
//! descriptors and `/healthz` went silent. Here every connection is counted: past
//! `MAX_CONNECTIONS` in all, or `MAX_CONNECTIONS_PER_IP` from one address (trusted
//! proxies excepted), a new connection is closed as soon as it is accepted, so the
//! backlog keeps draining and others still get in. A connection that does not send
//! a request's headers within `HEADER_READ_TIMEOUT_SECONDS` (a slow client, or an
//! idle keep-alive between requests) is closed; a body that stalls is cut by the
//! router's body timeout.

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, extract::ConnectInfo};
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

use crate::{app::AppState, config::ServerConfig};

/// File descriptors kept back from connections for the database pool, outbound
/// HTTP to providers and gateways, log files and the like.
const RESERVED_DESCRIPTORS: u64 = 256;

/// Open connections, in all and per client address.
#[derive(Clone)]
pub struct ConnectionLimits {
    inner: Arc<Limits>,
}

struct Limits {
    total: usize,
    per_ip: usize,
    exempt: Vec<IpAddr>,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    total: usize,
    by_ip: HashMap<IpAddr, usize>,
}

/// Holds a connection's place; dropping it (when the connection ends) frees it.
pub struct ConnectionSlot {
    limits: Arc<Limits>,
    ip: IpAddr,
}

impl ConnectionLimits {
    /// `total` is lowered to what the process's descriptor limit allows, after
    /// raising that limit to its hard maximum.
    pub fn new(config: &ServerConfig) -> ConnectionLimits {
        let descriptors = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
        let affordable = descriptors.saturating_sub(RESERVED_DESCRIPTORS).max(16) as usize;
        let total = if config.max_connections > affordable {
            tracing::warn!(
                configured = config.max_connections,
                descriptors,
                allowed = affordable,
                "MAX_CONNECTIONS is above what the descriptor limit allows; using the lower figure"
            );
            affordable
        } else {
            config.max_connections
        };
        ConnectionLimits {
            inner: Arc::new(Limits {
                total,
                per_ip: config.max_connections_per_ip,
                exempt: config.trusted_proxies.clone(),
                open: Mutex::new(Open::default()),
            }),
        }
    }

    /// A place for a connection from `ip`, or `None` when it must be turned away.
    pub fn admit(&self, ip: IpAddr) -> Option<ConnectionSlot> {
        let limits = &self.inner;
        let mut open = limits.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.total >= limits.total {
            return None;
        }
        let from_ip = open.by_ip.get(&ip).copied().unwrap_or(0);
        // Everyone behind a trusted proxy shares its address: only the total applies.
        if limits.per_ip > 0 && from_ip >= limits.per_ip && !limits.exempt.contains(&ip) {
            return None;
        }
        open.total += 1;
        open.by_ip.insert(ip, from_ip + 1);
        Some(ConnectionSlot {
            limits: limits.clone(),
            ip,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.inner
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .total
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.limits.open.lock().unwrap_or_else(|e| e.into_inner());
        open.total -= 1;
        if let Some(count) = open.by_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.by_ip.remove(&self.ip);
            }
        }
    }
}

/// Serves `router` on `listener` until the state's shutdown token is cancelled,
/// then stops accepting and lets requests in flight finish; connections still open
/// after `SHUTDOWN_GRACE_SECONDS` (long-lived WebSockets) are closed.
pub async fn serve(app: AppState, router: Router, listener: TcpListener) -> anyhow::Result<()> {
    let config = &app.config.server;
    let limits = ConnectionLimits::new(config);
    tracing::info!(
        address = %listener.local_addr()?,
        max_connections = limits.inner.total,
        max_connections_per_ip = limits.inner.per_ip,
        "listening"
    );
    // HTTP/1.1 only: hyper-util's auto builder tells HTTP/2 from HTTP/1 by waiting
    // for the first bytes with no timeout at all, which is exactly what an idle
    // flood exploits. Clients reach us over HTTP/1.1, or through a TLS proxy that
    // speaks it to us.
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .keep_alive(true);
    let shutdown = app.shutdown.clone();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = accept(&listener) => accepted,
            _ = shutdown.cancelled() => break,
        };
        let Some(slot) = limits.admit(peer.ip()) else {
            // Closed at once: the descriptor comes back and the client learns now.
            tracing::debug!(%peer, "connection refused: too many open");
            drop(stream);
            continue;
        };
        // Each request carries the peer's address and the connection's slot: a
        // WebSocket keeps the slot after the upgrade, so open sockets count too.
        let slot = Arc::new(slot);
        let request_slot = slot.clone();
        let service =
            router
                .clone()
                .map_request(move |mut request: http::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    request.extensions_mut().insert(request_slot.clone());
                    request
                });
        let connection = builder
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .with_upgrades();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                _ = shutdown.cancelled() => {
                    // Finish the request in flight, then close.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = ended {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
            drop(slot);
        });
    }
    // Requests in flight finish (each connection closes after its current one);
    // what is still open at the deadline, long-lived WebSockets above all, is
    // closed when the process ends.
    let grace = config.shutdown_grace;
    let deadline = tokio::time::Instant::now() + grace;
    while limits.open() > 0 {
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(
                ?grace,
                open = limits.open(),
                "connections still open at the shutdown deadline; closing them"
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// The next connection. Accept errors (out of descriptors, above all) are logged
/// and retried after a pause instead of ending the server or spinning.
async fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                return (stream, peer);
            }
            Err(error) => {
                tracing::warn!(%error, "accept failed; retrying shortly");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
