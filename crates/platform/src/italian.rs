//! Refusals in Italian for the callers who ask for them (`Accept-Language: it`, as the pages
//! and most Italian clients send). The API keeps one set of stable codes (the gRPC code, the
//! field paths) and writes its reasons in English, where the code is; this module turns the
//! reasons people read into Italian at the boundary: the gRPC layer [`ItalianLayer`], the
//! JSON bridge, and the pages (which call the API in process) through [`status`].
//!
//! Each rule rewrites one phrase wherever it appears, keeping what it quotes (a code, a date,
//! a number); a phrase no rule knows stays as it was, so a new English reason is never lost,
//! only left untranslated (the test below lists the phrases the services write).

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};

use regex::Regex;
use tonic_types::{ErrorDetails, FieldViolation, StatusExt as _};

/// English phrase (a regular expression) and its Italian, `$name` for what it captured. More
/// specific phrases come before the general ones they contain.
const RULES: &[(&str, &str)] = &[
    // The codice fiscale (crates/domain/src/codice_fiscale.rs).
    (
        r"must be 16 characters \(or 11 digits\), not (?P<n>\d+)",
        "deve avere 16 caratteri (o 11 cifre), non $n",
    ),
    (
        r"character (?P<p>\d+) `(?P<f>[^`]*)` should be a digit",
        "il carattere $p `$f` dovrebbe essere una cifra",
    ),
    (
        r"character (?P<p>\d+) `(?P<f>[^`]*)` should be a letter",
        "il carattere $p `$f` dovrebbe essere una lettera",
    ),
    (
        r"character (?P<p>\d+) `(?P<f>[^`]*)` should be (?P<e>[^;]+)",
        "il carattere $p `$f` non è ammesso in questa posizione ($e)",
    ),
    (
        r"`(?P<m>[^`]*)` is not a month letter \(ABCDEHLMPRST\)",
        "`$m` non è una lettera di mese (ABCDEHLMPRST)",
    ),
    (
        r"day (?P<d>\d+) does not exist in month (?P<m>\d+)",
        "il giorno $d non esiste nel mese $m",
    ),
    (
        r"the check character is `(?P<f>[^`]*)` but should be `(?P<e>[^`]*)`",
        "il carattere di controllo è `$f` ma dovrebbe essere `$e`",
    ),
    // The territory (crates/domain/src/territory.rs).
    (
        r"`(?P<c>[^`]*)` is not a comune or foreign state known to ANPR",
        "`$c` non è un comune né uno stato estero noto all'ANPR",
    ),
    (
        r"the comune (?P<n>.+?) \((?P<c>[A-Z0-9]+)\) ceased on (?P<d>[0-9-]+); use the comune that replaced it",
        "il comune $n ($c) è cessato il $d: indica il comune che lo ha sostituito",
    ),
    (
        r"(?P<n>[^;:]+?) \((?P<c>[A-Z0-9]+)\) cannot be a place of residence",
        "$n ($c) non può essere un luogo di residenza",
    ),
    // Texts (crates/domain/src/text.rs) and bounds.
    (
        r"must be at most (?P<m>\d+) characters, not (?P<n>\d+)",
        "deve avere al massimo $m caratteri, non $n",
    ),
    (
        r"must not contain the control character (?P<c>U\+[0-9A-F]+)",
        "non deve contenere il carattere di controllo $c",
    ),
    (r"must not be empty", "non può essere vuoto"),
    (
        r"must have (?P<a>\d+) to (?P<b>\d+) characters, not (?P<n>\d+)",
        "deve avere da $a a $b caratteri, non $n",
    ),
    (r"at most (?P<n>\d+) characters", "al massimo $n caratteri"),
    (r"must be at most (?P<n>\d+)", "deve essere al massimo $n"),
    (r"must be from 1 to 5", "deve essere un voto da 1 a 5"),
    (
        r"takes at most (?P<n>\d+) different values",
        "accetta al massimo $n valori diversi",
    ),
    // The request's fields (services/intake/src/validation.rs).
    (
        r"choose one of (?P<l>MOTIVO_[A-Z_, ]+)",
        "scegli uno tra $l",
    ),
    (r"holds an unknown motivo", "contiene un motivo sconosciuto"),
    (
        r"is required to chase an application: the protocol number on its receipt",
        "serve per sollecitare una pratica: il numero di protocollo della sua ricevuta",
    ),
    (
        r"must contain the application's number",
        "deve contenere il numero della pratica",
    ),
    (r"is required for (?P<m>[A-Z_]+)", "è obbligatorio per $m"),
    (r"is not used for (?P<m>[A-Z_]+)", "non si usa per $m"),
    (
        r"may hold letters, digits and \. / - only, not `(?P<b>[^`]*)`",
        "può contenere solo lettere, cifre e . / -, non `$b`",
    ),
    (
        r"must be 1 to (?P<n>\d+) visible ASCII characters \(a UUID will do\)",
        "deve avere da 1 a $n caratteri ASCII visibili (va bene un UUID)",
    ),
    (
        r"unknown topic `(?P<t>[^`]*)`; expected one of (?P<l>[^;]+)",
        "argomento `$t` sconosciuto; quelli ammessi sono $l",
    ),
    (
        r"`(?P<b>[^`]*)` is not one of (?P<l>[^;]+)",
        "`$b` non è tra $l",
    ),
    (r"is not a valid time", "non è una data e ora valida"),
    (
        r"must come after valid_from",
        "deve essere successiva a valid_from",
    ),
    (r"must name the patronato", "deve indicare il patronato"),
    (
        r"is not a token this service issued( for this order)?",
        "non è un token emesso da questo servizio",
    ),
    (
        r"is not a request id \(UUID\)",
        "non è l'identificativo di una richiesta (UUID)",
    ),
    // Files (crates/platform/src/files.rs).
    (
        r"at most (?P<n>\d+) files per message, not (?P<m>\d+)",
        "al massimo $n file per messaggio, non $m",
    ),
    (
        r"names the same file twice",
        "indica due volte lo stesso file",
    ),
    (
        r"is not an attachment id from UploadAttachment",
        "non è l'identificativo di un file caricato",
    ),
    (
        r"is not an attachment id",
        "non è l'identificativo di un file",
    ),
    (
        r"no unused file (?P<id>\S+) uploaded by your office",
        "nessun file $id caricato dal tuo ufficio e non ancora usato",
    ),
    // Mandates (services/intake/src/mandates.rs).
    (
        r"there is no mandate \(mandato di patrocinio\) of (?P<p>\S+) for the citizen (?P<c>[A-Z0-9]+): register it before writing",
        "non c'è un mandato di patrocinio di $p per il cittadino $c: registralo prima di scrivere",
    ),
    (
        r"the mandate of (?P<p>\S+) for the citizen (?P<c>[A-Z0-9]+) was revoked on (?P<d>[0-9-]+)",
        "il mandato di $p per il cittadino $c è stato revocato il $d",
    ),
    (
        r"the mandate of (?P<p>\S+) for the citizen (?P<c>[A-Z0-9]+) holds from (?P<d>[0-9-]+)",
        "il mandato di $p per il cittadino $c vale dal $d",
    ),
    (
        r"the mandate of (?P<p>\S+) for the citizen (?P<c>[A-Z0-9]+) expired on (?P<d>[0-9-]+)",
        "il mandato di $p per il cittadino $c è scaduto il $d",
    ),
    // The life of a request (intake, office-queue, crates/domain/src/sollecito.rs).
    (
        r"likely duplicate of request (?P<p>\S+) \(id (?P<id>[0-9a-f-]+)\), sent (?P<s>.+?) for the same citizen, motivo and (?P<w>.+?); send it again with confirm_duplicate to file it anyway",
        "probabile doppione della richiesta $p (id $id), inviata $s per lo stesso cittadino, motivo e $w; inviala di nuovo con confirm_duplicate per registrarla comunque",
    ),
    (
        r"the idempotency key `(?P<k>[^`]*)` was used for another request \((?P<p>[^)]*)\); use a new key for a new request",
        "la chiave di idempotenza `$k` è già stata usata per un'altra richiesta ($p); usa una chiave nuova per una richiesta nuova",
    ),
    (
        r"the office has already answered: there is nothing to chase",
        "la sede ha già risposto: non c'è nulla da sollecitare",
    ),
    (
        r"a sollecito is possible from (?P<d>.+)",
        "un sollecito è possibile dal $d",
    ),
    (
        r"the office has not answered yet: there is nothing to rate",
        "la sede non ha ancora risposto: non c'è nulla da valutare",
    ),
    (
        r"answer n\. (?P<n>\d+) of this request is already rated",
        "la risposta n. $n di questa richiesta è già stata valutata",
    ),
    (
        r"the office has not asked for information \(the request is (?P<s>[A-Z_]+)\)",
        "la sede non ha chiesto informazioni (la richiesta è $s)",
    ),
    (r"the item is closed", "la pratica è chiusa"),
    (
        r"claim the item before writing to the patronato",
        "prendi in carico la pratica prima di scrivere al patronato",
    ),
    (
        r"(?P<h>\S+) holds the item; they or a responsabile release it first",
        "$h ha in carico la pratica: deve rilasciarla lui o un responsabile",
    ),
    (
        r"(?P<h>\S+) holds the item until (?P<t>.+)",
        "$h ha in carico la pratica fino a $t",
    ),
    (
        r"only the holder or a responsabile releases a claimed item",
        "solo chi ha in carico la pratica o un responsabile può rilasciarla",
    ),
    (
        r"no item for request (?P<id>\S+)",
        "nessuna pratica per la richiesta $id",
    ),
    (r"no request (?P<id>\S+)", "nessuna richiesta $id"),
    (r"no attachment (?P<id>\S+)", "nessun file $id"),
    // Who may do what.
    (
        r"you see the requests of your office (?P<o>\S+) only",
        "vedi solo le richieste del tuo ufficio $o",
    ),
    (
        r"you work for office (?P<a>\S+), not (?P<b>\S+)",
        "lavori per l'ufficio $a, non per $b",
    ),
    (
        r"only a patronato operator may do this, not the role (?P<r>\S+)",
        "solo un operatore di patronato può farlo, non il ruolo $r",
    ),
    (
        r"only officials of office (?P<o>\S+) work its items",
        "solo i funzionari dell'ufficio $o lavorano le sue pratiche",
    ),
    (
        r"only a responsabile of the office reassigns items",
        "solo un responsabile dell'ufficio riassegna le pratiche",
    ),
    (
        r"the token names no patronato and patronato office",
        "il token non indica patronato e ufficio del patronato",
    ),
    (
        r"the token names no patronato \(and, for an operator, no patronato office\)",
        "il token non indica il patronato (e, per un operatore, l'ufficio del patronato)",
    ),
    // Overload and availability.
    (
        r"the service is busy or its database is unavailable; retry shortly",
        "il servizio è occupato o il suo database non risponde: riprova tra poco",
    ),
    (
        r"^the request has (?P<n>\d+) invalid field\(s\)$",
        "la richiesta ha $n campi non validi",
    ),
];

static COMPILED: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    RULES
        .iter()
        .filter_map(|(pattern, italian)| Regex::new(pattern).ok().map(|rule| (rule, *italian)))
        .collect()
});

/// `text` with every phrase a rule knows in Italian.
pub fn translate(text: &str) -> Cow<'_, str> {
    let mut translated = Cow::Borrowed(text);
    for (rule, italian) in COMPILED.iter() {
        if rule.is_match(&translated) {
            translated = Cow::Owned(rule.replace_all(&translated, *italian).into_owned());
        }
    }
    translated
}

/// Whether the caller prefers Italian: the language tag with the highest weight in
/// `Accept-Language` is `it` or `it-*`.
pub fn wants_italian(headers: &http::HeaderMap) -> bool {
    let Some(header) = headers
        .get(http::header::ACCEPT_LANGUAGE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let mut best: Option<(f32, &str)> = None;
    for entry in header.split(',') {
        let mut parts = entry.split(';');
        let tag = parts.next().unwrap_or_default().trim();
        let weight = parts
            .find_map(|part| part.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if !tag.is_empty() && weight > 0.0 && best.is_none_or(|(top, _)| weight > top) {
            best = Some((weight, tag));
        }
    }
    best.is_some_and(|(_, tag)| {
        let primary = tag.split('-').next().unwrap_or_default();
        primary.eq_ignore_ascii_case("it")
    })
}

/// The same refusal with its message and field reasons in Italian (codes, fields, retry
/// hints unchanged).
pub fn status(status: &tonic::Status) -> tonic::Status {
    let details = status.get_error_details();
    let message = translate(status.message()).into_owned();
    match details.bad_request() {
        Some(bad_request) => {
            let violations: Vec<FieldViolation> = bad_request
                .field_violations
                .iter()
                .map(|violation| {
                    FieldViolation::new(
                        violation.field.clone(),
                        translate(&violation.description).into_owned(),
                    )
                })
                .collect();
            let mut italian = ErrorDetails::with_bad_request(violations);
            if let Some(retry) = details.retry_info() {
                italian.set_retry_info(retry.retry_delay);
            }
            tonic::Status::with_error_details(status.code(), message, italian)
        }
        None => {
            tonic::Status::with_details(status.code(), message, status.details().to_vec().into())
        }
    }
}

/// A tower layer for the gRPC server: a failed call from a caller who prefers Italian gets
/// its status in Italian. Only trailers-only answers (every refused unary call) are
/// rewritten; a stream that ends in error keeps its English trailers.
#[derive(Debug, Clone, Copy, Default)]
pub struct ItalianLayer;

impl<S> tower::Layer<S> for ItalianLayer {
    type Service = Italian<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Italian { inner }
    }
}

#[derive(Debug, Clone)]
pub struct Italian<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, ResBody> tower::Service<http::Request<B>> for Italian<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let italian = wants_italian(request.headers());
        let call = self.inner.call(request);
        Box::pin(async move {
            let mut response = call.await?;
            if italian
                && let Some(refused) = tonic::Status::from_header_map(response.headers())
                && refused.code() != tonic::Code::Ok
            {
                let headers = response.headers_mut();
                headers.remove("grpc-message");
                headers.remove("grpc-status-details-bin");
                if status(&refused).add_header(headers).is_err() {
                    // The Italian did not fit in a header: the English one goes back.
                    let _ = refused.add_header(headers);
                }
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_compiles() {
        assert_eq!(COMPILED.len(), RULES.len());
    }

    #[test]
    fn the_reasons_operators_read_are_italian() {
        let cases = [
            (
                "codice_fiscale: the check character is `X` but should be `S`",
                "codice_fiscale: il carattere di controllo è `X` ma dovrebbe essere `S`",
            ),
            (
                "must be 16 characters (or 11 digits), not 12",
                "deve avere 16 caratteri (o 11 cifre), non 12",
            ),
            (
                "character 7 `K` should be a digit",
                "il carattere 7 `K` dovrebbe essere una cifra",
            ),
            (
                "`Z999` is not a comune or foreign state known to ANPR",
                "`Z999` non è un comune né uno stato estero noto all'ANPR",
            ),
            (
                "the comune Vigasio (L287) ceased on 1928-01-01; use the comune that replaced it",
                "il comune Vigasio (L287) è cessato il 1928-01-01: indica il comune che lo ha sostituito",
            ),
            ("must not be empty", "non può essere vuoto"),
            (
                "must be at most 4000 characters, not 4001",
                "deve avere al massimo 4000 caratteri, non 4001",
            ),
            (
                "there is no mandate (mandato di patrocinio) of INCA for the citizen CLMMRC62C03H501B: register it before writing",
                "non c'è un mandato di patrocinio di INCA per il cittadino CLMMRC62C03H501B: registralo prima di scrivere",
            ),
            (
                "the mandate of INCA for the citizen VRDGPP80A01H501U was revoked on 2026-01-10 (revocato dal cittadino)",
                "il mandato di INCA per il cittadino VRDGPP80A01H501U è stato revocato il 2026-01-10 (revocato dal cittadino)",
            ),
            (
                "a sollecito is possible from 2026-12-16",
                "un sollecito è possibile dal 2026-12-16",
            ),
            (
                "paolo.esposito holds the item; they or a responsabile release it first",
                "paolo.esposito ha in carico la pratica: deve rilasciarla lui o un responsabile",
            ),
            (
                "names the same file twice",
                "indica due volte lo stesso file",
            ),
            (
                "the request has 2 invalid field(s)",
                "la richiesta ha 2 campi non validi",
            ),
        ];
        for (english, italian) in cases {
            assert_eq!(translate(english), italian, "{english}");
        }
    }

    #[test]
    fn what_no_rule_knows_is_left_as_it_was() {
        let text = "router cannot be reached: connection refused";
        assert!(matches!(translate(text), Cow::Borrowed(same) if same == text));
    }

    #[test]
    fn the_preferred_language_is_the_heaviest_tag() {
        let headers = |value: &'static str| {
            let mut headers = http::HeaderMap::new();
            headers.insert(
                http::header::ACCEPT_LANGUAGE,
                value.parse().unwrap_or_else(|_| unreachable!()),
            );
            headers
        };
        assert!(wants_italian(&headers("it")));
        assert!(wants_italian(&headers("it-IT,it;q=0.9,en;q=0.8")));
        assert!(wants_italian(&headers("en;q=0.5, it;q=0.9")));
        assert!(!wants_italian(&headers("en-GB,it;q=0.5")));
        assert!(!wants_italian(&headers("it;q=0")));
        assert!(!wants_italian(&http::HeaderMap::new()));
    }

    #[test]
    fn a_status_keeps_its_code_and_fields_and_changes_its_words() {
        let english: tonic::Status = crate::ApiError::InvalidArgument(vec![
            crate::error::Violation::new("codice_fiscale", "must not be empty"),
            crate::error::Violation::new(
                "topic",
                "unknown topic `x`; expected one of pensioni, naspi",
            ),
        ])
        .into();
        let italian = status(&english);
        assert_eq!(italian.code(), tonic::Code::InvalidArgument);
        let violations = italian
            .get_details_bad_request()
            .map(|bad| bad.field_violations)
            .unwrap_or_default();
        let pairs: Vec<(&str, &str)> = violations
            .iter()
            .map(|violation| (violation.field.as_str(), violation.description.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("codice_fiscale", "non può essere vuoto"),
                (
                    "topic",
                    "argomento `x` sconosciuto; quelli ammessi sono pensioni, naspi"
                ),
            ]
        );
        assert!(
            italian.message().contains("non può essere vuoto"),
            "{}",
            italian.message()
        );
    }
}
