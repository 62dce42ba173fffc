//! Key files: one JSON file per key, `{"seed": "<hex>"}`, readable by its owner only.

use crate::{print, CliError, KeyDir};
use clap::Subcommand;
use serde_json::Value;
use std::path::{Path, PathBuf};
use surety_types::{AccountId, OperatorId, SigningKey};

#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyError {
    #[error("key name {0:?} must be 1-64 letters, digits, '-' or '_'")]
    BadName(String),
    #[error("key {0:?} already exists; refusing to overwrite it")]
    Exists(String),
    #[error("no key {name:?} in {dir}")]
    Missing { name: String, dir: String },
    #[error("key file {file} is malformed: {reason}")]
    Malformed { file: String, reason: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub(crate) fn default_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".surety")
        .join("keys")
}

fn check_name(name: &str) -> Result<(), KeyError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(KeyError::BadName(name.to_string()))
    }
}

pub(crate) fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.json"))
}

pub(crate) fn create(dir: &Path, name: &str) -> Result<SigningKey, KeyError> {
    check_name(name)?;
    std::fs::create_dir_all(dir)?;
    let file = path(dir, name);
    if file.exists() {
        return Err(KeyError::Exists(name.to_string()));
    }
    let key = SigningKey::generate();
    save(&file, &key)?;
    Ok(key)
}

/// Write a key file readable by its owner only.
pub(crate) fn save(file: &Path, key: &SigningKey) -> Result<(), KeyError> {
    let text = serde_json::json!({ "seed": hex::encode(key.seed()) }).to_string();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    options.open(file)?.write_all(text.as_bytes())?;
    Ok(())
}

pub(crate) fn load(dir: &Path, name: &str) -> Result<SigningKey, KeyError> {
    check_name(name)?;
    let file = path(dir, name);
    let text = std::fs::read_to_string(&file).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => KeyError::Missing {
            name: name.to_string(),
            dir: dir.display().to_string(),
        },
        _ => KeyError::Io(e),
    })?;
    let malformed = |reason: String| KeyError::Malformed {
        file: file.display().to_string(),
        reason,
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| malformed(e.to_string()))?;
    let seed = value["seed"]
        .as_str()
        .ok_or_else(|| malformed("no \"seed\" string".into()))?;
    let bytes = hex::decode(seed).map_err(|e| malformed(e.to_string()))?;
    let seed: [u8; 32] = bytes
        .try_into()
        .map_err(|_| malformed("seed is not 32 bytes".into()))?;
    Ok(SigningKey::from_seed(seed))
}

pub(crate) fn list(dir: &Path) -> Result<Vec<String>, KeyError> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|entry| {
            entry
                .ok()?
                .file_name()
                .to_str()?
                .strip_suffix(".json")
                .map(str::to_string)
        })
        .collect();
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_key_loads_back_and_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let key = create(dir.path(), "alice").unwrap();
        assert_eq!(load(dir.path(), "alice").unwrap().seed(), key.seed());
        assert!(matches!(
            create(dir.path(), "alice"),
            Err(KeyError::Exists(_))
        ));
        assert_eq!(list(dir.path()).unwrap(), vec!["alice".to_string()]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path(dir.path(), "alice"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn bad_names_and_bad_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            create(dir.path(), "../evil"),
            Err(KeyError::BadName(_))
        ));
        assert!(matches!(
            load(dir.path(), "nobody"),
            Err(KeyError::Missing { .. })
        ));
        std::fs::write(path(dir.path(), "broken"), "{\"seed\": \"abcd\"}").unwrap();
        assert!(matches!(
            load(dir.path(), "broken"),
            Err(KeyError::Malformed { .. })
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// `surety keys`

#[derive(Subcommand)]
pub(crate) enum KeysCommand {
    /// Generate a new key and save it as NAME.
    New {
        name: String,
        #[command(flatten)]
        dir: KeyDir,
    },
    /// Show a key's account id.
    Show {
        name: String,
        #[command(flatten)]
        dir: KeyDir,
    },
    /// List saved keys.
    List {
        #[command(flatten)]
        dir: KeyDir,
    },
}

pub(crate) fn run(json: bool, command: &KeysCommand) -> Result<(), CliError> {
    match command {
        KeysCommand::New { name, dir } => {
            let key = create(&dir.keys, name)?;
            let account = AccountId::from_key(&key.verification_key());
            print(
                json,
                &serde_json::json!({ "name": name, "account": account, "file": path(&dir.keys, name) }),
            );
        }
        KeysCommand::Show { name, dir } => {
            let key = load(&dir.keys, name)?;
            let account = AccountId::from_key(&key.verification_key());
            print(
                json,
                &serde_json::json!({ "name": name, "account": account, "operator": OperatorId::from(account) }),
            );
        }
        KeysCommand::List { dir } => {
            let names = list(&dir.keys)?;
            let entries: Vec<Value> = names
                .iter()
                .filter_map(|name| {
                    let key = load(&dir.keys, name).ok()?;
                    Some(serde_json::json!({ "name": name, "account": AccountId::from_key(&key.verification_key()) }))
                })
                .collect();
            print(json, &Value::Array(entries));
        }
    }
    Ok(())
}
