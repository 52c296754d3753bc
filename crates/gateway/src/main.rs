use std::process::ExitCode;

use clap::Parser;
use gateway::config::Config;

#[tokio::main]
async fn main() -> ExitCode {
    common::config::load_dotenv();
    let config = Config::parse();
    common::telemetry::init(config.service.log_format, &config.service.log_filter);
    match gateway::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "gateway stopped");
            eprintln!("gateway: {e:#}");
            ExitCode::FAILURE
        }
    }
}
