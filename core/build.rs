//! Turns the catalog's TOML files (`../catalog/*.toml`) into one JSON array,
//! and the emission factors (`../factors/*.toml`) into one JSON object of
//! editions and factors, at compile time: the Worker embeds JSON and needs
//! no TOML parser.

use serde_json::{Map, Value};
use std::{env, fs, path::Path};

fn main() {
    let mut catalog = tables("catalog", &["integration"]);
    write("catalog.json", &catalog.remove("integration").unwrap());
    write(
        "factors.json",
        &Value::Object(tables(
            "factors",
            &[
                "edition",
                "factor",
                "estimate",
                "spend_factor",
                "exchange_rate",
                "price_index",
                "spend_category",
            ],
        )),
    );
}

/// Every `[[key]]` table of `../{dir}/*.toml` (files in name order), by
/// key; any other top-level key is a build error naming the file.
fn tables(dir: &str, keys: &[&str]) -> Map<String, Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
    println!("cargo:rerun-if-changed={}", path.display());
    let mut files: Vec<_> = fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("{dir}/ directory: {e}"))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut merged: Map<String, Value> = keys
        .iter()
        .map(|k| (k.to_string(), Value::Array(Vec::new())))
        .collect();
    let allowed: Vec<String> = keys.iter().map(|k| format!("[[{k}]]")).collect();
    for file in files {
        println!("cargo:rerun-if-changed={}", file.display());
        let text = fs::read_to_string(&file).expect("readable TOML file");
        let doc: toml::Table =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for (key, value) in doc {
            let Some(Value::Array(into)) = merged.get_mut(&key) else {
                panic!(
                    "{}: only {} tables belong here",
                    file.display(),
                    allowed.join(" and ")
                );
            };
            let toml::Value::Array(items) = value else {
                panic!("{}: `{key}` must be an array of tables", file.display());
            };
            for item in items {
                into.push(serde_json::to_value(item).expect("TOML converts to JSON"));
            }
        }
    }
    merged
}

fn write(name: &str, value: &Value) {
    let out = Path::new(&env::var("OUT_DIR").unwrap()).join(name);
    fs::write(out, serde_json::to_string(value).unwrap()).expect("write embedded JSON");
}
