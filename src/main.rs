use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    booster::allocator::tune();
    booster::init_tracing();
    let cli = booster::cli::Cli::parse();
    match booster::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
