//! The command line every service binary shares: `serve` (the default), `migrate`, and
//! `admin ...` for the service's own administration commands.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::{ServiceDefinition, load_settings, start};
use crate::settings::Settings;

#[derive(Debug, Parser)]
#[command(
    about = "A COMBIPAT service. Settings: defaults, then COMBIPAT_CONFIG_FILE, then COMBIPAT__SECTION__FIELD variables."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service until SIGTERM or SIGINT (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Declare the whole messaging topology (every service's queues, bindings, retry and
    /// dead-letter queues, the history stream) and exit: the deployment step that runs
    /// before any service, so no event is published before its queues exist.
    Topology,
    /// Move dead-lettered events back to their queue once the cause is fixed, e.g.
    /// `replay-dead-letters router.requests`.
    ReplayDeadLetters {
        /// The consuming queue, without the configured prefix.
        queue: String,
        /// Move at most this many.
        #[arg(long, default_value_t = u64::MAX)]
        limit: u64,
    },
    /// The service's own administration commands (e.g. router: `admin directory load FILE`).
    Admin {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// The whole of a service's `main`.
pub fn main<S: ServiceDefinition>() -> ExitCode {
    let cli = Cli::parse();
    let settings: Settings<S::Own> = match load_settings::<S>(&[]) {
        Ok(settings) => settings,
        Err(error) => {
            #[allow(
                clippy::print_stderr,
                reason = "logging needs the settings we failed to read"
            )]
            {
                eprintln!("{}: {error:#}", S::NAME);
            }
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            #[allow(clippy::print_stderr, reason = "no runtime, no logger")]
            {
                eprintln!("{}: cannot start the async runtime: {error}", S::NAME);
            }
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let _telemetry = match crate::telemetry::init(S::NAME, &settings.platform.telemetry) {
            Ok(guard) => guard,
            Err(error) => {
                #[allow(clippy::print_stderr, reason = "the logger itself failed")]
                {
                    eprintln!("{}: {error:#}", S::NAME);
                }
                return ExitCode::FAILURE;
            }
        };
        let outcome = match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve::<S>(settings).await,
            Command::Migrate => migrate::<S>(&settings).await,
            Command::Topology => topology::<S>(&settings).await,
            Command::ReplayDeadLetters { queue, limit } => {
                let broker = crate::messaging::Broker::new(S::NAME, settings.platform.amqp.clone());
                crate::messaging::replay_dead_letters(&broker, &queue, limit)
                    .await
                    .map(|moved| tracing::info!(moved, queue = %queue, "dead letters replayed"))
            }
            Command::Admin { args } => S::admin(settings.service, settings.platform, args).await,
        };
        match outcome {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "{} failed", S::NAME);
                ExitCode::FAILURE
            }
        }
    })
}

async fn serve<S: ServiceDefinition>(settings: Settings<S::Own>) -> anyhow::Result<()> {
    let service = start::<S>(settings).await?;
    let stop = service.stop_token();
    tokio::spawn(async move {
        crate::shutdown::signal().await;
        stop.cancel();
    });
    service.run_until_stopped().await
}

async fn topology<S: ServiceDefinition>(settings: &Settings<S::Own>) -> anyhow::Result<()> {
    // This step creates what the services may only check (`amqp.declare_topology` off),
    // connected as a user with the configure right.
    let mut amqp = settings.platform.amqp.clone();
    amqp.declare_topology = true;
    let broker = crate::messaging::Broker::new(S::NAME, amqp);
    let connection = broker.connect("topology").await?;
    let channel = connection.create_channel().await?;
    crate::messaging::declare_all(&channel, &broker).await?;
    connection.close(200, "declared".into()).await?;
    tracing::info!(
        queues = crate::messaging::catalogue::CATALOGUE.len(),
        "topology declared"
    );
    Ok(())
}

async fn migrate<S: ServiceDefinition>(settings: &Settings<S::Own>) -> anyhow::Result<()> {
    let pool = crate::db::connect(&settings.platform.database).await?;
    crate::db::migrate(&pool, S::migrations()).await?;
    tracing::info!("migrations applied");
    Ok(())
}
