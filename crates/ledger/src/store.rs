//! The ledger's key-value state, in three layers: the committed state (with its sparse Merkle
//! tree), the current block's writes, and the current transaction's writes. A transaction that
//! fails has its layer dropped whole, so nothing it did is half-applied; a block is committed
//! to the tree in one step at its end.
//!
//! Keys are `module/...` byte strings built by each module's `state.rs`; values are borsh.
//! Modules read and write typed values through [`Store::get`] / [`Store::put`].
//!
//! Beside the state, a store keeps memos ([`Store::memoised`]): values derived from the entries
//! under a few key prefixes, kept until any entry under them may have changed. They are not
//! state (no root, no persistence), only a pure function of entries every node holds, so a
//! memoised read returns what a fresh scan would, on every node.

use crate::smt::{SparseMerkleTree, StateProof};
use borsh::{BorshDeserialize, BorshSerialize};
use std::any::Any;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;
use surety_types::encoding::encode;
use surety_types::{Hash, Height};

type Layer = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Entries a block wrote, in key order; `None` means deleted.
pub type Changes = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// The ledger's state: committed entries with their Merkle tree, the open block's writes and
/// the open transaction's, and the events of each. Every module reads and writes through it;
/// which keys a module may write is each module's `state.rs`'s business.
#[derive(Clone, Debug, Default)]
pub struct Store {
    committed: BTreeMap<Vec<u8>, Vec<u8>>,
    tree: SparseMerkleTree,
    block: Layer,
    tx: Option<Layer>,
    /// The open transaction's layers below `tx` while items of it run isolated (entries of a
    /// batch; [`Store::isolated`]), outermost first.
    tx_outer: Vec<Layer>,
    /// Layers of hook items ([`Store::isolated`]), innermost last, each with its events; only
    /// outside transactions.
    items: Vec<(Layer, Vec<crate::Event>)>,
    block_events: Vec<crate::Event>,
    tx_events: Vec<crate::Event>,
    /// How many entries were read and written (not state: a measure of work for benchmarks).
    access: StoreAccess,
    /// Values derived from state, kept until what they were derived from changes (not state).
    memo: RefCell<Memo>,
}

/// Memoised values and the key prefixes they watch. Every write or delete, and every layer
/// dropped with writes in it, counts a change on each watched prefix the key falls under; a
/// value is fresh while the counts of the prefixes it was computed from have not moved.
#[derive(Clone, Default)]
struct Memo {
    watches: Vec<Watch>,
    values: BTreeMap<Vec<u8>, Memoised>,
}

/// A watched key prefix and how many changes under it were seen.
#[derive(Clone, Debug)]
struct Watch {
    prefix: Vec<u8>,
    changes: u64,
}

/// A memoised value with the change counts of its watches (by index) when it was computed.
#[derive(Clone)]
struct Memoised {
    seen: Vec<(usize, u64)>,
    value: Arc<dyn Any + Send + Sync>,
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memo")
            .field("watches", &self.watches)
            .field("values", &self.values.len())
            .finish()
    }
}

impl Memo {
    /// An entry under `key` may have changed: every watch it falls under counts a change.
    fn touch(&mut self, key: &[u8]) {
        for watch in &mut self.watches {
            if key.starts_with(&watch.prefix) {
                // Wrapping, not saturating: a count that stopped would hide changes; one that
                // wraps would need 2^64 writes between two reads to repeat a value.
                watch.changes = watch.changes.wrapping_add(1);
            }
        }
    }

    /// Every entry of a dropped layer may have changed back.
    fn touch_layer(&mut self, layer: &Layer) {
        if self.watches.is_empty() {
            return;
        }
        for key in layer.keys() {
            self.touch(key);
        }
    }

    /// The value memoised under `name`, if it is a `T` and none of its watches changed since.
    fn fresh<T: Clone + 'static>(&self, name: &[u8]) -> Option<T> {
        let memoised = self.values.get(name)?;
        let unchanged = memoised
            .seen
            .iter()
            .all(|(index, changes)| self.watches.get(*index).map(|w| w.changes) == Some(*changes));
        if !unchanged {
            return None;
        }
        memoised.value.downcast_ref::<T>().cloned()
    }

    /// Keep `value` under `name`, computed from the entries under `watched` as they are now.
    fn keep(&mut self, name: &[u8], watched: &[&[u8]], value: Arc<dyn Any + Send + Sync>) {
        let seen = watched
            .iter()
            .map(|prefix| {
                let index = match self.watches.iter().position(|w| w.prefix == *prefix) {
                    Some(index) => index,
                    None => {
                        self.watches.push(Watch {
                            prefix: prefix.to_vec(),
                            changes: 0,
                        });
                        self.watches.len().saturating_sub(1)
                    }
                };
                (index, self.watches[index].changes)
            })
            .collect();
        self.values.insert(name.to_vec(), Memoised { seen, value });
    }
}

/// Counts of store operations since the store was made.
#[derive(Clone, Debug, Default)]
pub struct StoreAccess {
    reads: std::cell::Cell<u64>,
    writes: u64,
}

impl StoreAccess {
    /// Entries read so far (every `get_raw`, hits and misses).
    pub fn reads(&self) -> u64 {
        self.reads.get()
    }

    /// Entries written or deleted so far.
    pub fn writes(&self) -> u64 {
        self.writes
    }
}

impl Store {
    /// An empty state (root `smt::EMPTY_HASH`).
    pub fn new() -> Store {
        Store::default()
    }

    /// The bytes at `key`, as the open transaction sees them: its own writes, then the block's,
    /// then the committed state. `None` if absent or deleted.
    pub fn get_raw(&self, key: &[u8]) -> Option<&[u8]> {
        // A measure for benchmarks, not state: stopping at u64::MAX reads is the right meaning.
        self.access
            .reads
            .set(self.access.reads.get().saturating_add(1));
        for layer in self.tx.iter().chain(self.tx_outer.iter().rev()) {
            if let Some(value) = layer.get(key) {
                return value.as_deref();
            }
        }
        for (layer, _) in self.items.iter().rev() {
            if let Some(value) = layer.get(key) {
                return value.as_deref();
            }
        }
        if let Some(value) = self.block.get(key) {
            return value.as_deref();
        }
        self.committed.get(key).map(Vec::as_slice)
    }

    /// Entries read and written so far: the work a block did, independent of the machine.
    pub fn access(&self) -> &StoreAccess {
        &self.access
    }

    fn top_layer(&mut self) -> &mut Layer {
        // A measure for benchmarks, not state (see `get_raw`).
        self.access.writes = self.access.writes.saturating_add(1);
        match (&mut self.tx, self.items.last_mut()) {
            (Some(layer), _) => layer,
            (None, Some((layer, _))) => layer,
            (None, None) => &mut self.block,
        }
    }

    /// Write `key` in the open layer (the transaction's, else the block's).
    pub fn put_raw(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.memo.get_mut().touch(&key);
        self.top_layer().insert(key, Some(value));
    }

    /// Delete `key` in the open layer; it reads as absent from then on.
    pub fn delete(&mut self, key: &[u8]) {
        self.memo.get_mut().touch(key);
        self.top_layer().insert(key.to_vec(), None);
    }

    /// `compute(self)`, memoised under `name` until an entry under one of the `watched` prefixes
    /// is written or deleted, or a layer holding such a write is dropped: then the next call
    /// computes afresh. `compute` must read nothing outside `watched` (or the memo could outlive
    /// a change it depends on), and the same `name` must always mean the same `compute` and
    /// `watched`. Not state: a memo is never in the root, and a fresh store recomputes it.
    pub fn memoised<T: Clone + Send + Sync + 'static>(
        &self,
        name: &[u8],
        watched: &[&[u8]],
        compute: impl FnOnce(&Store) -> T,
    ) -> T {
        if let Some(value) = self.memo.borrow().fresh::<T>(name) {
            return value;
        }
        // No borrow is held while computing: `compute` may read other memos. It cannot write
        // (it has `&Store`), so the counts read by `keep` are those the value was computed at.
        let value = compute(self);
        self.memo
            .borrow_mut()
            .keep(name, watched, Arc::new(value.clone()));
        value
    }

    /// Read a typed value. State is only ever written by this crate, so a value that fails to
    /// decode is a bug (corrupt state), not bad input.
    pub fn get<T: BorshDeserialize>(&self, key: &[u8]) -> Option<T> {
        self.get_raw(key).map(|bytes| {
            borsh::from_slice(bytes).unwrap_or_else(|e| {
                panic!("corrupt state at key {}: {e}", String::from_utf8_lossy(key))
            })
        })
    }

    /// Read a typed value that may not decode (state written by another ledger version, read
    /// back at restore): `None` if it is missing or does not decode.
    pub fn try_get<T: BorshDeserialize>(&self, key: &[u8]) -> Option<T> {
        self.get_raw(key)
            .and_then(|bytes| borsh::from_slice(bytes).ok())
    }

    /// True if `key` holds a value.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.get_raw(key).is_some()
    }

    /// Write a typed value, borsh-encoded, at `key`.
    pub fn put<T: BorshSerialize>(&mut self, key: Vec<u8>, value: &T) {
        self.put_raw(key, encode(value));
    }

    /// All live entries whose key starts with `prefix`, in key order, merged across layers.
    pub fn prefix_entries(&self, prefix: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut merged: BTreeMap<&[u8], Option<&[u8]>> = BTreeMap::new();
        let range = (Bound::Included(prefix.to_vec()), Bound::Unbounded);
        for (key, value) in self.committed.range::<Vec<u8>, _>(range.clone()) {
            if !key.starts_with(prefix) {
                break;
            }
            merged.insert(key, Some(value));
        }
        let layers = std::iter::once(&self.block)
            .chain(self.items.iter().map(|(layer, _)| layer))
            .chain(self.tx_outer.iter())
            .chain(self.tx.iter());
        for layer in layers {
            for (key, value) in layer.range::<Vec<u8>, _>(range.clone()) {
                if !key.starts_with(prefix) {
                    break;
                }
                merged.insert(key, value.as_deref());
            }
        }
        merged
            .into_iter()
            .filter_map(|(key, value)| value.map(|value| (key.to_vec(), value.to_vec())))
            .collect()
    }

    /// The live keys under `prefix`, in key order, merged across layers; values are not copied.
    pub fn prefix_keys(&self, prefix: &[u8]) -> Vec<Vec<u8>> {
        let mut merged: BTreeMap<&[u8], bool> = BTreeMap::new();
        let range = (Bound::Included(prefix.to_vec()), Bound::Unbounded);
        for (key, _) in self.committed.range::<Vec<u8>, _>(range.clone()) {
            if !key.starts_with(prefix) {
                break;
            }
            merged.insert(key, true);
        }
        let layers = std::iter::once(&self.block)
            .chain(self.items.iter().map(|(layer, _)| layer))
            .chain(self.tx_outer.iter())
            .chain(self.tx.iter());
        for layer in layers {
            for (key, value) in layer.range::<Vec<u8>, _>(range.clone()) {
                if !key.starts_with(prefix) {
                    break;
                }
                merged.insert(key, value.is_some());
            }
        }
        merged
            .into_iter()
            .filter(|(_, live)| *live)
            .map(|(key, _)| key.to_vec())
            .collect()
    }

    /// The ids filed in schedule `name` at `height`, in key order, removing their entries.
    pub fn take_scheduled(&mut self, name: &str, height: Height) -> Vec<[u8; 32]> {
        let prefix = key(name, &[&height.get().to_be_bytes()]);
        let mut ids = Vec::new();
        for entry in self.prefix_keys(&prefix) {
            if let Some(id) = schedule_id(&entry, prefix.len()) {
                ids.push(id);
                self.delete(&entry);
            }
        }
        ids
    }

    /// Every (height, id) of schedule `name`, in key order.
    pub fn scheduled(&self, name: &str) -> Vec<(Height, [u8; 32])> {
        let mut prefix = name.as_bytes().to_vec();
        prefix.push(b'/');
        self.prefix_keys(&prefix)
            .into_iter()
            .filter_map(|entry| {
                let height_end = prefix.len().checked_add(8)?;
                let height: [u8; 8] = entry.get(prefix.len()..height_end)?.try_into().ok()?;
                let id = schedule_id(&entry, height_end)?;
                Some((Height::new(u64::from_be_bytes(height)), id))
            })
            .collect()
    }

    /// Typed values under `prefix`, in key order.
    pub fn prefix_values<T: BorshDeserialize>(&self, prefix: &[u8]) -> Vec<(Vec<u8>, T)> {
        self.prefix_entries(prefix)
            .into_iter()
            .map(|(key, bytes)| {
                let value = borsh::from_slice(&bytes).unwrap_or_else(|e| {
                    panic!(
                        "corrupt state at key {}: {e}",
                        String::from_utf8_lossy(&key)
                    )
                });
                (key, value)
            })
            .collect()
    }

    /// Record an event: the open transaction's (dropped with it if it fails), else the block's.
    pub fn emit(&mut self, event: impl Into<crate::Event>) {
        let event = event.into();
        if self.tx.is_some() {
            self.tx_events.push(event);
        } else if let Some((_, events)) = self.items.last_mut() {
            events.push(event);
        } else {
            self.block_events.push(event);
        }
    }

    /// Run one item of a hook (one job's deadline, one slash, one expiry) or of a batch
    /// transaction (one seal of many) in a layer of its own: if it fails, its writes and events
    /// are dropped whole and the error is returned for the caller to report as an event, so
    /// one bad item never fails the block (or the rest of the batch). Items nest.
    pub fn isolated<T, E>(
        &mut self,
        item: impl FnOnce(&mut Store) -> Result<T, E>,
    ) -> Result<T, E> {
        // `take`, not `replace`: outside a transaction (hook items) no transaction layer may be
        // left open, or the item's writes would bypass its own layer and outlive its failure.
        if let Some(outer) = self.tx.take() {
            self.tx_outer.push(outer);
            self.tx = Some(Layer::new());
            let events = self.tx_events.len();
            let result = item(self);
            let inner = self.tx.take().unwrap_or_default();
            let mut outer = self.tx_outer.pop().expect("the transaction's own layer");
            if result.is_ok() {
                outer.extend(inner);
            } else {
                self.memo.get_mut().touch_layer(&inner);
                self.tx_events.truncate(events);
            }
            self.tx = Some(outer);
            return result;
        }
        self.items.push((Layer::new(), Vec::new()));
        let result = item(self);
        let (layer, events) = self.items.pop().expect("the item's own layer");
        if result.is_ok() {
            match self.items.last_mut() {
                Some((outer, outer_events)) => {
                    outer.extend(layer);
                    outer_events.extend(events);
                }
                None => {
                    self.block.extend(layer);
                    self.block_events.extend(events);
                }
            }
        } else {
            self.memo.get_mut().touch_layer(&layer);
        }
        result
    }

    /// Open a transaction layer. Writes and events go to it until it is committed or dropped.
    pub fn begin_tx(&mut self) {
        debug_assert!(self.tx.is_none(), "transactions do not nest");
        self.tx = Some(Layer::new());
        self.tx_events.clear();
    }

    /// Keep the transaction's writes; returns its events.
    pub fn commit_tx(&mut self) -> Vec<crate::Event> {
        let layer = self.tx.take().expect("commit_tx without begin_tx");
        self.block.extend(layer);
        std::mem::take(&mut self.tx_events)
    }

    /// Drop the transaction's writes and events.
    pub fn discard_tx(&mut self) {
        self.forget_tx();
        self.tx_events.clear();
    }

    /// Drop the open transaction's layers, telling the memos.
    fn forget_tx(&mut self) {
        let memo = self.memo.get_mut();
        for layer in self.tx.iter().chain(self.tx_outer.iter()) {
            memo.touch_layer(layer);
        }
        self.tx = None;
        self.tx_outer.clear();
    }

    /// Drop the whole block's writes (the block was rejected).
    pub fn discard_block(&mut self) {
        self.forget_tx();
        let memo = self.memo.get_mut();
        for layer in std::iter::once(&self.block).chain(self.items.iter().map(|(layer, _)| layer)) {
            memo.touch_layer(layer);
        }
        self.tx = None;
        self.tx_outer.clear();
        self.items.clear();
        self.block.clear();
        self.block_events.clear();
        self.tx_events.clear();
    }

    /// The events emitted outside any transaction (the hooks'), clearing them; a transaction's
    /// events go to its receipt instead.
    pub fn take_block_events(&mut self) -> Vec<crate::Event> {
        std::mem::take(&mut self.block_events)
    }

    /// Write the block's changes into the committed state and the tree; returns the new root
    /// and the changed entries (what a node persists).
    pub fn commit_block(&mut self) -> (Hash, Changes) {
        debug_assert!(self.tx.is_none(), "commit_block inside a transaction");
        debug_assert!(self.items.is_empty(), "commit_block inside a hook item");
        let block = std::mem::take(&mut self.block);
        let mut changes = Vec::with_capacity(block.len());
        for (key, value) in block {
            let unchanged = match (&value, self.committed.get(&key)) {
                (Some(new), Some(old)) => new == old,
                (None, None) => true,
                _ => false,
            };
            if unchanged {
                continue;
            }
            self.tree.update(&key, value.as_deref());
            match &value {
                Some(v) => {
                    self.committed.insert(key.clone(), v.clone());
                }
                None => {
                    self.committed.remove(&key);
                }
            }
            changes.push((key, value));
        }
        (self.tree.root(), changes)
    }

    /// The committed root, recomputing the subtrees changed since the last call.
    pub fn root(&mut self) -> Hash {
        self.tree.root()
    }

    /// Proof for `key` against the committed root, with the committed value.
    pub fn prove(&mut self, key: &[u8]) -> (Option<Vec<u8>>, StateProof) {
        self.tree.root();
        (self.committed.get(key).cloned(), self.tree.prove(key))
    }

    /// Every committed entry (for snapshots and invariant checks).
    pub fn committed_entries(&self) -> impl Iterator<Item = (&Vec<u8>, &Vec<u8>)> {
        self.committed.iter()
    }

    /// How many entries are committed.
    pub fn committed_len(&self) -> usize {
        self.committed.len()
    }
}

/// The id of a schedule entry whose height part ends at `at`: '/', then 32 bytes, then nothing.
fn schedule_id(entry: &[u8], at: usize) -> Option<[u8; 32]> {
    match entry.get(at..)? {
        [b'/', id @ ..] => id.try_into().ok(),
        _ => None,
    }
}

/// The key of `id` in schedule `name`: `<name>/<height u64 BE>/<32-byte id>`. A schedule files
/// ids under the height at which something is due for them (jobs' deadlines, uploads' expiries);
/// the height first keeps one height's entries together for [`Store::take_scheduled`].
pub fn schedule_key(name: &str, height: Height, id: &[u8; 32]) -> Vec<u8> {
    key(name, &[&height.get().to_be_bytes(), id])
}

/// The `N` bytes of `key` that end `from_end` bytes before its end, or `None` if the key is
/// shorter. Keys end in fixed-width parts (ids, big-endian numbers), so a scan over a prefix
/// reads them back from the end whatever the prefix's length.
pub fn part_from_end<const N: usize>(key: &[u8], from_end: usize) -> Option<[u8; N]> {
    let end = key.len().checked_sub(from_end)?;
    let start = end.checked_sub(N)?;
    key.get(start..end)?.try_into().ok()
}

/// Build a key from a module prefix and parts. Parts of fixed width (ids, big-endian numbers)
/// keep key order meaningful for range scans.
pub fn key(prefix: &str, parts: &[&[u8]]) -> Vec<u8> {
    // Only a capacity hint: saturating cannot change the key, and keys are a few hundred bytes.
    let capacity = parts.iter().fold(prefix.len(), |total, part| {
        total.saturating_add(part.len()).saturating_add(1)
    });
    let mut key = Vec::with_capacity(capacity);
    key.extend_from_slice(prefix.as_bytes());
    for part in parts {
        key.push(b'/');
        key.extend_from_slice(part);
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_discarded_transaction_leaves_no_trace() {
        let mut store = Store::new();
        store.put(b"a".to_vec(), &1u64);
        store.begin_tx();
        store.put(b"a".to_vec(), &2u64);
        store.put(b"b".to_vec(), &3u64);
        assert_eq!(store.get::<u64>(b"a"), Some(2));
        store.discard_tx();
        assert_eq!(store.get::<u64>(b"a"), Some(1));
        assert_eq!(store.get::<u64>(b"b"), None);
    }

    #[test]
    fn a_failed_item_of_a_transaction_leaves_no_trace_and_the_transaction_goes_on() {
        let mut store = Store::new();
        store.put(b"a".to_vec(), &1u64);
        store.begin_tx();
        store.put(b"t".to_vec(), &7u64);
        let failed: Result<(), &str> = store.isolated(|store| {
            store.put(b"a".to_vec(), &9u64);
            store.put(b"x".to_vec(), &3u64);
            assert_eq!(
                store.get::<u64>(b"t"),
                Some(7),
                "it reads the transaction's writes"
            );
            assert_eq!(store.prefix_keys(b"").len(), 3);
            Err("fails")
        });
        assert_eq!(failed, Err("fails"));
        let kept: Result<(), ()> = store.isolated(|store| {
            store.put(b"y".to_vec(), &4u64);
            Ok(())
        });
        assert!(kept.is_ok());
        assert_eq!(store.get::<u64>(b"a"), Some(1));
        assert_eq!(store.get::<u64>(b"x"), None);
        store.commit_tx();
        assert_eq!(store.get::<u64>(b"t"), Some(7));
        assert_eq!(store.get::<u64>(b"y"), Some(4));
        // Outside a transaction an item still runs in a hook layer, not a transaction's.
        let hook: Result<(), ()> = store.isolated(|store| {
            store.put(b"h".to_vec(), &5u64);
            Ok(())
        });
        assert!(hook.is_ok());
        let (_, changes) = store.commit_block();
        assert_eq!(changes.len(), 4, "a, t, y and h: {changes:?}");
    }

    #[test]
    fn a_failed_hook_item_leaves_no_trace_and_a_kept_one_joins_its_outer_item() {
        let mut store = Store::new();
        store.put(b"a".to_vec(), &1u64);
        let outer: Result<(), ()> = store.isolated(|store| {
            store.put(b"b".to_vec(), &2u64);
            let inner: Result<(), &str> = store.isolated(|store| {
                store.put(b"a".to_vec(), &9u64);
                store.put(b"c".to_vec(), &3u64);
                assert_eq!(store.prefix_keys(b"").len(), 3);
                Err("fails")
            });
            assert_eq!(inner, Err("fails"));
            assert_eq!(store.get::<u64>(b"a"), Some(1));
            assert_eq!(store.get::<u64>(b"c"), None);
            let kept: Result<(), ()> = store.isolated(|store| {
                store.put(b"d".to_vec(), &4u64);
                Ok(())
            });
            assert!(kept.is_ok());
            Ok(())
        });
        assert!(outer.is_ok());
        assert_eq!(store.get::<u64>(b"b"), Some(2));
        assert_eq!(store.get::<u64>(b"d"), Some(4));
        assert_eq!(store.get::<u64>(b"c"), None);
        let (_, changes) = store.commit_block();
        assert_eq!(
            changes.len(),
            3,
            "a, b and d: the failed item wrote nothing"
        );
    }

    #[test]
    fn a_failed_batch_item_inside_a_transaction_leaves_no_trace_and_closes_no_layer() {
        let mut store = Store::new();
        // Outside a transaction an item leaves none open (the next `begin_tx` asserts it).
        let kept: Result<(), ()> = store.isolated(|store| {
            store.put(b"h".to_vec(), &1u64);
            Ok(())
        });
        assert!(kept.is_ok());
        store.begin_tx();
        store.put(b"a".to_vec(), &1u64);
        let failed: Result<(), &str> = store.isolated(|store| {
            store.put(b"a".to_vec(), &9u64);
            store.put(b"b".to_vec(), &2u64);
            assert_eq!(store.get::<u64>(b"a"), Some(9));
            Err("refused")
        });
        assert_eq!(failed, Err("refused"));
        assert_eq!(store.get::<u64>(b"a"), Some(1));
        assert_eq!(store.get::<u64>(b"b"), None);
        let kept: Result<(), ()> = store.isolated(|store| {
            store.put(b"c".to_vec(), &3u64);
            Ok(())
        });
        assert!(kept.is_ok());
        store.commit_tx();
        let (_, changes) = store.commit_block();
        assert_eq!(
            changes.len(),
            3,
            "h, a and c: the failed item wrote nothing"
        );
    }

    #[test]
    fn prefix_scans_merge_layers_and_hide_deletions() {
        let mut store = Store::new();
        store.put(b"p/1".to_vec(), &1u8);
        store.put(b"p/2".to_vec(), &2u8);
        store.put(b"q/1".to_vec(), &9u8);
        store.commit_block();
        store.delete(b"p/1");
        store.begin_tx();
        store.put(b"p/3".to_vec(), &3u8);
        let values: Vec<u8> = store
            .prefix_values::<u8>(b"p/")
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        assert_eq!(values, vec![2, 3]);
        assert_eq!(
            store.prefix_keys(b"p/"),
            vec![b"p/2".to_vec(), b"p/3".to_vec()]
        );
        // A key deleted in the transaction layer over a committed one is gone too.
        store.delete(b"p/2");
        assert_eq!(store.prefix_keys(b"p/"), vec![b"p/3".to_vec()]);
    }

    #[test]
    fn a_schedule_hands_out_one_heights_ids_once_in_order() {
        let mut store = Store::new();
        let (a, b, c) = ([1u8; 32], [2u8; 32], [3u8; 32]);
        store.put(schedule_key("s", Height::new(5), &b), &());
        store.put(schedule_key("s", Height::new(5), &a), &());
        store.put(schedule_key("s", Height::new(6), &c), &());
        store.put(schedule_key("t", Height::new(5), &c), &());
        assert_eq!(
            store.scheduled("s"),
            vec![
                (Height::new(5), a),
                (Height::new(5), b),
                (Height::new(6), c)
            ]
        );
        assert_eq!(store.take_scheduled("s", Height::new(5)), vec![a, b]);
        assert!(store.take_scheduled("s", Height::new(5)).is_empty());
        assert_eq!(store.scheduled("s"), vec![(Height::new(6), c)]);
        assert_eq!(store.scheduled("t"), vec![(Height::new(5), c)]);
    }

    #[test]
    fn rewriting_a_value_unchanged_does_not_count_as_a_change() {
        let mut store = Store::new();
        store.put(b"k".to_vec(), &1u8);
        let (root, changes) = store.commit_block();
        assert_eq!(changes.len(), 1);
        store.put(b"k".to_vec(), &1u8);
        let (again, changes) = store.commit_block();
        assert!(changes.is_empty());
        assert_eq!(root, again);
    }
}
