//! Loading a config into a new [`Generation`], and SIGHUP reload: validate and compile off
//! the worker threads, then swap the whole generation in with one `ArcSwap::store`.

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::config::{self, ConfigError};
use crate::routing::RouteTable;
use crate::runtime::log;
use crate::state::{Generation, Shared};

/// Reads, validates and compiles the config at `path`.
pub fn load_generation(path: &Path, number: u64) -> Result<Generation, Vec<ConfigError>> {
    let bytes = std::fs::read(path).map_err(|e| {
        vec![ConfigError {
            path: path.display().to_string(),
            line: 1,
            col: 1,
            message: format!("cannot read: {e}"),
        }]
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let config = config::parse(&text, path)?;
    let table = RouteTable::compile(&config).map_err(|message| {
        vec![ConfigError {
            path: path.display().to_string(),
            line: 1,
            col: 1,
            message,
        }]
    })?;
    let sha256 = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Generation {
        number,
        config,
        table,
        loaded_at: SystemTime::now(),
        sha256,
    })
}

/// SIGHUP: a config that does not validate leaves the current generation in place.
pub fn reload(shared: &Arc<Shared>, path: &Path) {
    let current = shared.current.load_full();
    match load_generation(path, current.number + 1) {
        Ok(next) => {
            if next.config.server.listen != current.config.server.listen
                || next.config.server.workers != current.config.server.workers
                || next.config.admin != current.config.admin
                || next.config.log.access != current.config.log.access
            {
                log::warn(
                    "reload: server.listen, server.workers, admin.listen and log.access changes take effect only on restart",
                );
            }
            log::set_level(next.config.log.level);
            let n = next.number;
            shared.current.store(Arc::new(next));
            shared
                .reloads_ok
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            log::info(&format!("reload: generation {n} in service"));
        }
        Err(errors) => {
            for e in &errors {
                log::error(&format!("reload: {e}"));
            }
            log::error("reload: config rejected, the previous one stays in service");
            shared
                .reloads_failed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}
