//! Models invariants, over the committed state: every stored chunk belongs to a registered
//! model's file, sits inside it and has the length its commitment fixes; an uploading model
//! counts exactly the chunks it has stored, an active one has all of them, a rejected or
//! expired one none; a record's id is the hash of its manifest; the expiry index holds exactly
//! the uploading models, at their expiry; the deposits pool holds exactly their deposits.

use super::state::{self, parse_chunk_key, CHUNK_PREFIX};
use super::ModelStatus;
use crate::bank::{self, Pool};
use crate::store::Store;
use std::collections::{BTreeMap, BTreeSet};
use surety_types::{Amount, Height, ModelId};

/// Check the models invariants (module doc) against `store`.
pub fn check(store: &Store) -> Result<(), String> {
    let records = state::all_models(store);
    let by_id: BTreeMap<ModelId, &state::ModelRecord> =
        records.iter().map(|record| (record.id, record)).collect();
    let stored = stored_chunks(store, &by_id)?;
    let mut deposits = Amount::ZERO;
    let mut uploading: BTreeSet<(Height, ModelId)> = BTreeSet::new();
    for record in &records {
        if let ModelStatus::Uploading {
            deposit, expires, ..
        } = record.status
        {
            deposits = deposits
                .checked_add(deposit)
                .map_err(|e| format!("model deposits: {e}"))?;
            uploading.insert((expires, record.id));
        }
        check_record(record, &stored)?;
    }
    let pool = bank::pool_balance(store, Pool::ModelDeposits);
    if pool != deposits {
        return Err(format!(
            "the model deposits pool holds {pool}, the uploading models' deposits are {deposits}"
        ));
    }
    let index: BTreeSet<(Height, ModelId)> = state::all_expiries(store).into_iter().collect();
    if index != uploading {
        return Err(format!(
            "the expiry index {index:?} is not the uploading models' expiries {uploading:?}"
        ));
    }
    Ok(())
}

/// How many chunks each model has stored, checking that every stored chunk belongs to a
/// registered model's file, sits inside it and has the length its commitment fixes.
fn stored_chunks(
    store: &Store,
    by_id: &BTreeMap<ModelId, &state::ModelRecord>,
) -> Result<BTreeMap<ModelId, u64>, String> {
    let mut stored: BTreeMap<ModelId, u64> = BTreeMap::new();
    // Walk the chunk keys in place: chunks are the bulk of the state and need not be copied.
    let chunks = store
        .committed_entries()
        .skip_while(|(key, _)| key.as_slice() < CHUNK_PREFIX)
        .take_while(|(key, _)| key.starts_with(CHUNK_PREFIX));
    for (key, value) in chunks {
        let (model, file, index) = parse_chunk_key(key)
            .ok_or_else(|| format!("malformed chunk key {}", String::from_utf8_lossy(key)))?;
        let record = by_id
            .get(&model)
            .ok_or_else(|| format!("a chunk is stored for unregistered model {model}"))?;
        let expected = record
            .files
            .get(file as usize)
            .and_then(|commitment| commitment.chunk_len(index))
            .ok_or_else(|| format!("model {model} has no chunk {index} of file {file}"))?;
        if value.len() as u64 != expected {
            return Err(format!(
                "chunk {index} of file {file} of model {model} is {} bytes, not {expected}",
                value.len()
            ));
        }
        // One per stored entry: a count of the state's own entries never nears u64::MAX.
        let count = stored.entry(model).or_default();
        *count = count.saturating_add(1);
    }
    Ok(stored)
}

/// One record against the chunks stored for it: its id is the hash of its manifest, and its
/// status counts its chunks right.
fn check_record(
    record: &state::ModelRecord,
    stored: &BTreeMap<ModelId, u64>,
) -> Result<(), String> {
    let manifest = super::decode_manifest(&record.manifest)
        .map_err(|e| format!("model {}: stored manifest: {e}", record.id))?;
    if manifest.model_id() != record.id {
        return Err(format!(
            "model {} is not the hash of its manifest",
            record.id
        ));
    }
    let total: u64 = record.files.iter().map(|f| f.chunk_count()).sum();
    let count = stored.get(&record.id).copied().unwrap_or(0);
    let consistent = match &record.status {
        ModelStatus::Uploading {
            chunks_stored,
            chunks_total,
            ..
        } => *chunks_total == total && *chunks_stored == count && count < total,
        ModelStatus::Active { .. } => count == total,
        ModelStatus::Rejected { .. } | ModelStatus::Expired { .. } => count == 0,
    };
    if !consistent {
        return Err(format!(
            "model {} is {:?} with {count} of its {total} chunks stored",
            record.id, record.status
        ));
    }
    Ok(())
}
