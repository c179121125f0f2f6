//! Turns the catalog's TOML files (`../catalog/*.toml`) into one JSON array
//! at compile time, so the Worker embeds JSON and needs no TOML parser.

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
}
