//! Prints the broker users' permissions, derived from the messaging catalogue: one user per
//! service (consume its own queues, publish its own routing keys, configure nothing) and one
//! for the `topology` step.
//!
//! Usage:
//!   combipat-broker-users rabbitmqctl [VHOST]   `rabbitmqctl` command lines (default vhost /)
//!   combipat-broker-users k8s [VHOST]           the RabbitMQ messaging topology operator's
//!                                               User, Permission and TopicPermission objects
//!                                               (k8s/rabbitmq/users.yaml is this output)
//! The exchange and queue prefix are the platform's settings (COMBIPAT__AMQP__EXCHANGE,
//! COMBIPAT__AMQP__QUEUE_PREFIX override them). Users are created by the deployment, each
//! with a password of its secrets (`rabbitmqctl add_user`, or the User's credentials Secret).

use std::process::ExitCode;

use anyhow::Context as _;
use combipat_platform::messaging::Broker;
use combipat_platform::messaging::catalogue::PUBLISHED;
use combipat_platform::messaging::permissions::{UserPermissions, of_service, of_topology};

fn main() -> ExitCode {
    match run() {
        Ok(text) => {
            #[allow(
                clippy::print_stdout,
                reason = "the permissions are this program's output"
            )]
            {
                print!("{text}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            #[allow(clippy::print_stderr, reason = "a command-line tool's error")]
            {
                eprintln!("combipat-broker-users: {error:#}");
                eprintln!("usage: combipat-broker-users rabbitmqctl|k8s [VHOST]");
            }
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<String> {
    let mut args = std::env::args().skip(1);
    let format = args.next().context("missing the format")?;
    let vhost = args.next().unwrap_or_else(|| "/".to_owned());
    let settings = combipat_platform::settings::platform_section("amqp", &[])?;
    let broker = Broker::new("broker-users", settings);
    let mut users: Vec<UserPermissions> = PUBLISHED
        .iter()
        .map(|(service, _)| of_service(&broker, service))
        .collect();
    users.push(of_topology(&broker));
    match format.as_str() {
        "rabbitmqctl" => Ok(rabbitmqctl(&users, &vhost)),
        "k8s" => Ok(combipat_platform::messaging::permissions::k8s(
            &users, &vhost,
        )),
        other => anyhow::bail!("unknown format `{other}` (rabbitmqctl or k8s)"),
    }
}

fn rabbitmqctl(users: &[UserPermissions], vhost: &str) -> String {
    let mut text = String::new();
    for user in users {
        for command in user.rabbitmqctl(vhost) {
            let quoted: Vec<String> = command.iter().map(|arg| format!("'{arg}'")).collect();
            text.push_str(&format!("rabbitmqctl {}\n", quoted.join(" ")));
        }
    }
    text
}
