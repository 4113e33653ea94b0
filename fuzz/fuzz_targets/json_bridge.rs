//! The JSON bridge (`combipat_platform::json_api`): an HTTP call turned into the protobuf
//! request of a gRPC method, through the public `JsonApi` routes exactly as intake mounts
//! them (descriptors from `combipat_proto::FILE_DESCRIPTOR_SET`, the token check, the body,
//! query and path), with handlers that keep what they receive instead of serving it.
//!
//! Input: a first line `METHOD /path?query`, then the body. Operations: intake's
//! SubmitRequest (`POST /v1/requests`), ListRequests (`GET /v1/requests`), RateAnswer
//! (`POST /v1/requests/{request_id}/ratings`) and the registry's PutMandates
//! (`POST /v1/mandates`), which has repeated messages and timestamps.
//!
//! Properties: no call is answered with a server error; a refusal by the bridge is
//! `application/problem+json` with the HTTP status in its body; a call answered 200 reached
//! its handler, and the message the handler got, written back as canonical protobuf JSON
//! (proto field names) and sent again as the body alone, reaches the handler as the same
//! message.
#![no_main]

use std::sync::{LazyLock, Mutex};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use combipat_platform::auth::{AuthInterceptor, Authenticator, Claims, Role, sign};
use combipat_platform::json_api::JsonApi;
use combipat_proto::intake::v1::{
    ListRequestsRequest, ListRequestsResponse, PutMandatesRequest, PutMandatesResponse,
    RateAnswerRequest, RateAnswerResponse, SubmitRequestRequest, SubmitRequestResponse,
};
use libfuzzer_sys::fuzz_target;
use prost_reflect::{
    DescriptorPool, DynamicMessage, MessageDescriptor, ReflectMessage as _, SerializeOptions,
};
use tower::ServiceExt as _;

const PUBLIC_KEY: &[u8] = include_bytes!("../../dev/keys/dev-jwt-public.pem");
const PRIVATE_KEY: &[u8] = include_bytes!("../../dev/keys/dev-jwt-private.pem");

/// What the last handler received: its request's full name and the message, encoded.
static RECEIVED: Mutex<Option<(&'static str, Vec<u8>)>> = Mutex::new(None);

struct Bridge {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    authorization: String,
    pool: DescriptorPool,
}

static BRIDGE: LazyLock<Bridge> = LazyLock::new(|| {
    let auth = AuthInterceptor(Authenticator::from_public_pem(PUBLIC_KEY).expect("dev key"));
    let claims = Claims {
        sub: "fuzz".to_owned(),
        role: Role::Operatore,
        patronato: Some("INCA".to_owned()),
        patronato_office: Some("INCA-MI-01".to_owned()),
        inps_office: None,
        exp: chrono::Utc::now().timestamp() + 10 * 365 * 24 * 3600,
        nbf: None,
        iss: None,
        aud: None,
    };
    let token = sign(&claims, PRIVATE_KEY).expect("dev token");
    let descriptors = combipat_proto::FILE_DESCRIPTOR_SET;
    let intake = JsonApi::new(descriptors, "combipat.intake.v1.Intake", auth.clone())
        .and_then(|api| {
            api.header_field("idempotency-key", "idempotency_key")
                .route(
                    Method::POST,
                    "/v1/requests",
                    "SubmitRequest",
                    keep::<SubmitRequestRequest, SubmitRequestResponse>(SUBMIT),
                )?
                .route(
                    Method::GET,
                    "/v1/requests",
                    "ListRequests",
                    keep::<ListRequestsRequest, ListRequestsResponse>(LIST),
                )?
                .route(
                    Method::POST,
                    "/v1/requests/{request_id}/ratings",
                    "RateAnswer",
                    keep::<RateAnswerRequest, RateAnswerResponse>(RATE),
                )
        })
        .expect("the intake routes")
        .into_router("fuzz");
    let mandates = JsonApi::new(descriptors, "combipat.intake.v1.Mandates", auth)
        .and_then(|api| {
            api.route(
                Method::POST,
                "/v1/mandates",
                "PutMandates",
                keep::<PutMandatesRequest, PutMandatesResponse>(MANDATES),
            )
        })
        .expect("the registry routes")
        .into_router_at("fuzz", "/openapi/mandates.json");
    Bridge {
        runtime: tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime"),
        router: intake.merge(mandates),
        authorization: format!("Bearer {token}"),
        pool: DescriptorPool::decode(descriptors).expect("the descriptors"),
    }
});

const SUBMIT: &str = "combipat.intake.v1.SubmitRequestRequest";
const LIST: &str = "combipat.intake.v1.ListRequestsRequest";
const RATE: &str = "combipat.intake.v1.RateAnswerRequest";
const MANDATES: &str = "combipat.intake.v1.PutMandatesRequest";

/// A handler that keeps the request it gets and answers with an empty response.
fn keep<Req, Resp>(
    name: &'static str,
) -> impl Fn(tonic::Request<Req>) -> std::future::Ready<Result<tonic::Response<Resp>, tonic::Status>>
+ Clone
+ Send
+ Sync
+ 'static
where
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Default + Send + 'static,
{
    move |request: tonic::Request<Req>| {
        let message = request.into_inner().encode_to_vec();
        *RECEIVED.lock().expect("not poisoned") = Some((name, message));
        std::future::ready(Ok(tonic::Response::new(Resp::default())))
    }
}

struct Answer {
    status: StatusCode,
    content_type: Option<String>,
    body: Vec<u8>,
    received: Option<(&'static str, Vec<u8>)>,
}

fn call(bridge: &Bridge, method: Method, uri: &str, body: Vec<u8>) -> Option<Answer> {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, &bridge.authorization)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .ok()?;
    *RECEIVED.lock().expect("not poisoned") = None;
    let response = bridge
        .runtime
        .block_on(bridge.router.clone().oneshot(request))
        .expect("the router is infallible");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body = bridge
        .runtime
        .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
        .expect("the response body")
        .to_vec();
    let received = RECEIVED.lock().expect("not poisoned").take();
    Some(Answer {
        status,
        content_type,
        body,
        received,
    })
}

fuzz_target!(|data: &[u8]| {
    let bridge = &*BRIDGE;
    let (line, body) = match data.iter().position(|&b| b == b'\n') {
        Some(end) => (&data[..end], &data[end + 1..]),
        None => (data, &[][..]),
    };
    let Ok(line) = std::str::from_utf8(line) else {
        return;
    };
    let Some((method, uri)) = line.split_once(' ') else {
        return;
    };
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return;
    };
    let Some(answer) = call(bridge, method.clone(), uri, body.to_vec()) else {
        return;
    };
    assert!(
        !answer.status.is_server_error(),
        "{} for {line:?}: {}",
        answer.status,
        String::from_utf8_lossy(&answer.body)
    );
    if answer.status == StatusCode::OK {
        let (name, message) = answer
            .received
            .expect("a call answered 200 reached its handler");
        round_trip(bridge, &method, uri, name, &message);
        return;
    }
    assert!(
        answer.received.is_none(),
        "a refused call reached its handler"
    );
    // Known (fuzz/README.md): a path parameter that percent-decodes to invalid UTF-8
    // (`/v1/requests/%A9/ratings`) is refused by axum's `Path` extractor before the bridge's
    // handler runs, as a plain-text 400 instead of problem+json (and before the token check).
    if answer.status == StatusCode::BAD_REQUEST
        && answer.body.starts_with(b"Invalid URL: Invalid UTF-8")
    {
        return;
    }
    if answer.content_type.as_deref() == Some("application/problem+json") {
        let problem: serde_json::Value =
            serde_json::from_slice(&answer.body).expect("a problem is JSON");
        assert_eq!(
            problem.get("status").and_then(serde_json::Value::as_u64),
            Some(u64::from(answer.status.as_u16())),
            "{problem}"
        );
    } else {
        // Only the router itself answers otherwise: no such route, or not with this method.
        assert!(
            matches!(
                answer.status,
                StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
            ),
            "{} for {line:?} without a problem document: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
    }
});

/// The message a handler got, as canonical JSON in the body alone, gives the same message.
fn round_trip(bridge: &Bridge, method: &Method, uri: &str, name: &str, message: &[u8]) {
    let descriptor: MessageDescriptor = bridge
        .pool
        .get_message_by_name(name)
        .expect("a known request");
    let dynamic = DynamicMessage::decode(descriptor, message).expect("the bridge's own output");
    let json = dynamic
        .serialize_with_options(
            serde_json::value::Serializer,
            &SerializeOptions::new().use_proto_field_name(true),
        )
        .expect("a request the bridge built can be written as JSON");
    let path = uri.split_once('?').map_or(uri, |(path, _query)| path);
    let body = serde_json::to_vec(&json).expect("JSON");
    let again = call(bridge, method.clone(), path, body).expect("the same path parses again");
    assert_eq!(
        again.status,
        StatusCode::OK,
        "{json} refused: {}",
        String::from_utf8_lossy(&again.body)
    );
    let (again_name, again_message) = again.received.expect("reached the handler");
    assert_eq!(again_name, name);
    let again_dynamic = DynamicMessage::decode(dynamic.descriptor(), again_message.as_slice())
        .expect("the bridge's own output");
    assert_eq!(again_dynamic, dynamic, "{json} did not come back the same");
}
