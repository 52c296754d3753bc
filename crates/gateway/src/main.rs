use std::process::ExitCode;

use clap::Parser;
use gateway::config::Config;

#[tokio::main]
async fn main() -> ExitCode {
    common::config::load_dotenv();
    let config = Config::parse();
    common::telemetry::init(config.service.log_format, &config.service.log_filter);
    let result = gateway::run(config).await;
    // Exports the spans still queued (a no-op unless OTEL_EXPORTER_OTLP_ENDPOINT is set).
    common::tracing_otel::shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "gateway stopped");
            eprintln!("gateway: {e:#}");
            ExitCode::FAILURE
        }
    }
}
