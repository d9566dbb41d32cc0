//! TEMP stand-in (dropped once the real module is merged): reference values.

use std::path::Path;

/// Stand-in.
#[derive(Debug, Clone, Default)]
pub struct ReferenceValues {
    any: bool,
}

/// Stand-in.
#[derive(Debug, Clone, thiserror::Error)]
#[error("reference values: {0}")]
pub struct ReferenceError(pub String);

impl ReferenceValues {
    /// Stand-in.
    ///
    /// # Errors
    /// Never.
    pub fn from_toml(text: &str) -> Result<Self, ReferenceError> {
        if text.contains("bad") {
            return Err(ReferenceError(format!("bad key at line 1: {text}")));
        }
        Ok(Self::default())
    }

    /// Stand-in.
    ///
    /// # Errors
    /// Unreadable file.
    pub fn load(path: &Path) -> Result<Self, ReferenceError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ReferenceError(format!("{}: {e}", path.display())))?;
        Self::from_toml(&text)
    }

    /// Stand-in.
    #[must_use]
    pub fn is_any(&self) -> bool {
        self.any
    }

    /// Stand-in.
    #[must_use]
    pub fn insecure_any_image() -> Self {
        Self { any: true }
    }
}
