//! model-service configuration: every flag is also an environment variable (`--help` lists them).

use std::net::SocketAddr;

use clap::Parser;
use common::config::ServiceArgs;

#[derive(Debug, Clone, Parser)]
#[command(name = "model-service", version, about = "Sable model-service")]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "MODEL_SERVICE_ADDR", default_value = "0.0.0.0:8001")]
    pub addr: SocketAddr,

    #[command(flatten)]
    pub service: ServiceArgs,
}
