//! Blocks as consensus orders them and storage keeps them, and the seed chain every block
//! extends (docs/consensus.md "Seed").

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_ledger::params::Params;
use surety_ledger::BlockContext;
use surety_types::encoding::encode;
use surety_types::merkle;
use surety_types::vote::{ConsensusVote, VoteKind};
use surety_types::vrf::{VrfError, VrfOutput, VrfProof};
use surety_types::{Hash, Height, OperatorId, Signature, SigningKey, VerificationKey};

const BLOCK_HASH_DOMAIN: &str = "surety.block-header.v1";
/// Domain of the seed chain: the VRF input's prefix and the hash that chains the seeds.
const SEED_DOMAIN: &str = "surety.seed.v2";
const GENESIS_SEED_DOMAIN: &str = "surety.seed.genesis.v1";

/// `seed_0`, the previous seed of block 1: a hash of the chain id, known to all before the
/// chain starts (block 1's proposer still draws `seed_1` with its VRF like every other).
pub fn genesis_seed(chain_id: &str) -> Hash {
    Hash::of(GENESIS_SEED_DOMAIN, chain_id.as_bytes())
}

/// The VRF input of block `height`'s seed: `"surety.seed.v2" ‖ chain_id ‖ height (8 bytes,
/// big-endian) ‖ seed_{height-1}`. The tail is fixed-size, so the chain id's length is implied
/// and no two (chain, height, seed) give one input. No round, no time, no transactions: the
/// proposer's key and the previous seed fix it, whatever else the block holds.
pub fn seed_alpha(chain_id: &str, height: Height, previous_seed: &Hash) -> Vec<u8> {
    let mut alpha = Vec::with_capacity(SEED_DOMAIN.len() + chain_id.len() + 8 + 32);
    alpha.extend_from_slice(SEED_DOMAIN.as_bytes());
    alpha.extend_from_slice(chain_id.as_bytes());
    alpha.extend_from_slice(&height.get().to_be_bytes());
    alpha.extend_from_slice(previous_seed.as_bytes());
    alpha
}

/// `seed_h = blake3("surety.seed.v2", seed_{h-1} ‖ beta)` (parts length-prefixed, as
/// [`Hash::of_parts`] does), `beta` being the proposer's VRF output over [`seed_alpha`].
pub fn chain_seed(previous_seed: &Hash, output: &VrfOutput) -> Hash {
    Hash::of_parts(SEED_DOMAIN, &[previous_seed.as_bytes(), &output.0])
}

/// A block's seed and the proof that its proposer drew it: the one seed that proposer can give
/// block `height` on top of `previous_seed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedDraw {
    pub seed: Hash,
    pub proof: VrfProof,
}

impl SeedDraw {
    /// The draw of the proposer holding `consensus_key` (the key its node signs votes with).
    pub fn prove(
        consensus_key: &SigningKey,
        chain_id: &str,
        height: Height,
        previous_seed: &Hash,
    ) -> SeedDraw {
        let proof = consensus_key.vrf_prove(&seed_alpha(chain_id, height, previous_seed));
        let output = proof
            .proof_to_hash()
            .expect("a proof made here is well formed");
        SeedDraw {
            seed: chain_seed(previous_seed, &output),
            proof,
        }
    }

    /// The seed `proof` proves for the proposer with consensus key `proposer_key`, or why the
    /// proof is not that proposer's for this height and previous seed.
    pub fn verify(
        proof: &VrfProof,
        proposer_key: &[u8; 32],
        chain_id: &str,
        height: Height,
        previous_seed: &Hash,
    ) -> Result<Hash, VrfError> {
        let output = proof.verify(proposer_key, &seed_alpha(chain_id, height, previous_seed))?;
        Ok(chain_seed(previous_seed, &output))
    }
}

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
/// every node reads the same signer set (for liveness) from it, whatever precommits each node
/// happened to collect itself. The seed does not depend on it (see [`SeedDraw`]).
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
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct BlockHeader {
    pub chain_id: String,
    pub height: Height,
    pub timestamp_ms: u64,
    pub proposer: OperatorId,
    /// `seed_h` of the seed chain: what [`SeedDraw::verify`] gives for `seed_proof`, the
    /// proposer's consensus key and the previous block's seed.
    pub seed: Hash,
    /// The proposer's VRF proof over [`seed_alpha`] of this height and the previous seed.
    pub seed_proof: VrfProof,
    pub absent_validators: Option<Vec<OperatorId>>,
    /// Hash of the previous block's header (zero for height 1).
    pub previous_hash: Hash,
    /// State root after the previous block.
    pub previous_state_root: Hash,
    /// Merkle root over the transactions' bytes.
    pub tx_root: Hash,
    /// The commit certificate of the previous block (`None` only for height 1);
    /// `absent_validators` must be the one derived from it.
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

    /// The ledger's view of this block, but for `off_schedule` (false here), which needs the
    /// validator set and the last seed: `App::context_of` derives it.
    pub fn context(&self, params: &Params) -> BlockContext {
        BlockContext {
            height: self.header.height,
            epoch: params.epoch_of(self.header.height),
            timestamp_ms: self.header.timestamp_ms,
            proposer: self.header.proposer,
            seed: self.header.seed,
            absent_validators: self.header.absent_validators.clone(),
            off_schedule: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_input_is_domain_chain_height_and_previous_seed() {
        let previous = Hash([9; 32]);
        let alpha = seed_alpha("chain", Height::new(0x0102), &previous);
        let mut expected = b"surety.seed.v2chain".to_vec();
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 1, 2]);
        expected.extend_from_slice(&[9; 32]);
        assert_eq!(alpha, expected);
    }

    #[test]
    fn a_draw_verifies_only_for_its_key_height_chain_and_previous_seed() {
        let key = SigningKey::from_seed([1; 32]);
        let public = key.verification_key().to_bytes();
        let other = SigningKey::from_seed([2; 32]).verification_key().to_bytes();
        let previous = genesis_seed("c");
        let draw = SeedDraw::prove(&key, "c", Height::new(5), &previous);
        assert_eq!(
            SeedDraw::verify(&draw.proof, &public, "c", Height::new(5), &previous),
            Ok(draw.seed)
        );
        for (key, chain, height, previous) in [
            (other, "c", 5, previous),
            (public, "d", 5, previous),
            (public, "c", 6, previous),
            (public, "c", 5, Hash([0; 32])),
        ] {
            assert_eq!(
                SeedDraw::verify(&draw.proof, &key, chain, Height::new(height), &previous),
                Err(VrfError::InvalidProof)
            );
        }
        assert_eq!(draw, SeedDraw::prove(&key, "c", Height::new(5), &previous));
    }

    #[test]
    fn the_seed_chains_the_previous_seed_and_the_output() {
        let output = VrfOutput([3; 64]);
        let other = VrfOutput([4; 64]);
        assert_ne!(
            chain_seed(&Hash([1; 32]), &output),
            chain_seed(&Hash([2; 32]), &output)
        );
        assert_ne!(
            chain_seed(&Hash([1; 32]), &output),
            chain_seed(&Hash([1; 32]), &other)
        );
    }
}
