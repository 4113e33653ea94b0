//! One notice to every channel its audience's preferences ask for, inside the caller's
//! transaction: the inbox row, the e-mails (or the office's digest) and the webhook deliveries,
//! each under a unique key (event, recipient, channel), with their durable jobs. Exactly one of
//! each, whatever redeliveries, replicas and restarts do.

use combipat_platform::clock::Clock;
use combipat_platform::handler::Effects;
use combipat_platform::messaging::HandleError;

use crate::email;
use crate::metrics::{NOTIFICATIONS, count_notification};
use crate::notice::{Audience, Notice};
use crate::preferences::{self, Profile, Scope};
use crate::settings::EmailSettings;
use crate::{inbox, webhooks};

#[derive(Clone)]
pub struct Fanout {
    pub clock: Clock,
    pub email: EmailSettings,
}

impl Fanout {
    pub async fn send(
        &self,
        effects: &mut Effects<'_>,
        notice: &Notice,
    ) -> Result<(), HandleError> {
        self.send_with(effects, notice, None).await
    }

    /// [`Self::send`], and also an e-mail to `extra_address` (an endpoint's contact).
    pub async fn send_with(
        &self,
        effects: &mut Effects<'_>,
        notice: &Notice,
        extra_address: Option<&str>,
    ) -> Result<(), HandleError> {
        let office = preferences::profile(
            effects.db(),
            Scope::Office,
            &notice.audience.preference_subject(),
        )
        .await?;
        let operator = match notice.audience.operator() {
            Some(operator) if !operator.is_empty() => {
                Some(preferences::profile(effects.db(), Scope::Operator, operator).await?)
            }
            _ => None,
        };

        // The inbox: the office may mute a kind for everyone there, never an unmutable one.
        if office.inbox(notice.kind) {
            let created = inbox::insert(effects.db(), notice).await?;
            count_notification("inbox", if created { "created" } else { "duplicate" });
        } else {
            count_notification("inbox", "muted");
        }

        // E-mail: the operator's own address, and the office's (or its digest).
        let mut addresses: Vec<String> = Vec::new();
        if let Some(operator) = &operator {
            push_email(&mut addresses, operator, notice);
        }
        if office.daily_digest && !notice.kind.unmutable() && office.email(notice.kind) {
            if let Audience::PatronatoOffice { office: code, .. }
            | Audience::InpsOffice(code)
            | Audience::InpsResponsabile(code) = &notice.audience
            {
                email::digest::schedule(
                    effects.db(),
                    notice.audience.patronato().unwrap_or_default(),
                    code,
                    &office.email,
                    &self.clock,
                    &self.email,
                )
                .await?;
                count_notification("email", "digest");
            }
        } else {
            push_email(&mut addresses, &office, notice);
        }
        if let Some(extra) = extra_address.filter(|address| !address.is_empty())
            && !addresses
                .iter()
                .any(|known| known.eq_ignore_ascii_case(extra))
        {
            addresses.push(extra.to_owned());
        }
        for address in &addresses {
            let outcome =
                email::queue::notice(effects.db(), notice, address, &self.clock, &self.email)
                    .await?;
            count_notification("email", outcome);
        }

        // The patronato's own systems.
        if let (Some(data), Some(patronato)) = (&notice.webhook_data, notice.audience.patronato()) {
            let queued = webhooks::queue::for_notice(
                effects.db(),
                notice,
                patronato,
                data,
                &self.email.request_url_base,
                self.clock.now(),
            )
            .await?;
            metrics::counter!(NOTIFICATIONS, "channel" => "webhook", "outcome" => "queued")
                .increment(u64::try_from(queued).unwrap_or_default());
        }
        Ok(())
    }
}

fn push_email(addresses: &mut Vec<String>, profile: &Profile, notice: &Notice) {
    if profile.email.is_empty() || !profile.email(notice.kind) {
        return;
    }
    if !addresses
        .iter()
        .any(|known| known.eq_ignore_ascii_case(&profile.email))
    {
        addresses.push(profile.email.clone());
    }
}
