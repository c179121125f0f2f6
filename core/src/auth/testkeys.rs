//! Test fixtures: RSA key pairs made once with openssl (`core/testdata/`) and
//! a minimal token minter, so tests can forge every kind of bad token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jwt_compact::alg::{Rsa, RsaPrivateKey, RsaPublicKey};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{Algorithm, AlgorithmSignature};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use serde_json::Value;

pub const PRIMARY_PUB: &str = include_str!("../../testdata/primary.pub.pem");
pub const PRIMARY_KEY: &str = include_str!("../../testdata/primary.key.pem");
pub const OTHER_PUB: &str = include_str!("../../testdata/other.pub.pem");
pub const OTHER_KEY: &str = include_str!("../../testdata/other.key.pem");
pub const WEAK_PUB: &str = include_str!("../../testdata/weak.pub.pem");

/// A JWKS document listing the given `(kid, public PEM)` pairs.
pub fn jwks(entries: &[(&str, &str)]) -> String {
    let keys: Vec<Value> = entries
        .iter()
        .map(|(kid, pem)| {
            let key = RsaPublicKey::from_public_key_pem(pem).unwrap();
            let mut jwk = serde_json::to_value(JsonWebKey::from(&key)).unwrap();
            jwk["kid"] = (*kid).into();
            jwk["use"] = "sig".into();
            jwk["alg"] = "RS256".into();
            jwk
        })
        .collect();
    serde_json::json!({ "keys": keys }).to_string()
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// Signs `header.payload` with RS256 under the given private PEM.
pub fn sign(header: &Value, payload: &Value, private_pem: &str) -> String {
    let key = RsaPrivateKey::from_pkcs8_pem(private_pem).unwrap();
    let message = format!("{}.{}", b64(header), b64(payload));
    let signature = Rsa::rs256().sign(&key, message.as_bytes());
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature.as_bytes()))
}

/// RS256 verification with the `rsa` crate, independent of WebCrypto: the
/// native tests' stand-in for the Worker's platform check.
pub fn verify_rs256(key: &super::VerifyingKey, message: &[u8], signature: &[u8]) -> bool {
    let public = RsaPublicKey::new(
        rsa::BigUint::from_bytes_be(key.modulus()),
        rsa::BigUint::from_bytes_be(key.exponent()),
    )
    .unwrap();
    let Ok(signature) = <Rsa as Algorithm>::Signature::try_from_slice(signature) else {
        return false;
    };
    Rsa::rs256().verify_signature(&signature, &public, message)
}

/// An unsigned token with an arbitrary signature segment.
pub fn unsigned(header: &Value, payload: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header),
        b64(payload),
        URL_SAFE_NO_PAD.encode(signature)
    )
}
