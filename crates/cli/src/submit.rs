//! Signing and submitting transactions for one key, and waiting for them to land: the one
//! helper `surety tx`, `surety model` and `surety job`/`challenge` share. Nonces come from the
//! node (`next_nonce` counts the signer's transactions waiting in its mempool); what a failed
//! or late transaction means is each command's to say.

use crate::rpc::{Client, RpcError};
use crate::{keys, CliError};
use std::path::Path;
use std::time::{Duration, Instant};
use surety_ledger::tx::Msg;
use surety_ledger::Receipt;
use surety_types::tx::Tx;
use surety_types::{AccountId, Amount, Epoch, Hash, Height, SigningKey};

/// Pause between polls of a transaction.
const TX_POLL_MS: u64 = 100;

/// A signer talking to one node.
pub(crate) struct Submitter {
    pub(crate) client: Client,
    pub(crate) account: AccountId,
    chain_id: String,
    /// The node's epoch when asked.
    epoch: Epoch,
    key: SigningKey,
    fee: Amount,
}

/// Where a transaction landed and what became of it.
pub(crate) struct Landed {
    pub(crate) height: Height,
    pub(crate) receipt: Receipt,
}

impl Submitter {
    /// Load key `name` from `keys_dir` and learn the chain id from the node at `rpc_url`.
    pub(crate) fn new(
        rpc_url: &str,
        keys_dir: &Path,
        name: &str,
        fee: u128,
    ) -> Result<Submitter, CliError> {
        let key = keys::load(keys_dir, name)?;
        let client = Client::new(rpc_url);
        let status = client.status()?;
        Ok(Submitter {
            account: AccountId::from_key(&key.verification_key()),
            client,
            chain_id: status.chain_id,
            epoch: status.epoch,
            key,
            fee: Amount::new(fee),
        })
    }

    /// The chain id the node reported, which every signature here is bound to.
    pub(crate) fn chain_id(&self) -> &str {
        &self.chain_id
    }

    /// The node's epoch when the submitter was made.
    pub(crate) fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// Sign `msg` with the next nonce and submit it; returns the transaction's hash.
    pub(crate) fn submit(&self, msg: Msg) -> Result<Hash, CliError> {
        let mut hashes = self.submit_all(vec![msg])?;
        Ok(hashes.remove(0))
    }

    /// Sign `msgs` with consecutive nonces from the next one and submit them in order.
    pub(crate) fn submit_all(&self, msgs: Vec<Msg>) -> Result<Vec<Hash>, CliError> {
        let first = self.client.account(&self.account)?.next_nonce;
        let mut hashes = Vec::with_capacity(msgs.len());
        for (nonce, msg) in (first..).zip(msgs) {
            let tx = Tx {
                chain_id: self.chain_id.clone(),
                signer: self.account,
                nonce,
                fee: self.fee,
                msg,
            }
            .sign(&self.key);
            hashes.push(self.client.submit(&surety_types::encoding::encode(&tx))?);
        }
        Ok(hashes)
    }

    /// Poll `hash` until it is in a block, or `None` once `wait_ms` have passed since
    /// `started`. A transaction the node no longer knows is a `404` refusal.
    pub(crate) fn landed(
        &self,
        hash: &Hash,
        started: Instant,
        wait_ms: u64,
    ) -> Result<Option<Landed>, RpcError> {
        loop {
            if let surety_node::api::TxStatus::Committed {
                height, receipt, ..
            } = self.client.tx(&hash.to_hex())?
            {
                return Ok(Some(Landed {
                    height,
                    receipt: *receipt,
                }));
            }
            if started.elapsed() > Duration::from_millis(wait_ms) {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(TX_POLL_MS));
        }
    }
}
