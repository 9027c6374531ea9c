//! Reading and validating a config file. (To be written.)

use std::path::Path;

use super::{Config, ConfigError};

/// Reads and validates the file at `path`; errors name it as given.
pub fn load(path: &Path) -> Result<Config, Vec<ConfigError>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![ConfigError { path: path.display().to_string(), line: 1, col: 1, message: format!("cannot read: {e}") }]
    })?;
    parse(&text, path)
}

/// Validates `text` as the contents of `path`.
pub fn parse(text: &str, path: &Path) -> Result<Config, Vec<ConfigError>> {
    let _ = (text, path);
    unimplemented!("config::parse")
}
