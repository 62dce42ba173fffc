//! Blocks as consensus orders them and storage keeps them.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_ledger::params::Params;
use surety_ledger::BlockContext;
use surety_types::encoding::encode;
use surety_types::merkle;
use surety_types::vote::{ConsensusVote, VoteKind};
use surety_types::{Hash, Height, OperatorId, Signature, SigningKey, VerificationKey};

const BLOCK_HASH_DOMAIN: &str = "surety.block-header.v1";
const SEED_DOMAIN: &str = "surety.seed.v1";
const GENESIS_SEED_DOMAIN: &str = "surety.seed.genesis.v1";

/// One validator's precommit signature inside a commit certificate.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CommitSignature {
    /// The validator's consensus key.
    pub validator: VerificationKey,
    /// Its signature over the precommit (`ConsensusVote` bytes) for the block.
    pub signature: Signature,
}

/// Proof that a block was decided: precommits for it from more than 2/3 of the voting power
/// of the validator set of its height. Block `h + 1` carries the certificate of block `h`, so
/// every node reads the same signer set (for liveness) and the same seed from it, whatever
/// precommits each node happened to collect itself.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CommitCertificate {
    pub height: Height,
    pub round: u32,
    /// Hash of the decided block's header.
    pub block_hash: Hash,
    /// Sorted by validator key, one per validator.
    pub signatures: Vec<CommitSignature>,
}

impl CommitCertificate {
    /// The precommit a validator signs for `block_hash` at this height and round.
    pub fn precommit(
        chain_id: &str,
        height: Height,
        round: u32,
        block_hash: Hash,
        validator: VerificationKey,
    ) -> ConsensusVote {
        ConsensusVote {
            chain_id: chain_id.to_string(),
            height,
            round,
            kind: VoteKind::Precommit,
            value: Some(block_hash),
            valid_round: None,
            validator,
        }
    }

    /// A certificate signed by `keys` directly (tests and tools; a running network gets its
    /// certificates from consensus).
    pub fn sign(chain_id: &str, block: &Block, round: u32, keys: &[SigningKey]) -> Self {
        let block_hash = block.hash();
        let mut signatures: Vec<CommitSignature> = keys
            .iter()
            .map(|key| {
                let vote = Self::precommit(
                    chain_id,
                    block.header.height,
                    round,
                    block_hash,
                    key.verification_key(),
                );
                CommitSignature {
                    validator: key.verification_key(),
                    signature: key.sign(&vote.sign_bytes()),
                }
            })
            .collect();
        signatures.sort_by_key(|s| s.validator);
        signatures.dedup_by(|a, b| a.validator == b.validator);
        CommitCertificate {
            height: block.header.height,
            round,
            block_hash,
            signatures,
        }
    }

    /// The randomness of the next block: a hash of this certificate's signatures. Signatures
    /// are deterministic (ed25519) and no validator can predict the others', so no single
    /// proposer chooses the seed; the proposer's only freedom is which signatures beyond the
    /// 2/3 quorum to include (docs/consensus.md, "Seed").
    pub fn seed(&self) -> Hash {
        let parts: Vec<&[u8]> = self
            .signatures
            .iter()
            .map(|s| s.signature.0.as_slice())
            .collect();
        let mut all = vec![self.block_hash.as_bytes().as_slice()];
        all.extend(parts);
        Hash::of_parts(SEED_DOMAIN, &all)
    }

    /// The seed of block 1, which has no previous certificate.
    pub fn genesis_seed(chain_id: &str) -> Hash {
        Hash::of(GENESIS_SEED_DOMAIN, chain_id.as_bytes())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct BlockHeader {
    pub chain_id: String,
    pub height: Height,
    pub timestamp_ms: u64,
    pub proposer: OperatorId,
    pub seed: Hash,
    pub absent_validators: Option<Vec<OperatorId>>,
    /// Hash of the previous block's header (zero for height 1).
    pub previous_hash: Hash,
    /// State root after the previous block.
    pub previous_state_root: Hash,
    /// Merkle root over the transactions' bytes.
    pub tx_root: Hash,
    /// The commit certificate of the previous block (`None` only for height 1); `seed` and
    /// `absent_validators` must be the ones derived from it.
    pub last_commit: Option<CommitCertificate>,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Block {
    pub header: BlockHeader,
    pub txs: Vec<Vec<u8>>,
}

impl Block {
    pub fn hash(&self) -> Hash {
        Hash::of(BLOCK_HASH_DOMAIN, &encode(&self.header))
    }

    pub fn tx_root(txs: &[Vec<u8>]) -> Hash {
        merkle::root_of(txs)
    }

    /// True if the header's transaction root matches the transactions.
    pub fn txs_match_header(&self) -> bool {
        Block::tx_root(&self.txs) == self.header.tx_root
    }

    /// The ledger's view of this block.
    pub fn context(&self, params: &Params) -> BlockContext {
        BlockContext {
            height: self.header.height,
            epoch: params.epoch_of(self.header.height),
            timestamp_ms: self.header.timestamp_ms,
            proposer: self.header.proposer,
            seed: self.header.seed,
            absent_validators: self.header.absent_validators.clone(),
        }
    }
}
