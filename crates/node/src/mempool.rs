//! The mempool: transactions waiting for a block. Bounded in count, bytes and per sender;
//! every transaction passes the ledger's stateless checks (size, shape, chain, signature)
//! before it is admitted, and a nonce check against the committed state. Transactions leave
//! in nonce order per sender, senders interleaved by arrival.

use std::collections::{BTreeMap, BTreeSet};
use surety_ledger::bank;
use surety_ledger::tx::TxError;
use surety_ledger::Ledger;
use surety_types::{AccountId, Hash};

#[derive(Clone, Copy, Debug)]
pub struct MempoolLimits {
    pub txs_max: usize,
    pub bytes_max: usize,
    /// Most pending transactions per sender.
    pub per_sender_max: usize,
}

impl Default for MempoolLimits {
    fn default() -> Self {
        MempoolLimits {
            txs_max: 50_000,
            bytes_max: 64 * 1024 * 1024,
            per_sender_max: 256,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmitError {
    #[error("invalid transaction: {0}")]
    Invalid(#[from] TxError),
    #[error("transaction is already in the mempool")]
    Duplicate,
    #[error("nonce {got} is already used; the account's next nonce is {next}")]
    StaleNonce { next: u64, got: u64 },
    #[error("nonce {got} is too far ahead of the account's next nonce {next}")]
    NonceTooFar { next: u64, got: u64 },
    #[error("another transaction with nonce {0} from this sender is waiting")]
    NonceTaken(u64),
    #[error("the mempool is full ({0})")]
    Full(&'static str),
}

struct Entry {
    hash: Hash,
    bytes: Vec<u8>,
    arrival: u64,
}

#[derive(Default)]
pub struct Mempool {
    limits: MempoolLimits,
    by_sender: BTreeMap<AccountId, BTreeMap<u64, Entry>>,
    hashes: BTreeSet<Hash>,
    bytes: usize,
    count: usize,
    arrivals: u64,
}

impl Mempool {
    pub fn new(limits: MempoolLimits) -> Mempool {
        Mempool {
            limits,
            ..Mempool::default()
        }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn contains(&self, hash: &Hash) -> bool {
        self.hashes.contains(hash)
    }

    /// The account's next nonce after the run of its transactions waiting here.
    pub fn next_nonce(&self, ledger: &Ledger, account: &AccountId) -> u64 {
        let mut next = bank::state::account(ledger.store(), account).nonce;
        if let Some(queue) = self.by_sender.get(account) {
            while queue.contains_key(&next) {
                next += 1;
            }
        }
        next
    }

    /// Check and admit a transaction; returns its hash.
    pub fn admit(&mut self, bytes: Vec<u8>, ledger: &Ledger) -> Result<Hash, AdmitError> {
        let tx = ledger.check_stateless(&bytes)?;
        let hash = tx.hash();
        if self.hashes.contains(&hash) {
            return Err(AdmitError::Duplicate);
        }
        let signer = tx.tx.signer;
        let next = bank::state::account(ledger.store(), &signer).nonce;
        let nonce = tx.tx.nonce;
        if nonce < next {
            return Err(AdmitError::StaleNonce { next, got: nonce });
        }
        if nonce - next >= self.limits.per_sender_max as u64 {
            return Err(AdmitError::NonceTooFar { next, got: nonce });
        }
        let queue = self.by_sender.entry(signer).or_default();
        if queue.contains_key(&nonce) {
            return Err(AdmitError::NonceTaken(nonce));
        }
        if queue.len() >= self.limits.per_sender_max {
            return Err(AdmitError::Full("per-sender limit"));
        }
        if self.count >= self.limits.txs_max {
            return Err(AdmitError::Full("transaction limit"));
        }
        if self.bytes + bytes.len() > self.limits.bytes_max {
            return Err(AdmitError::Full("byte limit"));
        }
        self.arrivals += 1;
        self.bytes += bytes.len();
        self.count += 1;
        self.hashes.insert(hash);
        queue.insert(
            nonce,
            Entry {
                hash,
                bytes,
                arrival: self.arrivals,
            },
        );
        Ok(hash)
    }

    /// Transactions for the next block: per sender, the run of consecutive nonces from the
    /// account's next nonce; across senders, earliest arrival first. At most `txs_max`
    /// transactions and `bytes_max` bytes.
    pub fn reap(&self, ledger: &Ledger, txs_max: usize, bytes_max: usize) -> Vec<Vec<u8>> {
        // Each sender's ready run, in nonce order.
        let mut runs: Vec<Vec<&Entry>> = Vec::new();
        for (sender, queue) in &self.by_sender {
            let next = bank::state::account(ledger.store(), sender).nonce;
            let run: Vec<&Entry> = (next..)
                .zip(queue.range(next..))
                .take_while(|(expected, (nonce, _))| *expected == **nonce)
                .map(|(_, (_, entry))| entry)
                .collect();
            if !run.is_empty() {
                runs.push(run);
            }
        }
        // Merge by arrival of each run's next transaction.
        let mut cursors = vec![0usize; runs.len()];
        let mut picked = Vec::new();
        let mut bytes = 0usize;
        while picked.len() < txs_max {
            let next = (0..runs.len())
                .filter(|&r| cursors[r] < runs[r].len())
                .min_by_key(|&r| runs[r][cursors[r]].arrival);
            let Some(r) = next else { break };
            let entry = runs[r][cursors[r]];
            if bytes + entry.bytes.len() > bytes_max {
                break;
            }
            bytes += entry.bytes.len();
            picked.push(entry.bytes.clone());
            cursors[r] += 1;
        }
        picked
    }

    /// Drop transactions the committed state has made stale (included, or overtaken).
    pub fn prune(&mut self, ledger: &Ledger) {
        let senders: Vec<AccountId> = self.by_sender.keys().copied().collect();
        for sender in senders {
            let next = bank::state::account(ledger.store(), &sender).nonce;
            let queue = self.by_sender.get_mut(&sender).expect("listed");
            let keep = queue.split_off(&next);
            for entry in queue.values() {
                self.hashes.remove(&entry.hash);
                self.bytes -= entry.bytes.len();
                self.count -= 1;
            }
            if keep.is_empty() {
                self.by_sender.remove(&sender);
            } else {
                *queue = keep;
            }
        }
    }
}
