//! Turns the catalog's TOML files (`../catalog/*.toml`) into one JSON array,
//! and the emission factors (`../factors/*.toml`) into one JSON object of
//! editions and factors, at compile time: the Worker embeds JSON and needs
//! no TOML parser.

use std::{env, fs, path::Path};

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../catalog");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = fs::read_dir(&dir)
        .expect("catalog/ directory")
        .map(|e| e.expect("catalog entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut all = Vec::new();
    for file in files {
        println!("cargo:rerun-if-changed={}", file.display());
        let text = fs::read_to_string(&file).expect("readable catalog file");
        let doc: toml::Table =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for (key, value) in doc {
            assert_eq!(
                key,
                "integration",
                "{}: only [[integration]] tables belong here",
                file.display()
            );
            let toml::Value::Array(items) = value else {
                panic!(
                    "{}: `integration` must be an array of tables",
                    file.display()
                );
            };
            for item in items {
                all.push(serde_json::to_value(item).expect("TOML converts to JSON"));
            }
        }
    }
    let out = Path::new(&env::var("OUT_DIR").unwrap()).join("catalog.json");
    fs::write(out, serde_json::to_string(&all).unwrap()).expect("write catalog.json");
    factors();
}

/// `../factors/*.toml`: `[[edition]]` and `[[factor]]` tables, merged.
fn factors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../factors");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = fs::read_dir(&dir)
        .expect("factors/ directory")
        .map(|e| e.expect("factors entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut merged = serde_json::Map::new();
    for key in ["edition", "factor"] {
        merged.insert(key.into(), serde_json::Value::Array(Vec::new()));
    }
    for file in files {
        println!("cargo:rerun-if-changed={}", file.display());
        let text = fs::read_to_string(&file).expect("readable factors file");
        let doc: toml::Table =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for (key, value) in doc {
            let Some(serde_json::Value::Array(into)) = merged.get_mut(&key) else {
                panic!(
                    "{}: only [[edition]] and [[factor]] belong here",
                    file.display()
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
    let out = Path::new(&env::var("OUT_DIR").unwrap()).join("factors.json");
    fs::write(out, serde_json::to_string(&merged).unwrap()).expect("write factors.json");
}
