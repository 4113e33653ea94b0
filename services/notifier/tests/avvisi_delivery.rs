//! Avvisi delivered: a regional one reaches the offices of that region and no other (inbox,
//! webhook, the list), a provincial one its province; the read counts add up; a scheduled one
//! appears at its time on the moved clock (and a withdrawn one never goes); an importante one
//! ignores the mutes that keep an informativo one quiet.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use combipat_platform::auth::Role;
use combipat_proto::notifier::v1::{
    AvvisoPriority, AvvisoStatus, ChannelPreference, ListAvvisiRequest, ListNotificationsRequest,
    MarkAvvisoReadRequest, Notification, PreferenceScope, PublishAvvisoRequest, ReadCountsRequest,
    SetPreferencesRequest, WithdrawAvvisoRequest,
};
use combipat_testkit::{eventually, with_token};
use common::avvisi::*;
use common::{WAIT, supervisore};
use tonic::Code;
use tonic_types::StatusExt as _;

const LOMBARDIA: &str = "03";

fn avviso_notices(notices: Vec<Notification>) -> Vec<Notification> {
    notices
        .into_iter()
        .filter(|notice| notice.event_type.starts_with("avviso."))
        .collect()
}

async fn notices_of(avvisi: &mut Avvisi, caller: &str) -> Vec<Notification> {
    avviso_notices(avvisi.harness.notices(caller).await)
}

#[tokio::test]
async fn an_avviso_for_one_region_reaches_the_operators_of_that_region_and_no_other() {
    let mut avvisi = start().await;
    avvisi
        .learn(&[
            ("INCA", "INCA-MI-01", sede("MI", LOMBARDIA)),
            ("ACLI", "ACLI-BG-01", sede("BG", LOMBARDIA)),
            ("INCA", "INCA-RM-01", sede("RM", "12")),
        ])
        .await;
    assert_eq!(avvisi.import(&[("INCA", "INCA-TO-01", "TO")]).await, 1);
    avvisi.harness.register(&[]).await;

    let milano = operator_at("INCA", "INCA-MI-01", "mario.rossi");
    let colleague = operator_at("INCA", "INCA-MI-01", "lucia.gialli");
    let bergamo = operator_at("ACLI", "ACLI-BG-01", "anna.verdi");
    let torino = operator_at("INCA", "INCA-TO-01", "paolo.neri");
    let roma = operator_at("INCA", "INCA-RM-01", "sara.blu");
    let direzione = inps(Role::Responsabile, "DR-LOMBARDIA");

    let regional = avvisi
        .publish(
            &direzione,
            draft(
                "Nuove regole per le domande di pensione in Lombardia",
                "Dal prossimo mese le domande si presentano con il modulo aggiornato.",
                region(LOMBARDIA),
            ),
        )
        .await;
    assert_eq!(regional.publisher_office, "DR-LOMBARDIA");
    assert_eq!(regional.publisher_name, "Direzione regionale Lombardia");
    avvisi.delivered(&regional.id).await;

    // The inbox: each office of the region once, none elsewhere.
    for (caller, expected) in [
        (&milano, 1),
        (&colleague, 1),
        (&bergamo, 1),
        (&torino, 0),
        (&roma, 0),
    ] {
        let notices = notices_of(&mut avvisi, caller).await;
        assert_eq!(notices.len(), expected, "{notices:?}");
        for notice in notices {
            assert_eq!(notice.event_type, "avviso.informativo");
            assert_eq!(notice.avviso_id, regional.id);
            assert!(
                notice.title.starts_with("Avviso INPS: Nuove regole"),
                "{}",
                notice.title
            );
        }
    }
    // The list: the region's operators, the patronati's supervisori, the publisher.
    let title = regional.title.clone();
    for caller in [
        &milano,
        &bergamo,
        &supervisore("INCA"),
        &supervisore("EPACA"),
        &inps(Role::Funzionario, "DR-LOMBARDIA"),
    ] {
        assert_eq!(avvisi.titles(caller).await, vec![title.clone()]);
    }
    for caller in [&torino, &roma, &inps(Role::Responsabile, "SEDE-MI")] {
        assert!(avvisi.titles(caller).await.is_empty());
    }
    assert!(!avvisi.list(&milano, ListAvvisiRequest::default()).await[0].read);

    // INCA's system, once (ACLI registered no endpoint), signed.
    let hooks = avvisi.harness.wait_for_hooks(1).await;
    assert_eq!(hooks.len(), 1);
    assert!(!hooks[0].verified_by.is_empty());
    let body: serde_json::Value = serde_json::from_str(&hooks[0].body).unwrap();
    assert_eq!(body["type"], "avviso.informativo");
    assert_eq!(body["data"]["avviso_id"], regional.id);
    assert_eq!(body["data"]["action"], "published");
    assert_eq!(body["data"]["audience"]["region_code"], LOMBARDIA);
    assert!(
        body["data"]["link"]
            .as_str()
            .unwrap()
            .ends_with(&regional.id)
    );

    // A sede's avviso reaches its province only.
    let provincial = avvisi
        .publish(
            &inps(Role::Responsabile, "SEDE-MI"),
            draft(
                "Chiusura straordinaria della sede di Milano",
                "Venerdì la sede resta chiusa per lavori.",
                provinces(&["MI"]),
            ),
        )
        .await;
    avvisi.delivered(&provincial.id).await;
    assert_eq!(notices_of(&mut avvisi, &milano).await.len(), 2);
    assert_eq!(notices_of(&mut avvisi, &bergamo).await.len(), 1);
    assert_eq!(avvisi.titles(&bergamo).await, vec![title.clone()]);

    // Reading: each reader once; the counts per patronato add up to the totals.
    assert!(avvisi.mark_read(&milano, &regional.id).await);
    assert!(!avvisi.mark_read(&milano, &regional.id).await);
    assert!(avvisi.mark_read(&colleague, &regional.id).await);
    assert!(avvisi.mark_read(&bergamo, &regional.id).await);
    assert!(avvisi.mark_read(&supervisore("INCA"), &regional.id).await);
    let refused = avvisi
        .client
        .mark_avviso_read(
            with_token(
                MarkAvvisoReadRequest {
                    avviso_id: regional.id.clone(),
                },
                &torino,
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound, "outside its audience");
    let listed = avvisi.list(&milano, ListAvvisiRequest::default()).await;
    assert!(
        listed
            .iter()
            .find(|avviso| avviso.id == regional.id)
            .unwrap()
            .read
    );
    let unread = avvisi
        .list(
            &operator_at("INCA", "INCA-MI-01", "terzo.operatore"),
            ListAvvisiRequest {
                unread_only: true,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(unread.len(), 2, "a third operator has read neither");

    let counts = avvisi
        .read_counts(&inps(Role::Funzionario, "DR-LOMBARDIA"), &regional.id)
        .await;
    let by: Vec<(String, u32, u32, u32)> = counts
        .patronati
        .iter()
        .map(|count| {
            (
                count.patronato.clone(),
                count.offices_reached,
                count.offices_read,
                count.readers,
            )
        })
        .collect();
    assert_eq!(
        by,
        vec![("ACLI".to_owned(), 1, 1, 1), ("INCA".to_owned(), 1, 1, 3)]
    );
    assert_eq!(
        (counts.offices_reached, counts.offices_read, counts.readers),
        (2, 2, 4)
    );
    assert_eq!(
        counts.offices_reached,
        counts
            .patronati
            .iter()
            .map(|p| p.offices_reached)
            .sum::<u32>()
    );
    assert_eq!(
        counts.readers,
        counts.patronati.iter().map(|p| p.readers).sum::<u32>()
    );
    for caller in [
        inps(Role::Responsabile, "SEDE-MI"),
        milano.clone(),
        supervisore("INCA"),
    ] {
        let denied = avvisi
            .client
            .read_counts(
                with_token(
                    ReadCountsRequest {
                        avviso_id: regional.id.clone(),
                    },
                    &caller,
                )
                .unwrap(),
            )
            .await
            .unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied);
    }
}

#[tokio::test]
async fn a_scheduled_avviso_appears_at_its_time_and_a_withdrawn_one_never_goes() {
    let mut avvisi = start().await;
    avvisi
        .learn(&[("INCA", "INCA-MI-01", sede("MI", LOMBARDIA))])
        .await;
    let milano = operator_at("INCA", "INCA-MI-01", "mario.rossi");

    let in_two_hours = later(&avvisi.harness, 120);
    let scheduled = avvisi
        .publish(
            &admin(),
            PublishAvvisoRequest {
                publish_at: Some(in_two_hours),
                ..draft(
                    "Nuovo servizio online per l'assegno unico",
                    "Dalle 8 di domani.",
                    nation(),
                )
            },
        )
        .await;
    assert_eq!(scheduled.status, AvvisoStatus::Scheduled as i32);
    let cancelled = avvisi
        .publish(
            &admin(),
            PublishAvvisoRequest {
                publish_at: Some(later(&avvisi.harness, 60)),
                ..draft("Avviso pubblicato per errore", "Da ritirare.", nation())
            },
        )
        .await;
    let withdrawn = avvisi
        .client
        .withdraw_avviso(
            with_token(
                WithdrawAvvisoRequest {
                    avviso_id: cancelled.id.clone(),
                    reason: "pubblicato per errore".into(),
                },
                &admin(),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(withdrawn.status, AvvisoStatus::Withdrawn as i32);

    // Before its time: the patronati see nothing, the publisher sees it scheduled.
    assert!(avvisi.titles(&milano).await.is_empty());
    let own = avvisi.list(&admin(), ListAvvisiRequest::default()).await;
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].status, AvvisoStatus::Scheduled as i32);
    assert!(notices_of(&mut avvisi, &milano).await.is_empty());

    // At its time (the clock moved, nobody sleeping): in the list at once, in the inbox when
    // the durable job fires.
    avvisi.harness.clock.advance(chrono::Duration::minutes(121));
    let listed = avvisi.list(&milano, ListAvvisiRequest::default()).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, scheduled.id);
    assert_eq!(listed[0].status, AvvisoStatus::Published as i32);
    let delivered = avvisi.delivered(&scheduled.id).await;
    assert!(delivered.delivered_at.is_some());
    let notices = eventually(WAIT, || {
        let mut harness_inbox = avvisi.harness.inbox.clone();
        let milano = milano.clone();
        async move {
            let notices = harness_inbox
                .list_notifications(with_token(
                    ListNotificationsRequest {
                        page_size: 100,
                        ..Default::default()
                    },
                    &milano,
                )?)
                .await?
                .into_inner()
                .notifications;
            let notices = avviso_notices(notices);
            Ok((!notices.is_empty()).then_some(notices))
        }
    })
    .await
    .unwrap();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].avviso_id, scheduled.id);

    // The withdrawn one: no job left, never delivered, its record kept.
    let pool = avvisi.harness.db().await;
    let jobs: i64 =
        sqlx::query_scalar("SELECT count(*) FROM platform_jobs WHERE kind = 'avviso.deliver'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(jobs, 0);
    let kept = avvisi
        .list(
            &admin(),
            ListAvvisiRequest {
                include_withdrawn: true,
                ..Default::default()
            },
        )
        .await;
    let kept = kept
        .iter()
        .find(|avviso| avviso.id == cancelled.id)
        .unwrap();
    assert_eq!(kept.status, AvvisoStatus::Withdrawn as i32);
    assert_eq!(kept.withdrawn_reason, "pubblicato per errore");
    assert!(kept.delivered_at.is_none());
}

#[tokio::test]
async fn an_importante_avviso_ignores_a_mute() {
    let mut avvisi = start().await;
    avvisi
        .learn(&[("INCA", "INCA-MI-01", sede("MI", LOMBARDIA))])
        .await;
    let milano = operator_at("INCA", "INCA-MI-01", "mario.rossi");
    let mute = |kind: &str| ChannelPreference {
        event_type: kind.into(),
        inbox: false,
        email: false,
    };
    let set = |scope: PreferenceScope, email: &str, channels: Vec<ChannelPreference>| {
        SetPreferencesRequest {
            scope: scope as i32,
            office_code: String::new(),
            email: email.into(),
            daily_digest: false,
            channels,
        }
    };
    // The office mutes the informativi in the inbox and by e-mail; the operator too.
    avvisi
        .harness
        .inbox
        .set_preferences(
            with_token(
                set(
                    PreferenceScope::Office,
                    "milano@inca.example",
                    vec![mute("avviso.informativo")],
                ),
                &milano,
            )
            .unwrap(),
        )
        .await
        .unwrap();
    avvisi
        .harness
        .inbox
        .set_preferences(
            with_token(
                set(
                    PreferenceScope::Operator,
                    "",
                    vec![mute("avviso.informativo")],
                ),
                &milano,
            )
            .unwrap(),
        )
        .await
        .unwrap();
    // Neither may mute an importante.
    for scope in [PreferenceScope::Office, PreferenceScope::Operator] {
        let email = if scope == PreferenceScope::Office {
            "milano@inca.example"
        } else {
            ""
        };
        let refused = avvisi
            .harness
            .inbox
            .set_preferences(
                with_token(
                    set(
                        scope,
                        email,
                        vec![mute("avviso.informativo"), mute("avviso.importante")],
                    ),
                    &milano,
                )
                .unwrap(),
            )
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument);
        let fields: Vec<String> = refused
            .get_details_bad_request()
            .unwrap()
            .field_violations
            .into_iter()
            .map(|violation| violation.field)
            .collect();
        assert_eq!(fields, vec!["channels[1]"]);
    }

    let quiet = avvisi
        .publish(
            &admin(),
            draft(
                "Aggiornamento delle guide",
                "Le guide sono aggiornate.",
                nation(),
            ),
        )
        .await;
    let loud = avvisi
        .publish(
            &admin(),
            PublishAvvisoRequest {
                priority: AvvisoPriority::Importante as i32,
                topic: "naspi_dis_coll".into(),
                ..draft(
                    "Pagamenti NASpI sospesi",
                    "I pagamenti di oggi slittano di un giorno.",
                    nation(),
                )
            },
        )
        .await;
    avvisi.delivered(&quiet.id).await;
    avvisi.delivered(&loud.id).await;

    // The inbox: only the importante; the e-mail: only the importante, to the office.
    let notices = notices_of(&mut avvisi, &milano).await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].event_type, "avviso.importante");
    assert_eq!(
        notices[0].title,
        "Avviso importante: Pagamenti NASpI sospesi"
    );
    let mail = avvisi.harness.wait_for_mail(1).await;
    assert_eq!(mail[0].to, vec!["milano@inca.example"]);
    let message = common::readable(&mail[0].data);
    assert!(
        message.contains("Avviso importante: Pagamenti NASpI sospesi"),
        "{message}"
    );
    assert!(
        message.contains(&format!("/avvisi/{}", loud.id)),
        "the link to the avviso"
    );
    let pool = avvisi.harness.db().await;
    let emails: i64 = sqlx::query_scalar("SELECT count(*) FROM emails")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(emails, 1, "the informativo went by no e-mail");
    // Muting keeps notices away, never the avvisi: both are in the list.
    assert_eq!(avvisi.titles(&milano).await.len(), 2);
}
