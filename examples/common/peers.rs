//! The peers and the load generator the side-by-side benchmarks share:
//! PostGraphile 4 serving the benchmark's database, and wrk POSTing one GraphQL
//! document over and over.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::atomic::AtomicUsize,
    time::{Duration, Instant},
};

use serde_json::json;

/// Numbers the wrk scripts of one process apart.
static WRK_SCRIPTS: AtomicUsize = AtomicUsize::new(0);

/// Runs `bench(database url, PostGraphile's command line)` on a database of its
/// own; Ctrl-C ends it like any other ending (PostGraphile stopped, the database
/// dropped).
pub async fn against_postgraphile<F, Fut>(bench: F) -> anyhow::Result<()>
where
    F: FnOnce(String, PathBuf) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let postgraphile = postgraphile_cli()?;
    super::with_bench_database(|url| async move {
        tokio::select! {
            result = bench(url, postgraphile) => result,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        }
    })
    .await
}

/// booster's SQL statements per request of `query` (signed in with `bearer` when
/// given), counted over `samples` sequential requests.
pub async fn statements_per_request(
    state: &booster::app::AppState,
    http: &reqwest::Client,
    url: &str,
    query: &str,
    bearer: Option<&str>,
    samples: u32,
) -> anyhow::Result<f64> {
    let body = json!({ "query": query });
    let before = state.query_counter.get();
    for _ in 0..samples {
        let mut request = http.post(url).json(&body);
        if let Some(bearer) = bearer {
            request = request.header("Authorization", bearer);
        }
        let response = request.send().await?;
        anyhow::ensure!(response.status().is_success(), "{}", response.status());
        response.bytes().await?;
    }
    Ok((state.query_counter.get() - before) as f64 / f64::from(samples))
}

/// A whole number from the environment, `default` when unset.
pub fn number_from_env(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Ok(value) => Ok(value.parse()?),
        Err(_) => Ok(default),
    }
}

/// Where `npm ci --prefix bench/postgraphile` puts PostGraphile's command line,
/// checked to be there.
pub fn postgraphile_cli() -> anyhow::Result<PathBuf> {
    let cli = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("bench/postgraphile/node_modules/postgraphile/cli.js");
    anyhow::ensure!(
        cli.exists(),
        "{} is missing: run scripts/bench-catalogue.sh (or `npm ci --prefix bench/postgraphile`)",
        cli.display()
    );
    anyhow::ensure!(
        Command::new("wrk")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok(),
        "wrk is not installed: run scripts/bench-catalogue.sh (or `apt-get install wrk`)"
    );
    Ok(cli)
}

/// PostGraphile serving the benchmark's database on a free port; killed when dropped,
/// so also when the benchmark fails.
pub struct PostGraphile {
    child: Child,
    log: PathBuf,
    pub url: String,
}

impl PostGraphile {
    /// PostGraphile 4 on `database` (schema `public`, no mutations, a pool of
    /// `pool_size`), `workers` cluster workers; returns once every worker answers.
    pub async fn start(
        cli: &Path,
        database: &str,
        workers: u64,
        pool_size: usize,
        http: &reqwest::Client,
    ) -> anyhow::Result<PostGraphile> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log =
            std::env::temp_dir().join(format!("postgraphile_{}_{port}.log", std::process::id()));
        let output = std::fs::File::create(&log)?;
        let mut command = Command::new("node");
        command
            .arg(cli)
            .args(["-c", database, "--schema", "public"])
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--disable-default-mutations",
                "--disable-graphiql",
                "--disable-query-log",
                "--max-pool-size",
                &pool_size.to_string(),
            ])
            // The modern-JavaScript build, production mode, no update checks.
            .env("GRAPHILE_TURBO", "1")
            .env("NODE_ENV", "production")
            .env("NO_UPDATE_NOTIFIER", "1")
            .stdin(Stdio::null())
            .stdout(output.try_clone()?)
            .stderr(output);
        if workers > 1 {
            command.args(["--cluster-workers", &workers.to_string()]);
        }
        let child = command.spawn()?;
        let mut server = PostGraphile {
            child,
            log,
            url: format!("http://127.0.0.1:{port}/graphql"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = server.child.try_wait()? {
                anyhow::bail!("PostGraphile exited ({status}):\n{}", server.log_text());
            }
            // Every cluster worker introspects the schema before it listens.
            let listening = server.log_text().matches("listening on port").count() as u64;
            let answered = listening >= workers
                && http
                    .post(&server.url)
                    .json(&json!({ "query": "{ __typename }" }))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
            if answered {
                return Ok(server);
            }
            if Instant::now() > deadline {
                anyhow::bail!(
                    "PostGraphile did not answer within 60 s:\n{}",
                    server.log_text()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for PostGraphile {
    fn drop(&mut self) {
        // Cluster workers exit with their master (their IPC channel closes).
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

pub struct WrkResult {
    pub requests_per_sec: f64,
    pub p99_ms: f64,
    /// wrk's "Socket errors" line (connect, read, write, timeout), when any.
    pub socket_errors: Option<String>,
}

/// How wrk drives a server: threads, connections, the warm-up and measured seconds.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    pub threads: usize,
    pub connections: usize,
    pub warmup: u64,
    pub seconds: u64,
}

/// wrk POSTing `{"query": query}` to `url` with `headers` (an Authorization, say):
/// a warm-up run, then the measured one.
pub async fn wrk(
    url: &str,
    query: &str,
    headers: &[(&str, &str)],
    load: Load,
) -> anyhow::Result<WrkResult> {
    let body = json!({ "query": query }).to_string();
    anyhow::ensure!(!body.contains("]==]"), "body would end the Lua string");
    let script = TempFile(std::env::temp_dir().join(format!(
        "wrk_{}_{}.lua",
        std::process::id(),
        WRK_SCRIPTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )));
    let mut lua = format!(
        "wrk.method = \"POST\"\n\
         wrk.headers[\"Content-Type\"] = \"application/json\"\n\
         wrk.body = [==[{body}]==]\n"
    );
    for (name, value) in headers {
        anyhow::ensure!(
            !value.contains('"') && !name.contains('"'),
            "a header with a quote"
        );
        lua.push_str(&format!("wrk.headers[\"{name}\"] = \"{value}\"\n"));
    }
    std::fs::write(&script.0, lua)?;
    let run = |secs: u64| {
        tokio::process::Command::new("wrk")
            .arg(format!("-t{}", load.threads))
            .arg(format!("-c{}", load.connections))
            .arg(format!("-d{secs}s"))
            .arg("--latency")
            .arg("-s")
            .arg(&script.0)
            .arg(url)
            .kill_on_drop(true)
            .output()
    };
    if load.warmup > 0 {
        run(load.warmup).await?;
    }
    let output = run(load.seconds).await?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    anyhow::ensure!(
        output.status.success(),
        "wrk failed: {text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse_wrk(&text).ok_or_else(|| anyhow::anyhow!("unreadable wrk output:\n{text}"))?
}

/// A file removed when dropped, however the benchmark ends.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn parse_wrk(text: &str) -> Option<anyhow::Result<WrkResult>> {
    let mut requests_per_sec = None;
    let mut p99_ms = None;
    let mut socket_errors = None;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("Requests/sec:") {
            requests_per_sec = rest.trim().parse().ok();
        } else if let Some(rest) = line.strip_prefix("99%") {
            p99_ms = duration_ms(rest.trim());
        } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            return Some(Err(anyhow::anyhow!(
                "{} answers were not 2xx:\n{text}",
                rest.trim()
            )));
        } else if let Some(rest) = line.strip_prefix("Socket errors:") {
            socket_errors = Some(format!("socket errors:{rest}"));
        }
    }
    Some(Ok(WrkResult {
        requests_per_sec: requests_per_sec?,
        p99_ms: p99_ms?,
        socket_errors,
    }))
}

/// A wrk duration ("812.00us", "1.23ms", "2.01s", "1.50m") in milliseconds.
fn duration_ms(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1_000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return None,
    };
    Some(number * scale)
}
