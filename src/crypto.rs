//! AES-256-GCM through WebCrypto (SubtleCrypto), the Worker's implementation
//! of `carbon_core::crypto::Aead`. The envelope format and key rotation live
//! in core; this only moves bytes through `crypto.subtle`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use carbon_core::auth::VerifyingKey;
use carbon_core::crypto::{Aead, CryptoError, DataKey, KeyRing, IV_LEN};
use js_sys::{Array, Uint8Array};
use web_sys::{AesGcmParams, CryptoKey, SubtleCrypto, WorkerGlobalScope};
use worker::wasm_bindgen::JsCast;
use worker::wasm_bindgen_futures::JsFuture;
use worker::Env;

use crate::config::env_string;

thread_local! {
    /// Imported (non-extractable) keys, reused across requests: AES data keys
    /// by key id, RSA verifying keys by modulus.
    static KEYS: RefCell<HashMap<String, CryptoKey>> = RefCell::new(HashMap::new());
}

/// Keys come from configuration, so few; bound the map anyway (a full one
/// is emptied, and keys are imported again as they are used).
const KEYS_KEPT: usize = 32;

/// The key kept under `id`, or else `import`'s, kept.
async fn imported(
    id: String,
    import: impl std::future::Future<Output = Result<CryptoKey, CryptoError>>,
) -> Result<CryptoKey, CryptoError> {
    if let Some(k) = KEYS.with_borrow(|m| m.get(&id).cloned()) {
        return Ok(k);
    }
    let key = import.await?;
    KEYS.with_borrow_mut(|m| {
        if m.len() >= KEYS_KEPT {
            m.clear();
        }
        m.insert(id, key.clone());
    });
    Ok(key)
}

async fn import_promise(
    promise: Result<js_sys::Promise, worker::wasm_bindgen::JsValue>,
) -> Result<CryptoKey, CryptoError> {
    let imported = JsFuture::from(promise.map_err(backend)?)
        .await
        .map_err(backend)?;
    Ok(imported.unchecked_into())
}

/// The configured key ring, parsed once per isolate; a missing or malformed
/// key is an error naming the setting, never a fallback.
pub fn key_ring(env: &Env) -> Rc<Result<KeyRing, String>> {
    crate::config::per_isolate(env, "key_ring", |env| {
        KeyRing::from_config(
            env_string(env, "ENCRYPTION_KEY").as_deref(),
            env_string(env, "ENCRYPTION_KEYS").as_deref(),
        )
    })
}

fn backend(e: worker::wasm_bindgen::JsValue) -> CryptoError {
    CryptoError::Backend(format!("{e:?}"))
}

fn subtle() -> Result<SubtleCrypto, CryptoError> {
    let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
    Ok(scope.crypto().map_err(backend)?.subtle())
}

async fn import(key: &DataKey) -> Result<CryptoKey, CryptoError> {
    imported(format!("aes:{}", key.id()), async {
        let raw = Uint8Array::from(&key.bytes()[..]);
        let usages = Array::of2(&"encrypt".into(), &"decrypt".into());
        import_promise(subtle()?.import_key_with_str("raw", &raw, "AES-GCM", false, &usages)).await
    })
    .await
}

fn params(iv: &[u8; IV_LEN], aad: &[u8]) -> AesGcmParams {
    let params = AesGcmParams::new_with_u8_array("AES-GCM", &Uint8Array::from(&iv[..]));
    params.set_additional_data_u8_array(&Uint8Array::from(aad));
    params
}

pub struct WebCrypto;

impl Aead for WebCrypto {
    async fn seal(
        &self,
        key: &DataKey,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let k = import(key).await?;
        let promise = subtle()?
            .encrypt_with_object_and_u8_array(&params(iv, aad), &k, plaintext)
            .map_err(backend)?;
        let out = JsFuture::from(promise).await.map_err(backend)?;
        Ok(Uint8Array::new(&out).to_vec())
    }

    async fn open(
        &self,
        key: &DataKey,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let k = import(key).await?;
        let promise = subtle()?
            .decrypt_with_object_and_u8_array(&params(iv, aad), &k, ciphertext)
            .map_err(backend)?;
        // WebCrypto rejects with an OperationError when the tag does not verify.
        let out = JsFuture::from(promise)
            .await
            .map_err(|_| CryptoError::Rejected)?;
        Ok(Uint8Array::new(&out).to_vec())
    }
}

/// 96 fresh random bits for one encryption.
pub fn fresh_iv() -> [u8; IV_LEN] {
    crate::random::bytes()
}

const RS256: &str = "RSASSA-PKCS1-v1_5";

async fn import_rsa(key: &VerifyingKey) -> Result<CryptoKey, CryptoError> {
    let (n, e) = key.jwk_members();
    imported(format!("rsa:{n}"), async {
        let jwk = js_sys::Object::new();
        for (name, value) in [("kty", "RSA"), ("alg", "RS256"), ("n", &n), ("e", &e)] {
            js_sys::Reflect::set(&jwk, &name.into(), &value.into()).map_err(backend)?;
        }
        let algorithm = js_sys::Object::new();
        for (name, value) in [("name", RS256), ("hash", "SHA-256")] {
            js_sys::Reflect::set(&algorithm, &name.into(), &value.into()).map_err(backend)?;
        }
        let usages = Array::of1(&"verify".into());
        import_promise(subtle()?.import_key_with_object("jwk", &jwk, &algorithm, false, &usages))
            .await
    })
    .await
}

/// RS256 through WebCrypto: the runtime's native RSA, not a bignum in wasm.
pub async fn verify_rs256(
    key: &VerifyingKey,
    message: &[u8],
    signature: &[u8],
) -> Result<bool, CryptoError> {
    let k = import_rsa(key).await?;
    let promise = subtle()?
        .verify_with_str_and_u8_array_and_u8_array(RS256, &k, signature, message)
        .map_err(backend)?;
    let verdict = JsFuture::from(promise).await.map_err(backend)?;
    Ok(verdict.as_bool() == Some(true))
}
