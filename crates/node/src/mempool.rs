//! The mempool: transactions waiting for a block (docs/node.md "Mempool"). Bounded in count,
//! bytes and per sender. A transaction is admitted only if it passes the ledger's stateless
//! checks (size, shape, chain; the signature last of all), the chain's parameter bounds that need no execution
//! (a job's input size, fee, replicas and deadline; a result's output size), a nonce check
//! against the committed state, and a balance check: the sender's committed balance covers
//! the cost (fee plus what the message itself spends) of this and every transaction of its
//! already waiting. After every commit [`Mempool::recheck`] evicts what the new state makes
//! stale or unpayable. Transactions leave by fee per byte, highest first, each sender's in
//! nonce order; a full mempool evicts its cheapest transaction for a better one.
//!
//! So every transaction a proposer reaps is charged its fee when the block applies (the
//! ledger's block validity rule, `Ledger::check_fees_payable`, holds by construction), and a
//! key without funds cannot occupy the mempool or a block.

use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use surety_ledger::bank;
use surety_ledger::jobs::{JobInput, JobsError};
use surety_ledger::params::Params;
use surety_ledger::tx::{decode_and_check_shape, Msg, Transaction, TxError};
use surety_ledger::Ledger;
use surety_types::{AccountId, Amount, Hash};

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
    #[error("transaction is outside the chain's parameters: {0}")]
    OutOfBounds(JobsError),
    #[error("fee {fee} is below the chain's minimum {minimum}")]
    FeeTooLow { fee: Amount, minimum: Amount },
    #[error(
        "the sender's balance {balance} cannot pay {needed}: this transaction's fee and spend \
         plus those of its {waiting} transactions already waiting"
    )]
    CannotPay {
        balance: Amount,
        needed: Amount,
        waiting: usize,
    },
    #[error("transaction is already in the mempool")]
    Duplicate,
    #[error("nonce {got} is already used; the account's next nonce is {next}")]
    StaleNonce { next: u64, got: u64 },
    #[error("nonce {got} is too far ahead of the account's next nonce {next}")]
    NonceTooFar { next: u64, got: u64 },
    #[error("another transaction with nonce {0} from this sender is waiting")]
    NonceTaken(u64),
    #[error("the mempool is full ({0}) and holds nothing cheaper per byte to evict")]
    Full(&'static str),
}

/// Fee per byte, in millionths of a token unit per byte: the mempool's priority.
type FeeRate = u128;

fn fee_rate(fee: Amount, bytes: usize) -> FeeRate {
    fee.get().saturating_mul(1_000_000) / (bytes.max(1) as u128)
}

struct Entry {
    hash: Hash,
    bytes: Vec<u8>,
    /// Fee plus what the message spends from the sender's balance if it succeeds.
    cost: Amount,
    rate: FeeRate,
    arrival: u64,
}

/// A sender's last waiting transaction, ordered cheapest (then latest) first: eviction
/// candidates. Only a sender's last transaction is evicted, so no gap opens in its nonces.
type Tail = (FeeRate, std::cmp::Reverse<u64>, AccountId);

#[derive(Default)]
pub struct Mempool {
    limits: MempoolLimits,
    by_sender: BTreeMap<AccountId, BTreeMap<u64, Entry>>,
    tails: BTreeSet<Tail>,
    hashes: BTreeSet<Hash>,
    bytes: usize,
    count: usize,
    arrivals: u64,
}

/// What a message takes from its sender's balance if it succeeds, known without executing it.
/// Counted with the fee at admission, so a sender cannot drain itself and leave fees unpaid.
fn spend(msg: &Msg) -> Amount {
    match msg {
        Msg::Transfer(m) => m.amount,
        Msg::Delegate(m) => m.amount,
        Msg::RegisterOperator(m) => m.self_bond,
        Msg::SubmitJob(m) => m.max_fee,
        _ => Amount::ZERO,
    }
}

/// The parameter bounds a message can be held to without executing it: refused at admission
/// rather than charged and failed in a block.
fn check_bounds(msg: &Msg, params: &Params) -> Result<(), JobsError> {
    let market = &params.jobs;
    match msg {
        Msg::SubmitJob(job) => {
            let input_bytes = match &job.input {
                JobInput::Text(text) => text.len(),
                JobInput::Activation(bytes) => bytes.len(),
            } as u64;
            if input_bytes > market.job_input_bytes_max {
                return Err(JobsError::InputTooLarge {
                    got: input_bytes,
                    limit: market.job_input_bytes_max,
                });
            }
            surety_ledger::jobs::check_bounds(market, job)?;
        }
        Msg::RevealResults(batch) => {
            for result in batch.reveals.iter().map(|r| &r.result) {
                let output_bytes = result.output.len() as u64;
                if output_bytes > market.job_output_bytes_max {
                    return Err(JobsError::OutputTooLarge {
                        got: output_bytes,
                        limit: market.job_output_bytes_max,
                    });
                }
            }
        }
        _ => {}
    }
    Ok(())
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

    /// Bytes of the transactions waiting.
    pub fn bytes(&self) -> usize {
        self.bytes
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

    /// Check and admit a transaction; returns its hash. The signature, the one costly check,
    /// comes last: a transaction its sender cannot pay for is refused on a decode and a state
    /// read (refusing an unverified claim changes nothing, so it is safe to do first).
    pub fn admit(&mut self, bytes: Vec<u8>, ledger: &Ledger) -> Result<Hash, AdmitError> {
        let tx = decode_and_check_shape(&bytes, ledger.chain_id())?;
        let hash = tx.hash();
        if self.hashes.contains(&hash) {
            return Err(AdmitError::Duplicate);
        }
        check_bounds(&tx.tx.msg, ledger.params()).map_err(AdmitError::OutOfBounds)?;
        let minimum = ledger.params().bank.min_tx_fee;
        if tx.tx.fee < minimum {
            return Err(AdmitError::FeeTooLow {
                fee: tx.tx.fee,
                minimum,
            });
        }
        let cost = self.check_sender(&tx, ledger)?;
        let rate = fee_rate(tx.tx.fee, bytes.len());
        let evicted = self.plan_evictions(&tx.tx.signer, bytes.len(), rate)?;
        tx.verify_signature().map_err(|_| TxError::BadSignature)?;
        for sender in evicted {
            self.evict_tail(&sender);
        }
        self.insert(tx.tx.signer, tx.tx.nonce, hash, bytes, cost, rate);
        Ok(hash)
    }

    /// Nonce and balance against the committed state and the sender's waiting transactions;
    /// returns the transaction's cost.
    fn check_sender(&self, tx: &Transaction, ledger: &Ledger) -> Result<Amount, AdmitError> {
        let signer = tx.tx.signer;
        let account = bank::state::account(ledger.store(), &signer);
        let (next, nonce) = (account.nonce, tx.tx.nonce);
        if nonce < next {
            return Err(AdmitError::StaleNonce { next, got: nonce });
        }
        if nonce - next >= self.limits.per_sender_max as u64 {
            return Err(AdmitError::NonceTooFar { next, got: nonce });
        }
        let queue = self.by_sender.get(&signer);
        if queue.is_some_and(|q| q.contains_key(&nonce)) {
            return Err(AdmitError::NonceTaken(nonce));
        }
        let waiting = queue.map_or(0, BTreeMap::len);
        if waiting >= self.limits.per_sender_max {
            return Err(AdmitError::Full("per-sender limit"));
        }
        let cost = tx.tx.fee.saturating_add(spend(&tx.tx.msg));
        let pending = queue.map_or(Amount::ZERO, |q| {
            q.values()
                .fold(Amount::ZERO, |sum, e| sum.saturating_add(e.cost))
        });
        let needed = pending.saturating_add(cost);
        if needed > account.balance {
            return Err(AdmitError::CannotPay {
                balance: account.balance,
                needed,
                waiting,
            });
        }
        Ok(cost)
    }

    /// The senders whose last transaction must go to make room for `bytes` at `rate`: only
    /// strictly cheaper ones, never the newcomer's own sender (that would open a gap before
    /// it). Changes nothing; refuses if no such set makes room.
    fn plan_evictions(
        &self,
        sender: &AccountId,
        bytes: usize,
        rate: FeeRate,
    ) -> Result<Vec<AccountId>, AdmitError> {
        let mut count = self.count;
        let mut total = self.bytes;
        let mut evicted = Vec::new();
        // Candidates as evictions expose them: each sender's entries from its tail down.
        let mut exposed: BTreeMap<AccountId, usize> = BTreeMap::new();
        let mut heap: BinaryHeap<std::cmp::Reverse<(FeeRate, std::cmp::Reverse<u64>, AccountId)>> =
            self.tails
                .iter()
                .filter(|(_, _, s)| s != sender)
                .take(1)
                .map(|t| std::cmp::Reverse(*t))
                .collect();
        let mut tails = self.tails.iter().filter(|(_, _, s)| s != sender).skip(1);
        loop {
            let over_count = count >= self.limits.txs_max;
            let over_bytes = total + bytes > self.limits.bytes_max;
            if !over_count && !over_bytes {
                return Ok(evicted);
            }
            let which = if over_count {
                "transaction limit"
            } else {
                "byte limit"
            };
            let Some(std::cmp::Reverse((cheapest, _, victim))) = heap.pop() else {
                return Err(AdmitError::Full(which));
            };
            if cheapest >= rate {
                return Err(AdmitError::Full(which));
            }
            let queue = &self.by_sender[&victim];
            let taken = exposed.entry(victim).or_insert(0);
            let entry = queue
                .values()
                .rev()
                .nth(*taken)
                .expect("a candidate exists");
            *taken += 1;
            count -= 1;
            total -= entry.bytes.len();
            evicted.push(victim);
            if let Some(next) = queue.values().rev().nth(*taken) {
                heap.push(std::cmp::Reverse((
                    next.rate,
                    std::cmp::Reverse(next.arrival),
                    victim,
                )));
            }
            // Keep the heap holding the cheapest tail not yet considered.
            if let Some(t) = tails.next() {
                heap.push(std::cmp::Reverse(*t));
            }
        }
    }

    fn tail_of(&self, sender: &AccountId) -> Option<Tail> {
        let (_, entry) = self.by_sender.get(sender)?.last_key_value()?;
        Some((entry.rate, std::cmp::Reverse(entry.arrival), *sender))
    }

    fn insert(
        &mut self,
        sender: AccountId,
        nonce: u64,
        hash: Hash,
        bytes: Vec<u8>,
        cost: Amount,
        rate: FeeRate,
    ) {
        if let Some(tail) = self.tail_of(&sender) {
            self.tails.remove(&tail);
        }
        self.arrivals += 1;
        self.bytes += bytes.len();
        self.count += 1;
        self.hashes.insert(hash);
        let entry = Entry {
            hash,
            bytes,
            cost,
            rate,
            arrival: self.arrivals,
        };
        self.by_sender
            .entry(sender)
            .or_default()
            .insert(nonce, entry);
        let tail = self.tail_of(&sender).expect("just inserted");
        self.tails.insert(tail);
    }

    /// Remove a sender's entries with the nonces `drop` picks, keeping the tail index right.
    fn remove_where(&mut self, sender: &AccountId, mut drop: impl FnMut(u64, &Entry) -> bool) {
        if let Some(tail) = self.tail_of(sender) {
            self.tails.remove(&tail);
        }
        let Some(queue) = self.by_sender.get_mut(sender) else {
            return;
        };
        let doomed: Vec<u64> = queue
            .iter()
            .filter(|(nonce, entry)| drop(**nonce, entry))
            .map(|(nonce, _)| *nonce)
            .collect();
        for nonce in doomed {
            let entry = queue.remove(&nonce).expect("listed");
            self.hashes.remove(&entry.hash);
            self.bytes -= entry.bytes.len();
            self.count -= 1;
        }
        if queue.is_empty() {
            self.by_sender.remove(sender);
        }
        if let Some(tail) = self.tail_of(sender) {
            self.tails.insert(tail);
        }
    }

    fn evict_tail(&mut self, sender: &AccountId) {
        let Some(last) = self
            .by_sender
            .get(sender)
            .and_then(|q| q.last_key_value())
            .map(|(nonce, _)| *nonce)
        else {
            return;
        };
        self.remove_where(sender, |nonce, _| nonce == last);
    }

    /// Transactions for the next block: per sender, the run of consecutive nonces from the
    /// account's next nonce; across senders, the highest fee per byte first (earliest arrival
    /// on ties), each sender's next transaction competing with the others'. At most `txs_max`
    /// transactions and `bytes_max` bytes; a sender whose next transaction does not fit is
    /// skipped for this block.
    pub fn reap(&self, ledger: &Ledger, txs_max: usize, bytes_max: usize) -> Vec<Vec<u8>> {
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
        let mut heap: BinaryHeap<(FeeRate, std::cmp::Reverse<u64>, usize, usize)> = runs
            .iter()
            .enumerate()
            .map(|(r, run)| (run[0].rate, std::cmp::Reverse(run[0].arrival), r, 0))
            .collect();
        let mut picked = Vec::new();
        let mut bytes = 0usize;
        while picked.len() < txs_max {
            let Some((_, _, r, i)) = heap.pop() else {
                break;
            };
            let entry = runs[r][i];
            if bytes + entry.bytes.len() > bytes_max {
                continue;
            }
            bytes += entry.bytes.len();
            picked.push(entry.bytes.clone());
            if let Some(next) = runs[r].get(i + 1) {
                heap.push((next.rate, std::cmp::Reverse(next.arrival), r, i + 1));
            }
        }
        picked
    }

    /// After a commit: drop what the committed state made stale (included, or overtaken), and
    /// evict, from its highest nonce down, whatever a sender's new balance can no longer pay
    /// (CometBFT's recheck, geth's txpool reset). What stays obeys admission's rule again.
    pub fn recheck(&mut self, ledger: &Ledger) {
        let senders: Vec<AccountId> = self.by_sender.keys().copied().collect();
        for sender in senders {
            let account = bank::state::account(ledger.store(), &sender);
            let mut spent = Amount::ZERO;
            let mut broke = false;
            self.remove_where(&sender, |nonce, entry| {
                if nonce < account.nonce {
                    return true;
                }
                spent = spent.saturating_add(entry.cost);
                broke |= spent > account.balance;
                broke
            });
        }
    }
}
