//! Durable storage (redb): the ledger's committed state entries, blocks, receipts, chain
//! metadata, and an archive of closed jobs. Each block is committed in one redb write
//! transaction — state changes, the block, its receipts, archived jobs and the new height and
//! root together — with immediate durability, so a crash at any moment leaves either the whole
//! block or none of it. On start the ledger is rebuilt from the state table and checked against
//! the stored root.
//!
//! The archive is the node's own, outside the state root: the ledger prunes a final or failed
//! job from state once nothing can refer to it (docs/market.md, "Pruning"), and the node keeps
//! the record as the block that closed the job wrote it, so `GET /jobs/{id}` still answers
//! (docs/node.md, "Job archive").

use crate::block::{Block, CommitCertificate};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::Path;
use surety_ledger::genesis::Genesis;
use surety_ledger::jobs::{Job, JobsEvent};
use surety_ledger::staking::state::Validator;
use surety_ledger::{BlockOutcome, Event, Ledger, Receipt, RestoreError};
use surety_types::encoding::{decode_bounded, encode};
use surety_types::{Hash, Height, JobId};

const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const RECEIPTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("receipts");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Closed jobs by id: [`ArchivedJob`], borsh.
const JOB_ARCHIVE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("job_archive");

const META_CHAIN: &str = "chain";
const GENESIS_KEY: &str = "genesis";
/// `surety_ledger::STATE_FORMAT` of the state stored here (u32 LE); absent in databases written
/// before it was recorded.
const STATE_FORMAT_KEY: &str = "state_format";

/// Largest stored block we will read back (blocks are bounded by the ledger's limits).
const BLOCK_BYTES_MAX: usize = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database: {0}")]
    Database(#[from] redb::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("stored state does not restore: {0}")]
    Restore(#[from] RestoreError),
    #[error("block {got} does not follow the stored height {stored}")]
    OutOfOrder { stored: Height, got: Height },
    #[error("this data directory holds chain {stored:?}, not {wanted:?}")]
    OtherChain { stored: String, wanted: String },
    #[error(
        "this data directory was written by another version of surety (state format {}, this \
         build reads {supported}); start a fresh chain in another directory, or delete this \
         one (`surety dev --reset` does so for the dev chain)",
        stored.map_or("unrecorded".to_string(), |v| v.to_string())
    )]
    StateFormat { stored: Option<u32>, supported: u32 },
}

macro_rules! from_redb {
    ($($error:ty),*) => {$(
        impl From<$error> for StorageError {
            fn from(error: $error) -> StorageError {
                StorageError::Database(error.into())
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// Height, time and root of the last committed block.
#[derive(Clone, Debug, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize)]
struct ChainMeta {
    chain_id: String,
    height: Height,
    timestamp_ms: u64,
    state_root: Hash,
    last_block_hash: Hash,
    /// The validator set that decided the last block, and that block's commit certificate
    /// (block `h + 1` will carry it; until then only this node's metadata holds it).
    decided_set: Vec<Validator>,
    tip_certificate: Option<CommitCertificate>,
}

/// Largest chain metadata record (a validator set and a certificate).
const META_BYTES_MAX: usize = 8 * 1024 * 1024;

/// Where a transaction landed and what became of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredReceipt {
    pub height: Height,
    pub index: u32,
    pub receipt: Receipt,
}

/// A closed (final or failed) job as the block that closed it left it in state, kept by the
/// node after the ledger prunes it.
#[derive(Clone, Debug, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize)]
pub struct ArchivedJob {
    /// The job record at the end of block `closed`.
    pub job: Job,
    /// The height of the block that made the job final or failed.
    pub closed: Height,
    /// The height of the block that pruned the job from state, once it has.
    pub pruned: Option<Height>,
}

/// The jobs a block closed, with their records as the block wrote them (from its state
/// changes), and the jobs it pruned.
pub fn archive_entries(outcome: &BlockOutcome) -> (Vec<ArchivedJob>, Vec<JobId>) {
    let mut closed = Vec::new();
    let mut pruned = Vec::new();
    let events = outcome
        .receipts
        .iter()
        .flat_map(|receipt| &receipt.events)
        .chain(&outcome.events);
    for event in events {
        match event {
            Event::Jobs(JobsEvent::JobFinal { job, .. } | JobsEvent::JobFailed { job, .. }) => {
                let key = surety_ledger::store::key("jobs/job", &[&job.0]);
                let record = outcome
                    .changes
                    .iter()
                    .find(|(changed, _)| *changed == key)
                    .and_then(|(_, value)| value.as_deref())
                    .and_then(|bytes| decode_bounded::<Job>(bytes, BLOCK_BYTES_MAX).ok());
                if let Some(record) = record {
                    closed.push(ArchivedJob {
                        job: record,
                        closed: outcome.height,
                        pruned: None,
                    });
                }
            }
            Event::Jobs(JobsEvent::JobPruned { job }) => pruned.push(*job),
            _ => {}
        }
    }
    (closed, pruned)
}

pub struct Storage {
    db: Database,
}

impl Storage {
    pub fn open(path: &Path) -> Result<Storage, StorageError> {
        let db = Database::create(path)?;
        let tx = db.begin_write()?;
        tx.open_table(STATE)?;
        tx.open_table(BLOCKS)?;
        tx.open_table(RECEIPTS)?;
        tx.open_table(META)?;
        tx.open_table(JOB_ARCHIVE)?;
        tx.commit()?;
        Ok(Storage { db })
    }

    fn meta(&self) -> Result<Option<ChainMeta>, StorageError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(META)?;
        let Some(bytes) = table.get(META_CHAIN)? else {
            return Ok(None);
        };
        decode_bounded(bytes.value(), META_BYTES_MAX)
            .map(Some)
            .map_err(|e| StorageError::Corrupt(e.to_string()))
    }

    fn state_format(&self) -> Result<Option<u32>, StorageError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(META)?;
        let Some(bytes) = table.get(STATE_FORMAT_KEY)? else {
            return Ok(None);
        };
        let bytes: [u8; 4] = bytes
            .value()
            .try_into()
            .map_err(|_| StorageError::Corrupt("the state format is not 4 bytes".into()))?;
        Ok(Some(u32::from_le_bytes(bytes)))
    }

    /// The stored genesis, if this directory has been initialised.
    pub fn genesis(&self) -> Result<Option<Genesis>, StorageError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(META)?;
        let Some(bytes) = table.get(GENESIS_KEY)? else {
            return Ok(None);
        };
        let text =
            std::str::from_utf8(bytes.value()).map_err(|e| StorageError::Corrupt(e.to_string()))?;
        Genesis::from_json(text)
            .map(Some)
            .map_err(|e| StorageError::Corrupt(e.to_string()))
    }

    /// Open the ledger stored here, or create it from `genesis` if the directory is new.
    pub fn load_or_init(&self, genesis: &Genesis) -> Result<Ledger, StorageError> {
        self.load_or_init_with_files(genesis, &Default::default())
    }

    /// Whether the database holds a chain already.
    pub fn is_initialised(&self) -> Result<bool, StorageError> {
        Ok(self.meta()?.is_some())
    }

    /// Load the stored chain, or initialise it from `genesis` and its models' files.
    pub fn load_or_init_with_files(
        &self,
        genesis: &Genesis,
        model_files: &std::collections::BTreeMap<surety_types::Hash, Vec<u8>>,
    ) -> Result<Ledger, StorageError> {
        match self.meta()? {
            Some(meta) => {
                let stored = self.state_format()?;
                if stored != Some(surety_ledger::STATE_FORMAT) {
                    return Err(StorageError::StateFormat {
                        stored,
                        supported: surety_ledger::STATE_FORMAT,
                    });
                }
                if meta.chain_id != genesis.chain_id {
                    return Err(StorageError::OtherChain {
                        stored: meta.chain_id,
                        wanted: genesis.chain_id.clone(),
                    });
                }
                self.load(&meta)
            }
            None => {
                let ledger = Ledger::from_genesis_with_files(genesis, model_files)
                    .map_err(|e| StorageError::Corrupt(e.to_string()))?;
                let tx = self.db.begin_write()?;
                {
                    let mut state = tx.open_table(STATE)?;
                    for (key, value) in ledger.store().committed_entries() {
                        state.insert(key.as_slice(), value.as_slice())?;
                    }
                    let mut meta = tx.open_table(META)?;
                    meta.insert(GENESIS_KEY, genesis.to_json().as_bytes())?;
                    meta.insert(
                        STATE_FORMAT_KEY,
                        surety_ledger::STATE_FORMAT.to_le_bytes().as_slice(),
                    )?;
                    let chain = ChainMeta {
                        chain_id: genesis.chain_id.clone(),
                        height: Height::new(0),
                        timestamp_ms: genesis.genesis_time_ms,
                        state_root: ledger.state_root(),
                        last_block_hash: Hash::ZERO,
                        decided_set: Vec::new(),
                        tip_certificate: None,
                    };
                    meta.insert(META_CHAIN, encode(&chain).as_slice())?;
                }
                tx.commit()?;
                Ok(ledger)
            }
        }
    }

    fn load(&self, meta: &ChainMeta) -> Result<Ledger, StorageError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(STATE)?;
        let mut entries = Vec::new();
        for entry in table.iter()? {
            let (key, value) = entry?;
            entries.push((key.value().to_vec(), value.value().to_vec()));
        }
        Ok(Ledger::restore(
            entries,
            meta.height,
            meta.timestamp_ms,
            meta.state_root,
        )?)
    }

    pub fn height(&self) -> Result<Height, StorageError> {
        Ok(self.meta()?.map_or(Height::new(0), |m| m.height))
    }

    pub fn last_block_hash(&self) -> Result<Hash, StorageError> {
        Ok(self.meta()?.map_or(Hash::ZERO, |m| m.last_block_hash))
    }

    /// The set that decided the last block and its certificate (empty and `None` at genesis).
    pub fn tip(&self) -> Result<(Vec<Validator>, Option<CommitCertificate>), StorageError> {
        Ok(self
            .meta()?
            .map_or((Vec::new(), None), |m| (m.decided_set, m.tip_certificate)))
    }

    /// Persist a block the ledger has applied, with the set that decided it and its commit
    /// certificate, all at once.
    pub fn commit_block(
        &self,
        block: &Block,
        outcome: &BlockOutcome,
        decided_set: &[Validator],
        certificate: &CommitCertificate,
    ) -> Result<(), StorageError> {
        let meta = self
            .meta()?
            .ok_or_else(|| StorageError::Corrupt("no chain metadata".into()))?;
        if block.header.height != meta.height.next() {
            return Err(StorageError::OutOfOrder {
                stored: meta.height,
                got: block.header.height,
            });
        }
        let tx = self.db.begin_write()?;
        {
            let mut state = tx.open_table(STATE)?;
            for (key, value) in &outcome.changes {
                match value {
                    Some(value) => {
                        state.insert(key.as_slice(), value.as_slice())?;
                    }
                    None => {
                        state.remove(key.as_slice())?;
                    }
                }
            }
            let mut blocks = tx.open_table(BLOCKS)?;
            blocks.insert(block.header.height.get(), encode(block).as_slice())?;
            let mut receipts = tx.open_table(RECEIPTS)?;
            for (index, receipt) in outcome.receipts.iter().enumerate() {
                let stored = StoredReceipt {
                    height: block.header.height,
                    index: index as u32,
                    receipt: receipt.clone(),
                };
                let bytes = serde_json::to_vec(&stored).expect("receipts serialise");
                receipts.insert(receipt.tx_hash.as_bytes().as_slice(), bytes.as_slice())?;
            }
            Self::archive_in(&tx, outcome)?;
            let chain = ChainMeta {
                chain_id: meta.chain_id,
                height: block.header.height,
                timestamp_ms: block.header.timestamp_ms,
                state_root: outcome.state_root,
                last_block_hash: block.hash(),
                decided_set: decided_set.to_vec(),
                tip_certificate: Some(certificate.clone()),
            };
            let mut meta_table = tx.open_table(META)?;
            meta_table.insert(META_CHAIN, encode(&chain).as_slice())?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Archive the jobs `outcome`'s block closed, and note the ones it pruned.
    fn archive_in(tx: &redb::WriteTransaction, outcome: &BlockOutcome) -> Result<(), StorageError> {
        let (closed, pruned) = archive_entries(outcome);
        let mut table = tx.open_table(JOB_ARCHIVE)?;
        for entry in &closed {
            table.insert(entry.job.id.0.as_slice(), encode(entry).as_slice())?;
        }
        for id in &pruned {
            let stored = match table.get(id.0.as_slice())? {
                Some(bytes) => decode_bounded::<ArchivedJob>(bytes.value(), BLOCK_BYTES_MAX).ok(),
                None => None,
            };
            // A job closed before this node kept an archive has nothing to note.
            if let Some(mut entry) = stored {
                entry.pruned = Some(outcome.height);
                table.insert(id.0.as_slice(), encode(&entry).as_slice())?;
            }
        }
        Ok(())
    }

    /// Put a closed job in the archive (what committing its closing block does; also for tests
    /// and tools that fill an archive).
    pub fn archive_job(&self, entry: &ArchivedJob) -> Result<(), StorageError> {
        let tx = self.db.begin_write()?;
        {
            let mut table = tx.open_table(JOB_ARCHIVE)?;
            table.insert(entry.job.id.0.as_slice(), encode(entry).as_slice())?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The archived record of a closed job, if this node committed the block that closed it.
    pub fn archived_job(&self, id: &JobId) -> Result<Option<ArchivedJob>, StorageError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(JOB_ARCHIVE)?;
        let Some(bytes) = table.get(id.0.as_slice())? else {
            return Ok(None);
        };
        decode_bounded(bytes.value(), BLOCK_BYTES_MAX)
            .map(Some)
            .map_err(|e| StorageError::Corrupt(e.to_string()))
    }

    pub fn block(&self, height: Height) -> Result<Option<Block>, StorageError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(BLOCKS)?;
        let Some(bytes) = table.get(height.get())? else {
            return Ok(None);
        };
        decode_bounded(bytes.value(), BLOCK_BYTES_MAX)
            .map(Some)
            .map_err(|e| StorageError::Corrupt(e.to_string()))
    }

    pub fn receipt(&self, tx_hash: &Hash) -> Result<Option<StoredReceipt>, StorageError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(RECEIPTS)?;
        let Some(bytes) = table.get(tx_hash.as_bytes().as_slice())? else {
            return Ok(None);
        };
        serde_json::from_slice(bytes.value())
            .map(Some)
            .map_err(|e| StorageError::Corrupt(e.to_string()))
    }
}
