//! The unsubscribe link every e-mail carries (`List-Unsubscribe`): a POST with
//! `List-Unsubscribe=One-Click` (RFC 8058, what mail clients send) or the button of the page a
//! person opens with GET puts the address on the suppression list. The link's token stands
//! for the address; no bearer token is asked.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use combipat_platform::clock::Clock;
use maud::html;
use sqlx::PgPool;

use crate::email::suppression::{self, Reason};

#[derive(Clone)]
struct Unsubscribe {
    pool: PgPool,
    clock: Clock,
}

pub fn routes(pool: PgPool, clock: Clock) -> Router {
    Router::new()
        .route("/unsubscribe/{token}", get(page).post(confirm))
        .with_state(Unsubscribe { pool, clock })
}

async fn page(Path(token): Path<String>) -> Response {
    html! {
        (maud::DOCTYPE)
        html lang="it" { head { meta charset="utf-8"; title { "Disiscrizione – COMBIPAT" } }
            body { h1 { "Non ricevere più e-mail da COMBIPAT" }
                form method="post" action={ "/unsubscribe/" (token) } {
                    input type="hidden" name="List-Unsubscribe" value="One-Click";
                    button type="submit" { "Conferma la disiscrizione" } } } }
    }
    .into_response()
}

async fn confirm(State(state): State<Unsubscribe>, Path(token): Path<String>) -> Response {
    let outcome = async {
        let mut connection = state.pool.acquire().await?;
        let Some(address) = suppression::address_of(&mut connection, &token).await? else {
            return Ok::<_, sqlx::Error>(None);
        };
        suppression::record(
            &mut connection,
            &address,
            Reason::Unsubscribe,
            "one-click unsubscribe",
            state.clock.now(),
        )
        .await?;
        Ok(Some(address))
    };
    match outcome.await {
        Ok(Some(_)) => {
            html! { p { "Fatto: non riceverai più e-mail da COMBIPAT a questo indirizzo." } }
                .into_response()
        }
        Ok(None) => (StatusCode::NOT_FOUND, "link di disiscrizione sconosciuto").into_response(),
        Err(error) => {
            tracing::error!(error = %error, "cannot record an unsubscription");
            (StatusCode::SERVICE_UNAVAILABLE, "riprova tra poco").into_response()
        }
    }
}
