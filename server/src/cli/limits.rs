//! `monban limits list` / `monban limits clear ADDRESS` (AB-1, AB-2): the client addresses the
//! abuse limits block, on the same database as `monban serve`.

use super::operator::open;
use super::{CliError, DataArgs, Out, PolicyArgs};
use crate::api::limits::AddressBlock;
use clap::{Args, Subcommand};
use monban_core::abuse::ClientAddr;
use monban_core::audit::Actor;

/// The address-limit commands.
#[derive(Debug, Subcommand)]
pub enum LimitsCommand {
    /// Print the blocked client addresses as JSON lines: address, until (Unix seconds) and
    /// blocks_today.
    List(LimitsListArgs),
    /// Clear an address: its block and its failure and recovery counts go, so it may try again
    /// at once (an IPv6 address clears its /64). The audit records it.
    Clear(LimitsClearArgs),
}

/// `monban limits list`.
#[derive(Debug, Args)]
pub struct LimitsListArgs {
    /// Database, outbox and key file.
    #[command(flatten)]
    pub data: DataArgs,
    /// The rules.
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// `monban limits clear`.
#[derive(Debug, Args)]
pub struct LimitsClearArgs {
    /// Database, outbox and key file.
    #[command(flatten)]
    pub data: DataArgs,
    /// The rules.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// The address: IPv4, IPv6 (or its `…/64`), or `unknown`.
    pub address: String,
}

/// Runs a limits command.
pub async fn run(c: LimitsCommand) -> Result<(), CliError> {
    match c {
        LimitsCommand::List(a) => {
            let service = open(&a.data, &a.policy).await?;
            let mut out = Out::new();
            let mut after: Option<String> = None;
            loop {
                let page = service.address_blocks(after.as_deref(), 1000).await?;
                for b in page.items {
                    out.json(&AddressBlock {
                        address: b.address,
                        until: b.until.secs(),
                        blocks_today: b.blocks_today,
                    })?;
                }
                match page.next {
                    Some(n) if Some(&n) != after.as_ref() => after = Some(n),
                    _ => return Ok(()),
                }
            }
        }
        LimitsCommand::Clear(a) => {
            let addr = ClientAddr::parse(&a.address).ok_or_else(|| {
                CliError::new(format!(
                    "{:?} is not an address: give an IPv4 or IPv6 address, an IPv6 …/64, or `unknown`",
                    a.address
                ))
            })?;
            let service = open(&a.data, &a.policy).await?;
            let was_blocked = service.clear_address(&addr, Actor::System).await?;
            Out::new().line(&if was_blocked {
                format!("{addr}: block cleared")
            } else {
                format!("{addr}: was not blocked; its counts are cleared")
            })
        }
    }
}
