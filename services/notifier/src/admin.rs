//! `combipat-notifier admin ...`: commands against notifier's database, without a server.
//!
//! - `suppress ADDRESS bounce|complaint|unsubscribe [DETAIL...]`: no more e-mail to ADDRESS
//!   (what a mail provider's bounce or complaint report says);
//! - `unsuppress ADDRESS`.

use anyhow::Context as _;
use sqlx::PgPool;

use crate::email::suppression::{self, Reason};

pub async fn run(pool: &PgPool, args: &[String]) -> anyhow::Result<()> {
    let mut connection = pool.acquire().await.context("connecting to the database")?;
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["suppress", address, reason, detail @ ..] => {
            let reason = Reason::parse(reason).with_context(|| {
                format!("unknown reason `{reason}`: bounce, complaint or unsubscribe")
            })?;
            anyhow::ensure!(
                crate::preferences::looks_like_address(address),
                "`{address}` is not an e-mail address"
            );
            suppression::record(
                &mut connection,
                address,
                reason,
                &detail.join(" "),
                chrono::Utc::now(),
            )
            .await?;
            tracing::info!(address, reason = reason.as_str(), "address suppressed");
            Ok(())
        }
        ["unsuppress", address] => {
            let removed = suppression::remove(&mut connection, address).await?;
            tracing::info!(address, removed, "address taken off the suppression list");
            Ok(())
        }
        _ => anyhow::bail!(
            "usage: admin suppress ADDRESS bounce|complaint|unsubscribe [DETAIL...] | admin unsuppress ADDRESS"
        ),
    }
}
