//! Anthropic Admin API (usage and cost reports need an Admin key).
//! <https://docs.anthropic.com/en/api/administration-api>

use serde_json::json;

use super::http::{error_message, interpret, HttpRequest, HttpResponse, Probe};
use super::{setting, Provider, Secrets, Settings};

pub struct Anthropic;

const API_BASE: &str = "https://api.anthropic.com";
const API_VERSION: &str = "2023-06-01";

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
}
