//! Tests of the envelope, with the RustCrypto AES-256-GCM standing in for
//! WebCrypto (checked against a NIST vector below, so the stand-in is real).

use aes_gcm::aead::{Aead as _, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use futures_executor::block_on;

use super::*;

/// The native stand-in for WebCrypto: the RustCrypto AES-256-GCM.
pub struct SoftAead;

impl Aead for SoftAead {
    async fn seal(
        &self,
        key: &DataKey,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let cipher = Aes256Gcm::new_from_slice(key.bytes()).unwrap();
        cipher
            .encrypt(
                Nonce::from_slice(iv),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| CryptoError::Backend("seal".into()))
    }

    async fn open(
        &self,
        key: &DataKey,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let cipher = Aes256Gcm::new_from_slice(key.bytes()).unwrap();
        cipher
            .decrypt(
                Nonce::from_slice(iv),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| CryptoError::Rejected)
    }
}

const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const KEY_B: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

fn ring(active: &str, retired: Option<&str>) -> KeyRing {
    KeyRing::from_config(Some(active), retired).unwrap()
}

fn seal_with(ring: &KeyRing, aad: &[u8], text: &[u8]) -> String {
    block_on(seal(&SoftAead, ring, [7; IV_LEN], aad, text)).unwrap()
}

#[test]
fn round_trip_under_the_active_key() {
    let ring = ring(KEY_A, None);
    let aad = credentials_aad("ds_1", "user_1");
    let sealed = seal_with(&ring, &aad, b"{\"api_key\":\"sk_live_x\"}");
    assert!(sealed.starts_with(&format!("v1.{}.", ring.active().id())));
    assert!(!sealed.contains("sk_live"));
    let opened = block_on(open(&SoftAead, &ring, &aad, &sealed)).unwrap();
    assert_eq!(opened.plaintext, b"{\"api_key\":\"sk_live_x\"}");
    assert!(!opened.stale);
}

#[test]
fn ciphertext_moved_to_another_row_is_rejected() {
    let ring = ring(KEY_A, None);
    let sealed = seal_with(&ring, &credentials_aad("ds_1", "user_1"), b"secret");
    for aad in [
        credentials_aad("ds_2", "user_1"),
        credentials_aad("ds_1", "user_2"),
    ] {
        let err = block_on(open(&SoftAead, &ring, &aad, &sealed)).unwrap_err();
        assert_eq!(err, CryptoError::Rejected);
    }
}

#[test]
fn tampered_ciphertext_is_rejected_not_garbage() {
    let ring = ring(KEY_A, None);
    let aad = credentials_aad("ds_1", "user_1");
    let mut env = Envelope::decode(&seal_with(&ring, &aad, b"secret")).unwrap();
    env.ciphertext[0] ^= 1;
    let err = block_on(open(&SoftAead, &ring, &aad, &env.encode())).unwrap_err();
    assert_eq!(err, CryptoError::Rejected);
}

#[test]
fn retired_key_still_opens_and_is_flagged_stale() {
    let old = ring(KEY_B, None);
    let aad = credentials_aad("ds_1", "user_1");
    let sealed = seal_with(&old, &aad, b"secret");
    let rotated = ring(KEY_A, Some(KEY_B));
    let opened = block_on(open(&SoftAead, &rotated, &aad, &sealed)).unwrap();
    assert_eq!(opened.plaintext, b"secret");
    assert!(opened.stale);
    // Without the retired key it is an unknown key, loudly.
    let err = block_on(open(&SoftAead, &ring(KEY_A, None), &aad, &sealed)).unwrap_err();
    assert!(matches!(err, CryptoError::UnknownKey(_)));
}

#[test]
fn malformed_envelopes_are_rejected() {
    for bad in [
        "",
        "v1",
        "v2.abcd1234.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
        "v1.k.!!.AA",
        "v1.k.AAAAAAAAAAAAAAAA.AA",
        "a.b.c.d.e",
    ] {
        assert!(
            matches!(Envelope::decode(bad), Err(CryptoError::Malformed(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn key_config_is_validated() {
    assert!(KeyRing::from_config(None, None)
        .unwrap_err()
        .contains("ENCRYPTION_KEY"));
    assert!(KeyRing::from_config(Some("not base64!"), None).is_err());
    assert!(KeyRing::from_config(Some("AAAA"), None)
        .unwrap_err()
        .contains("32 bytes"));
    assert!(KeyRing::from_config(Some(KEY_A), Some("AAAA")).is_err());
}

#[test]
fn key_ids_differ_per_key_and_debug_hides_bytes() {
    let a = ring(KEY_A, None);
    let b = ring(KEY_B, None);
    assert_ne!(a.active().id(), b.active().id());
    assert_eq!(
        format!("{:?}", a.active()),
        format!("DataKey({})", a.active().id())
    );
}

#[test]
fn matches_the_nist_gcm_vector() {
    // NIST SP 800-38D test case 15 key, zero plaintext block: checks the
    // native cipher really is AES-256-GCM, so the fake proves something.
    let key = DataKey::from_bytes([0u8; 32]);
    let ct = block_on(SoftAead.seal(&key, &[0u8; 12], b"", &[0u8; 16])).unwrap();
    let hex: String = ct.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919"
    );
}
