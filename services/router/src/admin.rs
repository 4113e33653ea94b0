//! `combipat-router admin directory ...`: load, activate and list office directories.

use anyhow::Context as _;

use crate::ruleset::Rulesets;

const USAGE: &str = "usage: combipat-router admin directory load FILE [--activate] | directory activate VERSION | directory list";

pub async fn run(rulesets: &Rulesets, args: &[String]) -> anyhow::Result<()> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["directory", "load", path] => load_file(rulesets, path, false).await,
        ["directory", "load", path, "--activate"] | ["directory", "load", "--activate", path] => {
            load_file(rulesets, path, true).await
        }
        ["directory", "activate", version] => Ok(rulesets.activate(version, "admin-cli").await?),
        ["directory", "list"] => {
            for (version, loaded_at, active) in rulesets.versions().await? {
                let marker = if active { "  (active)" } else { "" };
                #[allow(clippy::print_stdout, reason = "the listing is this command's output")]
                {
                    println!("{version}  loaded {loaded_at}{marker}");
                }
            }
            Ok(())
        }
        _ => anyhow::bail!(USAGE),
    }
}

pub async fn load_file(rulesets: &Rulesets, path: &str, activate: bool) -> anyhow::Result<()> {
    let yaml = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the directory file {path}"))?;
    let loaded = rulesets
        .load(&yaml, "admin-cli")
        .await
        .with_context(|| format!("directory {path}"))?;
    if activate {
        rulesets.activate(&loaded.version, "admin-cli").await?;
    }
    tracing::info!(ruleset.version = %loaded.version, offices = loaded.offices, poli = loaded.poli, activated = activate, "directory loaded");
    Ok(())
}
