//! Avvisi rules against the real servers: a correction keeps both versions, linked and both
//! readable; the read counts add up over several offices of two patronati; only the
//! publisher's scope publishes (and a refusal stores nothing); the Italian text search finds
//! a word in another inflection.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use combipat_platform::auth::Role;
use combipat_proto::notifier::v1::{
    AvvisoPriority, AvvisoStatus, CorrectAvvisoRequest, GetAvvisoRequest, ListAvvisiRequest,
    PublishAvvisoRequest,
};
use combipat_testkit::with_token;
use common::avvisi::*;
use tonic::Code;

const LOMBARDIA: &str = "03";

async fn stored(avvisi: &Avvisi) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM avvisi")
        .fetch_one(&avvisi.harness.db().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_correction_keeps_both_versions_linked_and_readable() {
    let mut avvisi = start().await;
    avvisi
        .learn(&[("INCA", "INCA-MI-01", sede("MI", LOMBARDIA))])
        .await;
    let milano = operator_at("INCA", "INCA-MI-01", "mario.rossi");
    let direzione = inps(Role::Responsabile, "DR-LOMBARDIA");
    let first = avvisi
        .publish(
            &direzione,
            draft(
                "Sportelli chiusi il 15 dicembre",
                "Le sedi della Lombardia restano chiuse il 15 dicembre.",
                region(LOMBARDIA),
            ),
        )
        .await;
    let second = avvisi
        .client
        .correct_avviso(
            with_token(
                CorrectAvvisoRequest {
                    avviso_id: first.id.clone(),
                    title: "Sportelli chiusi il 16 dicembre".into(),
                    text: "Le sedi della Lombardia restano chiuse il 16 dicembre, non il 15."
                        .into(),
                    correction_note: "la data era sbagliata".into(),
                    priority: AvvisoPriority::Importante as i32,
                    ..Default::default()
                },
                &direzione,
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.version, 2);
    assert_eq!(second.series_id, first.series_id);
    assert_eq!(second.supersedes_id, first.id);
    assert_eq!(second.correction_note, "la data era sbagliata");
    assert_eq!(second.priority, AvvisoPriority::Importante as i32);
    assert_eq!(second.topic, first.topic, "a correction keeps the topic");

    // The list shows the current version only; both versions open, linked both ways.
    let listed = avvisi.list(&milano, ListAvvisiRequest::default()).await;
    assert_eq!(
        listed.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
        vec![second.id.clone()]
    );
    let get = |id: &str| GetAvvisoRequest {
        avviso_id: id.into(),
    };
    let old = avvisi
        .client
        .get_avviso(with_token(get(&first.id), &milano).unwrap())
        .await
        .unwrap()
        .into_inner();
    let old_version = old.avviso.clone().unwrap();
    assert_eq!(old_version.title, "Sportelli chiusi il 15 dicembre");
    assert_eq!(old_version.status, AvvisoStatus::Superseded as i32);
    assert_eq!(old_version.superseded_by_id, second.id);
    let new = avvisi
        .client
        .get_avviso(with_token(get(&second.id), &milano).unwrap())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        new.avviso.clone().unwrap().status,
        AvvisoStatus::Published as i32
    );
    for detail in [&old, &new] {
        let versions: Vec<(u32, String, i32)> = detail
            .versions
            .iter()
            .map(|v| (v.version, v.id.clone(), v.status))
            .collect();
        assert_eq!(
            versions,
            vec![
                (1, first.id.clone(), AvvisoStatus::Superseded as i32),
                (2, second.id.clone(), AvvisoStatus::Published as i32),
            ]
        );
    }
    assert_eq!(stored(&avvisi).await, 2, "both versions are kept");

    // The old version is corrected already; only its publisher corrects.
    let again = |id: &str| CorrectAvvisoRequest {
        avviso_id: id.into(),
        title: "Ancora".into(),
        text: "Ancora.".into(),
        correction_note: "ancora".into(),
        priority: AvvisoPriority::Informativo as i32,
        ..Default::default()
    };
    let refused = avvisi
        .client
        .correct_avviso(with_token(again(&first.id), &direzione).unwrap())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    let refused = avvisi
        .client
        .correct_avviso(
            with_token(again(&second.id), &inps(Role::Responsabile, "SEDE-MI")).unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(stored(&avvisi).await, 2);
}

#[tokio::test]
async fn the_read_counts_add_up_per_patronato() {
    let mut avvisi = start().await;
    avvisi
        .learn(&[
            ("INCA", "INCA-MI-01", sede("MI", LOMBARDIA)),
            ("INCA", "INCA-MI-02", sede("MI", LOMBARDIA)),
            ("INCA", "INCA-BG-01", sede("BG", LOMBARDIA)),
            ("ACLI", "ACLI-MI-01", sede("MI", LOMBARDIA)),
            ("ACLI", "ACLI-BS-01", sede("BS", LOMBARDIA)),
            ("ACLI", "ACLI-RM-01", sede("RM", "12")),
        ])
        .await;
    let direzione = inps(Role::Responsabile, "DR-LOMBARDIA");
    let avviso = avvisi
        .publish(
            &direzione,
            draft(
                "Nuova procedura per l'assegno di inclusione",
                "Le domande si presentano con il nuovo modulo.",
                region(LOMBARDIA),
            ),
        )
        .await;
    avvisi.delivered(&avviso.id).await;

    // INCA: two of its three offices read (one twice, by two people; one person twice);
    // ACLI: one of its two.
    for (patronato, office, name) in [
        ("INCA", "INCA-MI-01", "mario.rossi"),
        ("INCA", "INCA-MI-01", "lucia.gialli"),
        ("INCA", "INCA-BG-01", "anna.verdi"),
        ("ACLI", "ACLI-BS-01", "paolo.neri"),
    ] {
        assert!(
            avvisi
                .mark_read(&operator_at(patronato, office, name), &avviso.id)
                .await
        );
    }
    let twice = operator_at("INCA", "INCA-BG-01", "anna.verdi");
    assert!(!avvisi.mark_read(&twice, &avviso.id).await);

    let counts = avvisi.read_counts(&direzione, &avviso.id).await;
    let by: Vec<(String, u32, u32, u32)> = counts
        .patronati
        .iter()
        .map(|c| {
            (
                c.patronato.clone(),
                c.offices_reached,
                c.offices_read,
                c.readers,
            )
        })
        .collect();
    assert_eq!(
        by,
        vec![("ACLI".to_owned(), 2, 1, 1), ("INCA".to_owned(), 3, 2, 3)],
        "ACLI-RM-01 is outside the region"
    );
    assert_eq!(
        (counts.offices_reached, counts.offices_read, counts.readers),
        (5, 3, 4)
    );
}

#[tokio::test]
async fn only_the_publishers_scope_publishes_and_a_refusal_stores_nothing() {
    let mut avvisi = start().await;
    let attempt = |audience| draft("Fuori ambito", "Non deve essere pubblicato.", audience);
    let refusals = [
        (
            "a sede outside its province",
            inps(Role::Responsabile, "SEDE-MI"),
            attempt(provinces(&["BG"])),
        ),
        (
            "a sede to its whole region",
            inps(Role::Responsabile, "SEDE-MI"),
            attempt(region(LOMBARDIA)),
        ),
        (
            "a direzione regionale outside its region",
            inps(Role::Responsabile, "DR-LOMBARDIA"),
            attempt(region("12")),
        ),
        (
            "a direzione regionale to a province of another region",
            inps(Role::Responsabile, "DR-LOMBARDIA"),
            attempt(provinces(&["MI", "TO"])),
        ),
        (
            "a direzione regionale to the nation",
            inps(Role::Responsabile, "DR-LOMBARDIA"),
            attempt(nation()),
        ),
        (
            "a funzionario of the direzione",
            inps(Role::Funzionario, "DR-LOMBARDIA"),
            attempt(region(LOMBARDIA)),
        ),
        (
            "a patronato operator",
            operator_at("INCA", "INCA-MI-01", "mario.rossi"),
            attempt(provinces(&["MI"])),
        ),
    ];
    for (who, caller, call) in refusals {
        let refused = avvisi
            .client
            .publish_avviso(with_token(call, &caller).unwrap())
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{who}: {refused:?}");
    }
    assert_eq!(stored(&avvisi).await, 0, "nothing stored");

    // Within their scope they publish.
    for (caller, audience) in [
        (inps(Role::Responsabile, "SEDE-MI"), provinces(&["MI"])),
        (
            inps(Role::Responsabile, "DR-LOMBARDIA"),
            provinces(&["MI", "BG"]),
        ),
        (admin(), region("12")),
    ] {
        avvisi
            .publish(
                &caller,
                draft("Nel proprio ambito", "Pubblicato.", audience),
            )
            .await;
    }
    assert_eq!(stored(&avvisi).await, 3);
}

#[tokio::test]
async fn the_search_finds_an_italian_word_in_another_inflection() {
    let mut avvisi = start().await;
    avvisi
        .learn(&[("INCA", "INCA-MI-01", sede("MI", LOMBARDIA))])
        .await;
    let milano = operator_at("INCA", "INCA-MI-01", "mario.rossi");
    let pensioni = avvisi
        .publish(
            &admin(),
            draft(
                "Rivalutazione delle pensioni",
                "Gli importi delle pensioni crescono dal primo gennaio.",
                nation(),
            ),
        )
        .await;
    avvisi
        .publish(
            &admin(),
            PublishAvvisoRequest {
                topic: "naspi_dis_coll".into(),
                ..draft(
                    "Indennità di disoccupazione",
                    "Cambiano i termini della domanda.",
                    nation(),
                )
            },
        )
        .await;
    let search = |query: &str| ListAvvisiRequest {
        query: query.into(),
        ..Default::default()
    };
    for query in ["pensione", "Pensione", "importo", "cresce"] {
        let found: Vec<String> = avvisi
            .list(&milano, search(query))
            .await
            .into_iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(found, vec![pensioni.id.clone()], "{query}");
    }
    assert!(
        avvisi
            .list(&milano, search("ricongiunzione"))
            .await
            .is_empty()
    );
    let both = avvisi.list(&milano, ListAvvisiRequest::default()).await;
    assert_eq!(both.len(), 2);
}
