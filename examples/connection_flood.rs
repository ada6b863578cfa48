//! Connection flood against a running server: one address opens thousands of TCP
//! connections and sends nothing, while another asks `/healthz`. Prints how long
//! the health check took, how many idle connections the server held, and the
//! server's resident memory before, during and after.
//!
//! ```sh
//! BIND=127.0.0.1:18080 cargo run --release -- serve &
//! cargo run --release --example connection_flood -- http://127.0.0.1:18080 $! 18000
//! ```
//!
//! Arguments: base URL, the server's process id (for its memory), connections
//! (default 18,000; this process raises its own descriptor limit as far as it may).

mod common;

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::{Duration, Instant},
};

use tokio::{io::AsyncReadExt, net::TcpSocket, net::TcpStream};

async fn connect(address: SocketAddr, source: Ipv4Addr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(IpAddr::V4(source), 0))?;
    socket.connect(address).await
}

/// Time for `/healthz` from another address, or `None` if it did not answer in 60 s.
async fn healthz(base: &str) -> Option<Duration> {
    let client = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
        .timeout(Duration::from_secs(60))
        .build()
        .ok()?;
    let started = Instant::now();
    let answer = client.get(format!("{base}/healthz")).send().await.ok()?;
    answer.status().is_success().then(|| started.elapsed())
}

/// How many of `streams` the server still holds open (no end-of-file in 200 ms).
async fn still_open(streams: &mut [TcpStream]) -> usize {
    let checks = streams.iter_mut().map(|stream| async move {
        let mut byte = [0u8; 1];
        tokio::time::timeout(Duration::from_millis(200), stream.read(&mut byte))
            .await
            .is_err()
    });
    futures_util::future::join_all(checks)
        .await
        .into_iter()
        .filter(|open| *open)
        .count()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:18080".into());
    let pid: u32 = args.next().map(|p| p.parse()).transpose()?.unwrap_or(0);
    let wanted: usize = args
        .next()
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(18_000);
    let descriptors = rlimit::increase_nofile_limit(u64::MAX)?;
    let count = wanted.min(descriptors.saturating_sub(64) as usize);
    let address: SocketAddr = base.trim_start_matches("http://").parse()?;

    println!(
        "server resident memory before: {:.1} MiB",
        common::resident_mib(&pid.to_string())
    );
    println!(
        "healthz before the flood: {:?}",
        healthz(&base).await.map(|d| d.as_millis())
    );
    let started = Instant::now();
    let mut flood = Vec::with_capacity(count);
    let mut failed = 0;
    for _ in 0..count {
        match tokio::time::timeout(
            Duration::from_millis(200),
            connect(address, Ipv4Addr::new(127, 0, 0, 1)),
        )
        .await
        {
            Ok(Ok(stream)) => flood.push(stream),
            _ => failed += 1,
        }
        // The server's backlog is full: it takes no more, whoever asks.
        if failed >= 20 {
            break;
        }
    }
    println!(
        "opened {} idle connections in {:.1} s ({failed} failed)",
        flood.len(),
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!(
        "healthz during the flood: {}",
        match healthz(&base).await {
            Some(took) => format!("{} ms", took.as_millis()),
            None => "no answer within 60 s".into(),
        }
    );
    println!(
        "server resident memory during: {:.1} MiB",
        common::resident_mib(&pid.to_string())
    );
    println!(
        "idle connections the server holds: {}",
        still_open(&mut flood).await
    );
    tokio::time::sleep(Duration::from_secs(12)).await;
    println!(
        "after 12 s more: held {}, resident memory {:.1} MiB",
        still_open(&mut flood).await,
        common::resident_mib(&pid.to_string())
    );
    Ok(())
}
