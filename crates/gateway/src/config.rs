//! gateway configuration: every flag is also an environment variable (`--help` lists them).

use std::net::SocketAddr;

use clap::Parser;
use common::config::ServiceArgs;

#[derive(Debug, Clone, Parser)]
#[command(name = "gateway", version, about = "Sable gateway")]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "GATEWAY_ADDR", default_value = "0.0.0.0:8000")]
    pub addr: SocketAddr,

    #[command(flatten)]
    pub service: ServiceArgs,
}
