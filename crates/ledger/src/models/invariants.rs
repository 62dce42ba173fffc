//! Models invariants.

use crate::store::Store;

pub fn check(_store: &Store) -> Result<(), String> {
    Ok(())
}
