//! The command line: `serve`, `worker`, `migrate`, `schema`, `audit`, `user create`.

use clap::{Parser, Subcommand};

use crate::{
    app::AppState,
    auth,
    config::{Config, DatabaseConfig},
    db::{self, enums::Role},
    domain::accounts,
    jobs::Runner,
};

#[derive(Parser)]
#[command(
    name = "booster",
    version,
    about = "GraphQL backend for an SMM reseller panel"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Migrate the database, then serve HTTP (GraphQL, playground, subscriptions).
    Serve,
    /// Migrate the database, then run only the background jobs (dispatch, status
    /// sync, requests, provider health, deposit reconciliation). Run as many as you
    /// like beside any number of `serve` processes.
    Worker,
    /// Apply pending database migrations.
    Migrate,
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Check that every balance equals the sum of its ledger; exits non-zero naming
    /// each user where it does not.
    Audit,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user and print a fresh API key for it (shown once).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "")]
        name: String,
        /// Make the user an owner (the panel's first admin: every permission).
        #[arg(long)]
        admin: bool,
    },
}

async fn prepare_database(database: &DatabaseConfig) -> anyhow::Result<()> {
    db::ensure_database_exists(&database.url).await?;
    let applied = db::run_migrations(&database.url).await?;
    for version in applied {
        tracing::info!(%version, "applied migration");
    }
    Ok(())
}

/// Cancels the state's shutdown token at the first SIGTERM or ctrl-c.
fn stop_on_signal(state: &AppState) {
    let shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        crate::http::shutdown_signal().await;
        shutdown.cancel();
    });
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Schema => {
            print!("{}", crate::graphql::sdl());
            Ok(())
        }
        Command::Migrate => prepare_database(&DatabaseConfig::from_environment()?).await,
        Command::Serve => {
            let config = Config::from_environment()?;
            prepare_database(&config.database).await?;
            let listener = tokio::net::TcpListener::bind(config.server.bind).await?;
            let run_jobs = config.upstream.run_jobs_in_serve;
            apply_process_settings(&config);
            let state = AppState::new(config)?;
            stop_on_signal(&state);
            let jobs = run_jobs.then(|| Runner::start(&state, crate::jobs::all()));
            crate::http::serve(state.clone(), listener).await?;
            if let Some(jobs) = jobs {
                jobs.stop(state.config.server.shutdown_grace).await;
            }
            Ok(())
        }
        Command::Worker => {
            let config = Config::from_environment()?;
            prepare_database(&config.database).await?;
            apply_process_settings(&config);
            let state = AppState::new(config)?;
            stop_on_signal(&state);
            let jobs = Runner::start(&state, crate::jobs::all());
            tracing::info!("worker running");
            state.shutdown.cancelled().await;
            jobs.stop(state.config.server.shutdown_grace).await;
            tracing::info!("worker stopped");
            Ok(())
        }
        Command::Audit => {
            let database = DatabaseConfig::from_environment()?;
            let pool = db::build_pool(&database.url, 1, db::PlanCache::Auto, Default::default())?;
            let mut conn = pool.get().await?;
            let mismatches = crate::domain::wallet::audit(&mut conn)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if mismatches.is_empty() {
                println!("audit ok: every balance equals the sum of its ledger");
                return Ok(());
            }
            for (user_id, balance, ledger_sum) in &mismatches {
                println!("user {user_id}: balance {balance} but ledger sums to {ledger_sum}");
            }
            anyhow::bail!("{} user(s) out of balance", mismatches.len())
        }
        Command::User {
            command: UserCommand::Create { email, name, admin },
        } => {
            let database = DatabaseConfig::from_environment()?;
            prepare_database(&database).await?;
            let pool = db::build_pool(&database.url, 1, db::PlanCache::Auto, Default::default())?;
            let mut conn = pool.get().await?;
            let role = if admin { Role::Owner } else { Role::Customer };
            let user = accounts::create_user(&mut conn, &email, &name, role)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let (_, key) =
                auth::create_api_key(&mut conn, user.id, "created by `booster user create`")
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            eprintln!("created {} user {} (id {})", role, user.email, user.id);
            eprintln!("API key (shown once; use as `Authorization: Bearer <key>`):");
            println!("{key}");
            Ok(())
        }
    }
}

/// Settings the domain reads process-wide rather than through every caller
/// (the admin alert digest's interval, used deep inside notifications).
fn apply_process_settings(config: &Config) {
    crate::domain::alert_digest::set_interval(config.support.admin_alert_digest);
}
