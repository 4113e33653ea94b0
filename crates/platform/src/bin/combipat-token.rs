//! Prints a development bearer token signed with the committed development key.
//!
//! Usage: combipat-token ROLE [claim=value ...]
//! Claims: sub, patronato, patronato_office, inps_office, hours (validity, default 12).
//! The key is dev/keys/dev-jwt-private.pem, or the file named by COMBIPAT_DEV_PRIVATE_KEY.

use std::process::ExitCode;

use anyhow::Context as _;
use combipat_platform::auth::{Claims, Role, sign};

fn main() -> ExitCode {
    match run() {
        Ok(token) => {
            #[allow(clippy::print_stdout, reason = "the token is this program's output")]
            {
                println!("{token}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            #[allow(clippy::print_stderr, reason = "a command-line tool's error")]
            {
                eprintln!("combipat-token: {error:#}");
                eprintln!(
                    "usage: combipat-token ROLE [sub=..] [patronato=..] [patronato_office=..] [inps_office=..] [hours=..]"
                );
            }
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<String> {
    let mut args = std::env::args().skip(1);
    let role: Role = args.next().context("missing ROLE")?.parse()?;
    let mut claims = Claims {
        sub: format!("dev-{}", role.as_str()),
        role,
        patronato: None,
        patronato_office: None,
        inps_office: None,
        exp: 0,
        nbf: None,
        iss: None,
        aud: None,
    };
    let mut hours = 12i64;
    for arg in args {
        let (key, value) = arg
            .split_once('=')
            .with_context(|| format!("`{arg}` is not claim=value"))?;
        let value = value.to_owned();
        match key {
            "sub" => claims.sub = value,
            "patronato" => claims.patronato = Some(value),
            "patronato_office" => claims.patronato_office = Some(value),
            "inps_office" => claims.inps_office = Some(value),
            "hours" => hours = value.parse().context("hours must be a whole number")?,
            other => anyhow::bail!("unknown claim `{other}`"),
        }
    }
    claims.exp = chrono::Utc::now().timestamp() + hours * 3600;
    let path = std::env::var("COMBIPAT_DEV_PRIVATE_KEY")
        .unwrap_or_else(|_| "dev/keys/dev-jwt-private.pem".to_owned());
    let pem =
        std::fs::read(&path).with_context(|| format!("cannot read the development key {path}"))?;
    sign(&claims, &pem)
}
