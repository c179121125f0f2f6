//! What a production deployment must configure. Local development runs on
//! `http://localhost` with generated secrets; production must not inherit
//! any of that silently: `ENVIRONMENT = "production"` (set by
//! `[env.production]` in `wrangler.toml`) makes every request refuse to run
//! (an opaque 500 whose log line names the setting) until these hold.

/// The settings read, by name. Values are trimmed, empty means unset.
pub fn check(get: impl Fn(&str) -> Option<String>) -> Result<(), String> {
    if get("ENVIRONMENT").as_deref() != Some("production") {
        return Ok(());
    }
    let https = |name: &str, value: &str| -> Result<(), String> {
        if value.starts_with("https://") && value.len() > "https://".len() {
            Ok(())
        } else {
            Err(format!(
                "{name} must be an https:// origin in production, not {value:?}"
            ))
        }
    };
    let required =
        |name: &str| get(name).ok_or_else(|| format!("{name} must be set in production"));
    https("PUBLIC_BASE_URL", &required("PUBLIC_BASE_URL")?)?;
    https("FRONTEND_ORIGIN", &required("FRONTEND_ORIGIN")?)?;
    https("CLERK_ISSUER", &required("CLERK_ISSUER")?)?;
    let origins = required("ALLOWED_ORIGINS")?;
    for origin in origins.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        https("ALLOWED_ORIGINS", origin)?;
    }
    if let Some(parties) = get("CLERK_AUTHORIZED_PARTIES") {
        for party in parties.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            https("CLERK_AUTHORIZED_PARTIES", party)?;
        }
    }
    for local in ["localhost", "127.0.0.1"] {
        for name in ["PUBLIC_BASE_URL", "FRONTEND_ORIGIN", "ALLOWED_ORIGINS"] {
            if get(name).is_some_and(|v| v.contains(local)) {
                return Err(format!("{name} points at {local} in production"));
            }
        }
    }
    required("ENCRYPTION_KEY")?;
    if get("TEST_PANIC_ROUTE").is_some() {
        return Err("TEST_PANIC_ROUTE must not be set in production".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const GOOD: &[(&str, &str)] = &[
        ("ENVIRONMENT", "production"),
        ("PUBLIC_BASE_URL", "https://api.example.com"),
        ("FRONTEND_ORIGIN", "https://app.example.com"),
        (
            "ALLOWED_ORIGINS",
            "https://app.example.com,https://www.example.com",
        ),
        ("CLERK_ISSUER", "https://clerk.example.com"),
        ("ENCRYPTION_KEY", "k"),
    ];

    #[test]
    fn development_needs_nothing() {
        assert!(check(env(&[])).is_ok());
    }

    #[test]
    fn complete_production_configuration_passes() {
        assert!(check(env(GOOD)).is_ok());
    }

    #[test]
    fn missing_public_base_url_is_named() {
        let pairs: Vec<_> = GOOD
            .iter()
            .copied()
            .filter(|(k, _)| *k != "PUBLIC_BASE_URL")
            .collect();
        assert!(check(env(&pairs)).unwrap_err().contains("PUBLIC_BASE_URL"));
    }

    #[test]
    fn http_origins_are_refused_in_production() {
        let mut pairs = GOOD.to_vec();
        pairs.push((
            "ALLOWED_ORIGINS",
            "https://app.example.com,http://app.example.com",
        ));
        let pairs: Vec<_> = pairs.into_iter().rev().fold(Vec::new(), |mut acc, (k, v)| {
            if !acc.iter().any(|(key, _): &(&str, &str)| *key == k) {
                acc.push((k, v));
            }
            acc
        });
        assert!(check(env(&pairs)).unwrap_err().contains("ALLOWED_ORIGINS"));
    }
}
