//! Encryption of provider credentials at rest: AES-256-GCM with a versioned,
//! key-identified envelope, so keys can rotate without re-encrypting everything.
//!
//! # Envelope format (text, stored in `datasources.credentials`)
//!
//! ```text
//! v1.<key id>.<iv>.<ciphertext>
//! ```
//!
//! - `v1`: format version. A new format gets a new prefix; old ones still open.
//! - key id: 8 hex characters, the first 4 bytes of SHA-256("carbon-key-id" ||
//!   key). Derived from the key itself, so configuration cannot mislabel a key.
//! - iv: 96 random bits, base64url without padding; fresh for every encryption
//!   (GCM must never reuse an IV under one key).
//! - ciphertext: AES-256-GCM output including its 128-bit tag, base64url.
//!
//! The additional authenticated data binds a ciphertext to its row:
//! `carbon/datasource-credentials/v1/<datasource id>/<user id>`. A ciphertext
//! copied into another row, or another user's row, fails authentication
//! instead of decrypting.
//!
//! Keys: `ENCRYPTION_KEY` (base64 of 32 bytes) encrypts; `ENCRYPTION_KEYS`
//! (comma-separated, same form) lists retired keys that still decrypt. Rows
//! opened with a retired key are reported as stale so the caller re-encrypts
//! them on their next write.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256};

pub const KEY_LEN: usize = 32;
pub const IV_LEN: usize = 12;
const VERSION: &str = "v1";

/// Why credentials could not be sealed or opened. Never carries key material
/// or plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CryptoError {
    /// The envelope is not in a format this code knows.
    Malformed(&'static str),
    /// The envelope names a key that is not configured.
    UnknownKey(String),
    /// Authentication failed: tampered, truncated, moved to another row, or
    /// the wrong key.
    Rejected,
    /// The cipher implementation failed (WebCrypto error).
    Backend(String),
}

impl std::fmt::Display for CryptoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CryptoError::Malformed(what) => write!(f, "credential envelope is malformed: {what}"),
            CryptoError::UnknownKey(id) => {
                write!(f, "credentials were encrypted with unknown key {id}")
            }
            CryptoError::Rejected => {
                f.write_str("credentials failed authentication (tampered or moved)")
            }
            CryptoError::Backend(e) => write!(f, "cipher failure: {e}"),
        }
    }
}

/// A 256-bit data key. `Debug` shows only its id.
#[derive(Clone)]
pub struct DataKey {
    id: String,
    bytes: [u8; KEY_LEN],
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataKey({})", self.id)
    }
}

impl DataKey {
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        let digest = Sha256::new()
            .chain_update(b"carbon-key-id")
            .chain_update(bytes)
            .finalize();
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        DataKey { id, bytes }
    }

    fn from_base64(name: &str, value: &str) -> Result<Self, String> {
        let raw = STANDARD
            .decode(value.trim())
            .map_err(|_| format!("{name} is not valid base64"))?;
        let bytes: [u8; KEY_LEN] = raw
            .try_into()
            .map_err(|v: Vec<u8>| format!("{name} must decode to 32 bytes, not {}", v.len()))?;
        Ok(Self::from_bytes(bytes))
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }
}

/// The active key and the retired ones that still decrypt.
#[derive(Debug, Clone)]
pub struct KeyRing {
    active: DataKey,
    retired: Vec<DataKey>,
}

impl KeyRing {
    /// Validates `ENCRYPTION_KEY` and `ENCRYPTION_KEYS`. A missing or
    /// malformed key is an error naming the setting: there is no fallback.
    pub fn from_config(active: Option<&str>, retired: Option<&str>) -> Result<Self, String> {
        let active = active
            .filter(|v| !v.trim().is_empty())
            .ok_or("ENCRYPTION_KEY is not set (base64 of 32 random bytes)")?;
        let active = DataKey::from_base64("ENCRYPTION_KEY", active)?;
        let retired = retired
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| DataKey::from_base64("an ENCRYPTION_KEYS entry", v))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(KeyRing { active, retired })
    }

    pub fn active(&self) -> &DataKey {
        &self.active
    }

    pub fn get(&self, id: &str) -> Option<&DataKey> {
        std::iter::once(&self.active)
            .chain(&self.retired)
            .find(|k| k.id == id)
    }
}

/// The additional authenticated data binding credentials to their row.
pub fn credentials_aad(datasource_id: &str, user_id: &str) -> Vec<u8> {
    format!("carbon/datasource-credentials/{VERSION}/{datasource_id}/{user_id}").into_bytes()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub key_id: String,
    pub iv: [u8; IV_LEN],
    pub ciphertext: Vec<u8>,
}

impl Envelope {
    pub fn encode(&self) -> String {
        format!(
            "{VERSION}.{}.{}.{}",
            self.key_id,
            URL_SAFE_NO_PAD.encode(self.iv),
            URL_SAFE_NO_PAD.encode(&self.ciphertext)
        )
    }

    pub fn decode(text: &str) -> Result<Self, CryptoError> {
        let mut parts = text.split('.');
        let (Some(version), Some(key_id), Some(iv), Some(ct), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(CryptoError::Malformed("expected four dot-separated parts"));
        };
        if version != VERSION {
            return Err(CryptoError::Malformed("unknown version"));
        }
        let iv: [u8; IV_LEN] = URL_SAFE_NO_PAD
            .decode(iv)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or(CryptoError::Malformed("iv"))?;
        let ciphertext = URL_SAFE_NO_PAD
            .decode(ct)
            .map_err(|_| CryptoError::Malformed("ciphertext"))?;
        // A GCM ciphertext is at least its 16-byte tag.
        if ciphertext.len() < 16 {
            return Err(CryptoError::Malformed("ciphertext shorter than the tag"));
        }
        Ok(Envelope {
            key_id: key_id.to_owned(),
            iv,
            ciphertext,
        })
    }
}

/// AES-256-GCM, implemented by WebCrypto in the Worker and by the `aes-gcm`
/// crate in native tests.
#[allow(async_fn_in_trait)] // single-threaded wasm: no Send bound wanted
pub trait Aead {
    async fn seal(
        &self,
        key: &DataKey,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError>;
    async fn open(
        &self,
        key: &DataKey,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, CryptoError>;
}

/// Encrypts under the active key with the given fresh IV.
pub async fn seal<A: Aead>(
    aead: &A,
    ring: &KeyRing,
    iv: [u8; IV_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<String, CryptoError> {
    let key = ring.active();
    let ciphertext = aead.seal(key, &iv, aad, plaintext).await?;
    Ok(Envelope {
        key_id: key.id.clone(),
        iv,
        ciphertext,
    }
    .encode())
}

/// What [`open`] recovered.
#[derive(Debug)]
pub struct Opened {
    pub plaintext: Vec<u8>,
    /// Sealed under a retired key: re-encrypt on the next write.
    pub stale: bool,
}

pub async fn open<A: Aead>(
    aead: &A,
    ring: &KeyRing,
    aad: &[u8],
    envelope: &str,
) -> Result<Opened, CryptoError> {
    let envelope = Envelope::decode(envelope)?;
    let key = ring
        .get(&envelope.key_id)
        .ok_or_else(|| CryptoError::UnknownKey(envelope.key_id.clone()))?;
    let plaintext = aead
        .open(key, &envelope.iv, aad, &envelope.ciphertext)
        .await?;
    Ok(Opened {
        plaintext,
        stale: key.id != ring.active.id,
    })
}

#[cfg(test)]
mod tests;
