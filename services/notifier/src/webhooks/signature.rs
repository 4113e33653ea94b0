//! Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256>` over
//! `<webhook-id>.<webhook-timestamp>.<body>`, keyed with the bytes of a `whsec_` secret
//! (base64 after the prefix). During a rotation's grace period both secrets sign and the header
//! carries both signatures, separated by a space; a receiver accepts either.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac as _};
use rand::RngCore as _;
use sha2::Sha256;

const PREFIX: &str = "whsec_";
/// Random bytes in a new secret (the form asks for at least 24).
const SECRET_BYTES: usize = 32;

/// A fresh `whsec_` secret from the operating system's generator.
pub fn new_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    format!("{PREFIX}{}", STANDARD.encode(bytes))
}

fn key(secret: &str) -> anyhow::Result<Vec<u8>> {
    let encoded = secret
        .strip_prefix(PREFIX)
        .ok_or_else(|| anyhow::anyhow!("a webhook secret starts with {PREFIX}"))?;
    let key = STANDARD.decode(encoded).map_err(|error| {
        anyhow::anyhow!("the webhook secret is not base64 after {PREFIX}: {error}")
    })?;
    anyhow::ensure!(key.len() >= 24, "a webhook secret has at least 24 bytes");
    Ok(key)
}

/// `v1,<signature>` of one message with one secret.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> anyhow::Result<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key(secret)?)
        .map_err(|error| anyhow::anyhow!("cannot key the HMAC: {error}"))?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The header value: one signature per secret that signs now.
pub fn header(secrets: &[&str], id: &str, timestamp: i64, body: &[u8]) -> anyhow::Result<String> {
    let signatures = secrets
        .iter()
        .map(|secret| sign(secret, id, timestamp, body))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(signatures.join(" "))
}

/// What a receiver does: does any signature in `header` match `secret`? (Constant-time
/// comparison through the HMAC's own `verify_slice`.)
pub fn verify(secret: &str, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let Ok(key) = key(secret) else { return false };
    header
        .split(' ')
        .filter_map(|part| part.strip_prefix("v1,"))
        .any(|signature| {
            let Ok(expected) = STANDARD.decode(signature) else {
                return false;
            };
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else {
                return false;
            };
            mac.update(format!("{id}.{timestamp}.").as_bytes());
            mac.update(body);
            mac.verify_slice(&expected).is_ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification.
    #[test]
    fn matches_the_specification_example() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn both_secrets_verify_during_a_rotation_and_a_wrong_one_does_not() {
        let (old, new) = (new_secret(), new_secret());
        assert!(old.starts_with("whsec_") && key(&old).unwrap().len() == 32);
        let header = header(&[&new, &old], "id", 10, b"{}").unwrap();
        assert!(verify(&old, "id", 10, b"{}", &header));
        assert!(verify(&new, "id", 10, b"{}", &header));
        assert!(!verify(&new_secret(), "id", 10, b"{}", &header));
        assert!(!verify(&new, "id", 11, b"{}", &header));
    }
}
