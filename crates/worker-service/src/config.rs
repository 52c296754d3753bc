//! worker-service configuration: every flag is also an environment variable (`--help` lists them).

use std::net::SocketAddr;

use clap::Parser;
use common::config::ServiceArgs;

#[derive(Debug, Clone, Parser)]
#[command(name = "worker-service", version, about = "Sable worker-service")]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "WORKER_SERVICE_ADDR", default_value = "0.0.0.0:8002")]
    pub addr: SocketAddr,

    #[command(flatten)]
    pub service: ServiceArgs,
}
