//! Data people send: CSV files and typed readings, and the templates that
//! say what the files look like.

use carbon_core::body;
use carbon_core::catalog;
use carbon_core::datasources::{new_id, Record};
use carbon_core::error::ApiError;
use carbon_core::sync::engine::{raw_key, sha256_hex};
use carbon_core::sync::ActivityRecord;
use carbon_core::uploads::templates::{Template, COMMON, TEMPLATES};
use carbon_core::uploads::{self, multipart};
use serde_json::{json, Value};

use super::call::Call;
use super::sync::run_reply;
use crate::connections::{db_error, not_found, Ctx};
use crate::http::Reply;
use crate::storage::datasources as rows;
use crate::storage::ingest::{self, Ingest};
use crate::storage::sync::D1SyncStore;
use crate::sync::RAW_BUCKET;
use crate::{limits, random};

/// The datasource, if it is one people feed and it takes data now; and the
/// data types it accepts.
async fn target(ctx: &Ctx<'_>, call: &Call<'_>) -> Result<(Record, Vec<&'static str>), ApiError> {
    let id = call.param("id");
    let rec = rows::get(&ctx.db, &call.user()?.user_id, id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| not_found(id))?;
    let entry = catalog::catalog()
        .get(&rec.integration_id)
        .ok_or_else(|| ApiError::internal("a datasource's integration left the catalog"))?;
    if !entry.integration.auth_type.fed_by_people() {
        return Err(ApiError::Conflict {
            detail: format!(
                "{} data arrives by sync, not by upload or typed readings",
                entry.integration.name
            ),
        });
    }
    if rec.enabled == 0 {
        return Err(ApiError::Conflict {
            detail: "this datasource is disabled; enable it to add data".into(),
        });
    }
    limits::take(call.env, limits::DATA_WRITES, &rec.user_id).await?;
    Ok((rec, uploads::accepted_types(&entry.integration.data_types)))
}

/// Keeps the bytes in R2, stores the records as a run, answers 201 with it.
async fn store(
    ctx: &Ctx<'_>,
    rec: &Record,
    trigger: &str,
    bytes: &[u8],
    sha: &str,
    records: &[ActivityRecord],
) -> Result<Reply, ApiError> {
    run_reply(201, &keep(ctx, rec, trigger, bytes, sha, records).await?)
}

/// Keeps the bytes in R2 (by SHA-256), then stores the records as one run in
/// one D1 batch (uploads, typed readings, pushed readings).
pub async fn keep(
    ctx: &Ctx<'_>,
    rec: &Record,
    trigger: &str,
    bytes: &[u8],
    sha: &str,
    records: &[ActivityRecord],
) -> Result<carbon_core::sync::run::Run, ApiError> {
    let bucket = ctx
        .env
        .bucket(RAW_BUCKET)
        .map_err(|e| ApiError::internal(format!("R2 binding {RAW_BUCKET}: {e}")))?;
    bucket
        .put(raw_key(sha), bytes.to_vec())
        .execute()
        .await
        .map_err(|e| ApiError::ServiceUnavailable {
            detail: format!("the raw copy could not be kept ({e}); nothing was stored, try again"),
        })?;
    let now = ctx.now();
    let at = carbon_core::datasources::timestamp(now);
    let run_id = new_id("run", random::bytes());
    let detail = format!("{} rows, sha256 {sha}", records.len());
    let audit = ctx.audit(&rec.user_id, &rec.id, trigger, Some(&detail), &at);
    let settings: serde_json::Value = serde_json::from_str(&rec.settings).unwrap_or_default();
    let emissions = carbon_core::emissions::lines::Settings::from_json(&settings);
    let store = D1SyncStore {
        db: &ctx.db,
        datasource_id: &rec.id,
        user_id: &rec.user_id,
        emissions: &emissions,
        settings: &rec.settings,
    };
    ingest::ingest(
        &store,
        &Ingest {
            run_id: &run_id,
            trigger,
            sha256: sha,
            records,
            audit: &audit,
            now,
        },
    )
    .await
    .map_err(db_error)
}

/// The earlier run, when these bytes (by SHA-256) were the last sent.
async fn repeated(
    ctx: &Ctx<'_>,
    rec: &Record,
    trigger: &str,
    sha: &str,
) -> Result<Option<Reply>, ApiError> {
    ingest::repeated(&ctx.db, &rec.id, trigger, sha)
        .await
        .map_err(db_error)?
        .map(|run| run_reply(200, &run))
        .transpose()
}

/// POST /api/v1/datasources/{id}/uploads
pub async fn upload(call: &Call<'_>) -> Result<Reply, ApiError> {
    let ctx = call.services()?;
    let (rec, accepted) = target(&ctx, call).await?;
    let content_type = call.header("Content-Type").unwrap_or_default();
    let file = if body::essence(&content_type) == "multipart/form-data" {
        multipart::file_part(&content_type, call.body)?
    } else {
        call.body
    };
    if file.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::unprocessable("file", "the file is empty"));
    }
    let default_type = uploads::upload_type(&call.query_pairs()?, &accepted)?;
    let sha = sha256_hex(file);
    if let Some(reply) = repeated(&ctx, &rec, "upload", &sha).await? {
        return Ok(reply);
    }
    let records = uploads::parse_csv(file, default_type, &accepted, ctx.now())?;
    store(&ctx, &rec, "upload", file, &sha, &records).await
}

/// POST /api/v1/datasources/{id}/readings
pub async fn readings(call: &Call<'_>) -> Result<Reply, ApiError> {
    let value = call.json::<Value>()?;
    let ctx = call.services()?;
    let (rec, accepted) = target(&ctx, call).await?;
    let sha = sha256_hex(call.body);
    if let Some(reply) = repeated(&ctx, &rec, "manual", &sha).await? {
        return Ok(reply);
    }
    let records = uploads::parse_readings(&value, &accepted, ctx.now())?;
    store(&ctx, &rec, "manual", call.body, &sha, &records).await
}

fn describe(t: &Template) -> Value {
    let mut columns: Vec<Value> = COMMON
        .iter()
        .map(|(name, help)| {
            json!({"name": name, "required": matches!(*name, "start" | "end" | "quantity" | "unit"), "help": help})
        })
        .collect();
    if let Some(d) = t.detail {
        columns.push(
            json!({"name": d.column, "required": d.required, "help": d.help, "values": d.values}),
        );
    }
    for (name, help) in t.extra {
        columns.push(json!({"name": name, "required": false, "help": help}));
    }
    json!({
        "type": t.data_type,
        "activity_type": t.activity_type.as_str(),
        "summary": t.summary,
        "units": t.units.iter().map(|u| json!({"name": u.names[0], "aliases": &u.names[1..], "stored_as": u.stored})).collect::<Vec<_>>(),
        "columns": columns,
        "csv": format!("/api/v1/uploads/templates/{}.csv", t.data_type),
    })
}

/// GET /api/v1/uploads/templates
pub fn templates() -> Result<Reply, ApiError> {
    let data: Vec<Value> = TEMPLATES.iter().map(describe).collect();
    Ok(Reply::json(200, &json!({
        "data": data,
        "limits": {"file_bytes": uploads::MAX_FILE_BYTES, "rows": uploads::MAX_ROWS, "readings": uploads::MAX_READINGS},
    }))?
    .cacheable("public, max-age=3600", None))
}

/// GET /api/v1/uploads/templates/{type}.csv
pub fn template(call: &Call<'_>) -> Result<Reply, ApiError> {
    let file = call.param("file");
    let t = file
        .strip_suffix(".csv")
        .and_then(Template::get)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no template {file:?}; there are {}",
                TEMPLATES
                    .iter()
                    .map(|t| format!("{}.csv", t.data_type))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
    let mut reply = Reply::raw(200, "text/csv; charset=utf-8", t.csv().into_bytes());
    reply.headers.push((
        "Content-Disposition",
        format!("attachment; filename=\"{}.csv\"", t.data_type),
    ));
    Ok(reply.cacheable("public, max-age=3600", None))
}
