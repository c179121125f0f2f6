//! Xero webhooks (../shared/PROVIDERS.md): `x-xero-signature` is the base64
//! HMAC-SHA256 of the raw body with the app's webhook key. A correct
//! signature answers 200 with an empty body, a wrong one 401 (Xero's
//! intent-to-receive check sends both), within 5 s. Events carry ids only:
//! `{"events": [{"resourceUrl", "resourceId", "tenantId", "tenantType",
//! "eventCategory": "INVOICE"|"CONTACT"|"CREDITNOTE"|"SUBSCRIPTION",
//! "eventType": "CREATE"|"UPDATE", "eventDateUtc"}], "firstEventSequence",
//! "lastEventSequence", "entropy"}`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

fn mac(key: &[u8], body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(body);
    mac
}

/// The signature of a body (tests, the bench).
pub fn sign(key: &str, body: &[u8]) -> String {
    B64.encode(mac(key.as_bytes(), body).finalize().into_bytes())
}

/// Whether `signature` is the body's, compared in constant time.
pub fn verify(key: &str, body: &[u8], signature: Option<&str>) -> bool {
    let Some(tag) = signature.and_then(|s| B64.decode(s.trim()).ok()) else {
        return false;
    };
    mac(key.as_bytes(), body).verify_slice(&tag).is_ok()
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub resource_id: String,
    pub tenant_id: String,
    pub event_category: String,
    pub event_type: String,
    #[serde(default)]
    pub event_date_utc: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    pub events: Vec<Event>,
    #[serde(deserialize_with = "crate::whole::non_negative_i64")]
    pub first_event_sequence: i64,
    #[serde(deserialize_with = "crate::whole::non_negative_i64")]
    pub last_event_sequence: i64,
}

impl Payload {
    /// The organisations with changes to what the sync reads (bills:
    /// INVOICE events; bank transactions have no events and are polled).
    pub fn tenants_to_sync(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .events
            .iter()
            .filter(|e| matches!(e.event_category.as_str(), "INVOICE" | "CREDITNOTE"))
            .map(|e| e.tenant_id.as_str())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // PROVIDERS.md's computed vector (key, body -> signature).
    const KEY: &str = "test-webhook-key";
    const BODY: &str =
        r#"{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"S0m3r4Nd0mt3xt"}"#;
    const SIG: &str = "Rmagmj6jUO+tWCm+ab470p+XpvFKxe3rlSHQVg+BcDk=";

    #[test]
    fn the_vector_verifies_and_any_change_does_not() {
        assert_eq!(sign(KEY, BODY.as_bytes()), SIG);
        assert!(verify(KEY, BODY.as_bytes(), Some(SIG)));
        assert!(!verify(
            KEY,
            BODY.replace("S0m3", "S0m4").as_bytes(),
            Some(SIG)
        ));
        assert!(!verify("other-key", BODY.as_bytes(), Some(SIG)));
        assert!(!verify(KEY, BODY.as_bytes(), None));
        assert!(!verify(KEY, BODY.as_bytes(), Some("not base64!")));
    }

    #[test]
    fn invoice_events_name_the_organisations_to_sync() {
        let p: Payload = serde_json::from_str(r#"{"events":[
            {"resourceUrl":"https://api.xero.com/api.xro/2.0/Invoices/55d8","resourceId":"55d8","tenantId":"t2","tenantType":"ORGANISATION","eventCategory":"INVOICE","eventType":"UPDATE","eventDateUtc":"2025-12-02T00:44:09.923"},
            {"resourceUrl":"x","resourceId":"c1","tenantId":"t3","tenantType":"ORGANISATION","eventCategory":"CONTACT","eventType":"CREATE","eventDateUtc":"2025-12-02T00:44:09.923"},
            {"resourceUrl":"x","resourceId":"55d9","tenantId":"t2","tenantType":"ORGANISATION","eventCategory":"INVOICE","eventType":"CREATE","eventDateUtc":"2025-12-02T00:44:09.923"}],
            "firstEventSequence":76,"lastEventSequence":78,"entropy":"FXNGWLCCGVANWHKILRUB"}"#).unwrap();
        assert_eq!(p.tenants_to_sync(), vec!["t2"]);
        assert_eq!((p.first_event_sequence, p.last_event_sequence), (76, 78));
    }
}
