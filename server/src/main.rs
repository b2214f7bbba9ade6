use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    gatehouse::telemetry::init();
    let cli = gatehouse::config::Cli::parse();
    match gatehouse::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gatehouse: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}
