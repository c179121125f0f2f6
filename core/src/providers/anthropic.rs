//! Anthropic Admin API (usage and cost reports need an Admin key).
//! <https://docs.anthropic.com/en/api/administration-api>

use serde_json::json;

use super::ai_usage::{AiUsageSync, Vendor};
use super::http::{error_message, interpret, HttpRequest, HttpResponse, Probe};
use super::{setting, Provider, Secrets, Settings};

pub struct Anthropic;

const API_BASE: &str = "https://api.anthropic.com";
const API_VERSION: &str = super::ai_usage::ANTHROPIC_VERSION;

impl Provider for Anthropic {
    fn id(&self) -> &'static str {
        "anthropic"
    }

    fn probe(&self, secrets: Secrets<'_>, settings: &dyn Settings) -> HttpRequest {
        let base = setting(settings, "ANTHROPIC", "API_BASE", API_BASE);
        HttpRequest::get(format!("{base}/v1/organizations/workspaces?limit=1"))
            .header("x-api-key", secrets.field("admin_key"))
            .header("anthropic-version", API_VERSION)
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
        let base = setting(settings, "ANTHROPIC", "API_BASE", API_BASE);
        Some(AiUsageSync::boxed(Vendor::Anthropic, base, secrets))
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
