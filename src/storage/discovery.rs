//! A run's discovery answers, kept as they come (`sync_discovery`) so that
//! a discovery longer than one slice resumes where it stopped.

use carbon_core::providers::HttpResponse;
use serde::Deserialize;
use worker::wasm_bindgen::JsValue;

use super::{text, Db};

/// The answers kept for `run_id`, in order.
pub async fn load(db: &Db, run_id: &str) -> worker::Result<Vec<HttpResponse>> {
    #[derive(Deserialize)]
    struct Kept {
        status: u16,
        body: String,
    }
    let rows: Vec<Kept> = db
        .prepare("SELECT status, body FROM sync_discovery WHERE run_id = ?1 ORDER BY seq")
        .bind(&[text(run_id)])?
        .all()
        .await?
        .results()?;
    Ok(rows
        .into_iter()
        .map(|k| HttpResponse::new(k.status, k.body))
        .collect())
}

/// Keeps answer number `seq` (its status and body; discovery reads no
/// headers from an answer it went on from).
pub async fn keep(db: &Db, run_id: &str, seq: usize, resp: &HttpResponse) -> worker::Result<()> {
    db.prepare(
        "INSERT OR REPLACE INTO sync_discovery (run_id, seq, status, body) VALUES (?1, ?2, ?3, ?4)",
    )
    .bind(&[
        text(run_id),
        JsValue::from_f64(seq as f64),
        JsValue::from_f64(f64::from(resp.status)),
        text(&String::from_utf8_lossy(&resp.body)),
    ])?
    .run()
    .await
    .map(|_| ())
}
