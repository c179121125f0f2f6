//! OpenAI organization Admin API. Usage and cost reports need an Admin key,
//! so the probe is an admin-only endpoint: a normal project key fails it.
//! <https://platform.openai.com/docs/api-reference/administration>

use serde_json::json;

use super::ai_usage::{AiUsageSync, Vendor};
use super::http::{error_message, interpret, HttpRequest, HttpResponse, Probe};
use super::{setting, Provider, Secrets, Settings};

pub struct OpenAi;

const API_BASE: &str = "https://api.openai.com";

impl Provider for OpenAi {
    fn id(&self) -> &'static str {
        "openai"
    }

    fn probe(&self, secrets: Secrets<'_>, settings: &dyn Settings) -> HttpRequest {
        let base = setting(settings, "OPENAI", "API_BASE", API_BASE);
        HttpRequest::get(format!("{base}/v1/organization/projects?limit=1"))
            .bearer(secrets.field("admin_key"))
    }

    fn interpret_probe(&self, resp: &HttpResponse) -> Probe {
        interpret(resp, |_| Probe::Ok(json!({})), error_message)
    }

    /// Daily usage per model and daily costs (`super::ai_usage`).
    fn sync_source(
        &self,
        secrets: Secrets<'_>,
        settings: &dyn Settings,
        _user_settings: &serde_json::Value,
    ) -> Option<Box<dyn crate::sync::engine::Source>> {
        let base = setting(settings, "OPENAI", "API_BASE", API_BASE);
        Some(AiUsageSync::boxed(Vendor::OpenAi, base, secrets))
    }

    /// Usage is stored by whole day.
    fn publishes_every(&self) -> Option<u32> {
        Some(1440)
    }

    fn sync_facts(&self) -> Option<super::SyncFacts> {
        Some(super::ai_usage::SYNC_FACTS)
    }

    fn support(&self) -> super::Support {
        super::Support::SYNCS
    }
}
