//! The registry of provider implementations: the one place that says what the
//! code can do with an integration. The catalog's capability flags and status
//! are read from here, so they change only when working code does.
//!
//! No provider is implemented yet: connecting arrives with the datasources
//! work, syncing with the sync engine. Each will live in its own file here,
//! behind one `Provider` trait, and register itself in [`support`].

/// What the code supports for one integration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Support {
    pub connect: bool,
    pub sync: bool,
    pub webhooks: bool,
}

/// Support for the integration with this catalog id.
pub fn support(_integration_id: &str) -> Support {
    Support::default()
}

/// Whether the manual-entry route exists (it arrives with the sync engine).
pub fn manual_entry_works() -> bool {
    false
}

/// Whether the CSV/file-upload route exists (it arrives with the sync engine).
pub fn file_upload_works() -> bool {
    false
}
