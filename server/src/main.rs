use clap::Parser;

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = gatehouse::cli::Cli::parse();
    gatehouse::telemetry::init(cli.config.log_format);
    match gatehouse::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gatehouse: {err}");
            // Wrong use (bad input, nothing changed) is 2; a failure while working is 1.
            if err.is_usage() {
                std::process::ExitCode::from(2)
            } else {
                std::process::ExitCode::FAILURE
            }
        }
    }
}
