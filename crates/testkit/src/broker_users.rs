//! A RabbitMQ virtual host of a test's own with one user per service, each holding exactly the
//! permissions `messaging::permissions` derives from the catalogue (and guest every right, as
//! the topology step's user). Users and the vhost are deleted when the tenant goes.

use std::process::Command;

use anyhow::Context as _;
use combipat_platform::messaging::permissions::UserPermissions;

/// Every user's password: the users live only as long as the test.
pub const PASSWORD: &str = "test-secret";

fn rabbitmqctl(args: &[String]) -> anyhow::Result<()> {
    let done = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .context("cannot run rabbitmqctl (scripts/ensure-servers.sh installs RabbitMQ)")?;
    anyhow::ensure!(
        done.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&done.stderr)
    );
    Ok(())
}

pub struct BrokerTenant {
    pub vhost: String,
    /// The users added, by their names here (unique to the test).
    pub users: Vec<String>,
}

impl BrokerTenant {
    /// Creates the vhost, where guest has every right (the topology step's user here).
    pub fn create() -> anyhow::Result<Self> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let vhost = format!("combipat-users-{id}");
        rabbitmqctl(&["add_vhost".into(), vhost.clone()])?;
        let tenant = Self {
            vhost,
            users: Vec::new(),
        };
        let guest = [
            "set_permissions",
            "-p",
            &tenant.vhost,
            "guest",
            ".*",
            ".*",
            ".*",
        ];
        rabbitmqctl(&guest.map(str::to_owned))?;
        Ok(tenant)
    }

    /// Adds the users of `permissions`, each renamed `<user>-<vhost>` (users are not per
    /// vhost), and returns their names in order.
    pub fn add_users(&mut self, permissions: &[UserPermissions]) -> anyhow::Result<Vec<String>> {
        let names: Vec<String> = permissions
            .iter()
            .map(|user| format!("{}-{}", user.user, self.vhost))
            .collect();
        self.users.extend(names.iter().cloned());
        let vhost = self.vhost.as_str();
        // One thread per user: each rabbitmqctl call starts a VM and takes most of a second.
        std::thread::scope(|scope| {
            let created: Vec<_> = permissions
                .iter()
                .zip(&names)
                .map(|(permissions, name)| {
                    scope.spawn(move || -> anyhow::Result<()> {
                        rabbitmqctl(&["add_user".into(), name.clone(), PASSWORD.into()])?;
                        let mut renamed = permissions.clone();
                        renamed.user.clone_from(name);
                        for command in renamed.rabbitmqctl(vhost) {
                            rabbitmqctl(&command)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            created.into_iter().try_for_each(|thread| {
                thread
                    .join()
                    .map_err(|_| anyhow::anyhow!("a rabbitmqctl thread panicked"))?
            })
        })?;
        Ok(names)
    }

    /// The AMQP URL of `user` (a name of [`Self::users`], or guest) on the tenant's vhost.
    pub fn url(&self, user: &str) -> String {
        let password = if user == "guest" { "guest" } else { PASSWORD };
        format!("amqp://{user}:{password}@127.0.0.1:5672/{}", self.vhost)
    }
}

impl Drop for BrokerTenant {
    fn drop(&mut self) {
        for user in &self.users {
            let _deleted = Command::new("rabbitmqctl")
                .args(["delete_user", user])
                .output();
        }
        let _deleted = Command::new("rabbitmqctl")
            .args(["delete_vhost", &self.vhost])
            .output();
    }
}
