//! Surety's Malachite `Context`: heights, the value (a block, identified by its header hash),
//! votes and proposals signed as exactly `surety_types::vote::ConsensusVote` bytes with the
//! validator's ed25519 consensus key, proposal parts, and the validator set with voting power
//! from bonded stake (`app::voting_powers`).

use std::fmt;
use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};

use crate::app::voting_powers;
use malachitebft_app_channel::app::types::core::{
    self as mc, LinearTimeouts, NilOrVal, Round, SignedExtension, VoteType,
};
use surety_ledger::staking::state::Validator as LedgerValidator;
use surety_types::crypto::CryptoError;
use surety_types::vote::{ConsensusVote, VoteKind};
use surety_types::{Hash, OperatorId, SigningKey, VerificationKey};

// ---------------------------------------------------------------- Height
#[derive(
    Clone,
    Copy,
    Default,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
)]
pub struct BHeight(pub u64);

impl fmt::Display for BHeight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl mc::Height for BHeight {
    const ZERO: Self = BHeight(0);
    const INITIAL: Self = BHeight(1);
    fn increment_by(&self, n: u64) -> Self {
        BHeight(self.0 + n)
    }
    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(BHeight)
    }
    fn as_u64(&self) -> u64 {
        self.0
    }
}

impl BHeight {
    pub fn surety(self) -> surety_types::Height {
        surety_types::Height::new(self.0)
    }
}

// ---------------------------------------------------------------- Address = consensus key
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub struct Address(pub VerificationKey);

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0.to_bytes()[..8] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}
impl mc::Address for Address {}

// ---------------------------------------------------------------- Value = block id (hash)
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub struct BlockId(pub Hash);

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
impl mc::Value for BlockId {
    type Id = BlockId;
    fn id(&self) -> BlockId {
        *self
    }
}

// ---------------------------------------------------------------- Signing scheme
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub struct Sig(pub [u8; 64]);

impl From<surety_types::Signature> for Sig {
    fn from(s: surety_types::Signature) -> Self {
        Sig(s.0)
    }
}
impl From<Sig> for surety_types::Signature {
    fn from(s: Sig) -> Self {
        surety_types::Signature(s.0)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuretyScheme;

impl mc::SigningScheme for SuretyScheme {
    type DecodingError = CryptoError;
    type Signature = Sig;
    type PublicKey = VerificationKey;
    type PrivateKey = SigningKey;

    fn decode_signature(bytes: &[u8]) -> Result<Sig, CryptoError> {
        let arr: [u8; 64] = bytes.try_into().map_err(|_| CryptoError::BadSignature)?;
        Ok(Sig(arr))
    }
    fn encode_signature(signature: &Sig) -> Vec<u8> {
        signature.0.to_vec()
    }
    fn decode_public_key(bytes: &[u8]) -> Result<VerificationKey, CryptoError> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::InvalidKey)?;
        VerificationKey::from_bytes(arr)
    }
    fn encode_public_key(public_key: &VerificationKey) -> Vec<u8> {
        public_key.to_bytes().to_vec()
    }
}

// ---------------------------------------------------------------- Vote
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Vote {
    pub height: BHeight,
    pub round: Round,
    pub vote_type: VoteType,
    pub value: NilOrVal<BlockId>,
    pub validator: Address,
}

impl Vote {
    /// The exact statement the validator signs (and the ledger re-checks in evidence).
    pub fn to_consensus_vote(&self, chain_id: &str) -> ConsensusVote {
        ConsensusVote {
            chain_id: chain_id.to_string(),
            height: self.height.surety(),
            // Votes are only ever cast in a defined round.
            round: self.round.as_u32().unwrap_or(u32::MAX),
            kind: match self.vote_type {
                VoteType::Prevote => VoteKind::Prevote,
                VoteType::Precommit => VoteKind::Precommit,
            },
            value: match self.value {
                NilOrVal::Nil => None,
                NilOrVal::Val(id) => Some(id.0),
            },
            valid_round: None,
            validator: self.validator.0,
        }
    }
}

impl mc::Vote<SuretyCtx> for Vote {
    fn height(&self) -> BHeight {
        self.height
    }
    fn round(&self) -> Round {
        self.round
    }
    fn value(&self) -> &NilOrVal<BlockId> {
        &self.value
    }
    fn take_value(self) -> NilOrVal<BlockId> {
        self.value
    }
    fn vote_type(&self) -> VoteType {
        self.vote_type
    }
    fn validator_address(&self) -> &Address {
        &self.validator
    }
    // Vote extensions are disabled (VoteExtensionPolicy::Disabled, Extension = ()).
    fn extension(&self) -> Option<&SignedExtension<SuretyCtx>> {
        None
    }
    fn take_extension(&mut self) -> Option<SignedExtension<SuretyCtx>> {
        None
    }
    fn extend(self, _extension: SignedExtension<SuretyCtx>) -> Self {
        self
    }
}

// ---------------------------------------------------------------- Proposal
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Proposal {
    pub height: BHeight,
    pub round: Round,
    pub value: BlockId,
    pub pol_round: Round,
    pub proposer: Address,
}

impl Proposal {
    /// The statement a proposer signs; `pol_round` is signed as `valid_round`.
    pub fn to_consensus_vote(&self, chain_id: &str) -> ConsensusVote {
        ConsensusVote {
            chain_id: chain_id.to_string(),
            height: self.height.surety(),
            round: self.round.as_u32().unwrap_or(u32::MAX),
            kind: VoteKind::Proposal,
            value: Some(self.value.0),
            valid_round: self.pol_round.as_u32(),
            validator: self.proposer.0,
        }
    }
}

impl mc::Proposal<SuretyCtx> for Proposal {
    fn height(&self) -> BHeight {
        self.height
    }
    fn round(&self) -> Round {
        self.round
    }
    fn value(&self) -> &BlockId {
        &self.value
    }
    fn take_value(self) -> BlockId {
        self.value
    }
    fn pol_round(&self) -> Round {
        self.pol_round
    }
    fn validator_address(&self) -> &Address {
        &self.proposer
    }
}

// ---------------------------------------------------------------- Proposal parts (block streaming)
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ProposalPart {
    Init {
        height: BHeight,
        round: Round,
        pol_round: Round,
        proposer: Address,
    },
    /// A chunk of the borsh-encoded block.
    Data(Vec<u8>),
    /// The proposer's signature over the proposal statement (height, round, block id, valid
    /// round): receivers drop streams not signed by the round's proposer before decoding them;
    /// consensus itself only accepts a value that matches a signed `Proposal`.
    Fin { block_id: BlockId, signature: Sig },
}

impl mc::ProposalPart<SuretyCtx> for ProposalPart {
    fn is_first(&self) -> bool {
        matches!(self, ProposalPart::Init { .. })
    }
    fn is_last(&self) -> bool {
        matches!(self, ProposalPart::Fin { .. })
    }
}

// ---------------------------------------------------------------- Validators
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    pub address: Address,
    pub public_key: VerificationKey,
    pub voting_power: u64,
    pub operator: OperatorId,
}

impl mc::Validator<SuretyCtx> for Validator {
    fn address(&self) -> &Address {
        &self.address
    }
    fn public_key(&self) -> &VerificationKey {
        &self.public_key
    }
    fn voting_power(&self) -> mc::VotingPower {
        self.voting_power
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    /// Sorted by address, no duplicates, all powers > 0.
    pub validators: Arc<Vec<Validator>>,
    pub total_power: u64,
    /// The seed of the last committed block, which picks this height's proposers
    /// ([`SuretyCtx::select_proposer`]).
    pub seed: Hash,
}

impl ValidatorSet {
    /// The engine's view of the ledger's active set. Keys that do not decompress are left
    /// out (the ledger checks keys when operators register, so this is defence in depth).
    pub fn from_ledger(set: &[LedgerValidator], seed: Hash) -> Self {
        let powers = voting_powers(set);
        Self::new(
            seed,
            set.iter()
                .zip(powers)
                .filter_map(|(v, power)| {
                    let key = v.consensus_key.key().ok()?;
                    Some(Validator {
                        address: Address(key),
                        public_key: key,
                        voting_power: power,
                        operator: v.operator,
                    })
                })
                .collect(),
        )
    }

    pub fn new(seed: Hash, mut validators: Vec<Validator>) -> Self {
        validators.sort_by_key(|v| v.address);
        validators.dedup_by(|a, b| a.address == b.address);
        let total_power = validators.iter().map(|v| v.voting_power).sum();
        Self {
            validators: Arc::new(validators),
            total_power,
            seed,
        }
    }

    pub fn operator_of(&self, address: &Address) -> Option<OperatorId> {
        mc::ValidatorSet::get_by_address(self, address).map(|v| v.operator)
    }

    /// The proposer of `round` at `height` ([`SuretyCtx::select_proposer`]), `None` for an
    /// empty set. Round 0's is the one a block is *on schedule* with: a block built by
    /// another validator stretches the ledger's windows (`BlockContext::off_schedule`).
    pub fn proposer(&self, height: u64, round: u64) -> Option<&Validator> {
        // Stake-weighted pick: a point in [0, total_power) from a hash of the last block's
        // seed, the height and the round, identical on every node. Over many heights each
        // validator proposes in proportion to its power.
        let seed = Hash::of_parts(
            "surety.proposer.v2",
            &[&self.seed.0, &height.to_le_bytes(), &round.to_le_bytes()],
        );
        let mut x = u64::from_le_bytes(seed.0[..8].try_into().expect("8 bytes"));
        x %= self.total_power.max(1);
        for v in self.validators.iter() {
            if x < v.voting_power {
                return Some(v);
            }
            x -= v.voting_power;
        }
        self.validators.first()
    }
}

impl mc::ValidatorSet<SuretyCtx> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }
    fn total_voting_power(&self) -> mc::VotingPower {
        self.total_power
    }
    fn get_by_address(&self, address: &Address) -> Option<&Validator> {
        self.validators
            .binary_search_by(|v| v.address.cmp(address))
            .ok()
            .map(|i| &self.validators[i])
    }
    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}

// ---------------------------------------------------------------- Context
#[derive(Clone, Debug)]
pub struct SuretyCtx {
    pub chain_id: Arc<str>,
}

impl mc::Context for SuretyCtx {
    type Address = Address;
    type Height = BHeight;
    type ProposalPart = ProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = LinearTimeouts;
    type Value = BlockId;
    type Vote = Vote;
    type Extension = ();
    type SigningScheme = SuretyScheme;

    fn select_proposer<'a>(
        &self,
        vs: &'a ValidatorSet,
        height: BHeight,
        round: Round,
    ) -> &'a Validator {
        // The seed makes the schedule unknowable ahead: a block's seed is its proposer's VRF over the one before (docs/consensus.md, "Seed"),
        // so the proposers `d` heights on are known early only to a coalition holding every
        // proposer until then (which can steer the next one by withholding its block: the
        // audit rule counts runs so, `run_power`). With a schedule anyone could compute, a
        // cheat could cheat only on jobs whose audit windows fall in a run of colluding
        // proposers, caught by no audit (docs/consensus.md, "A schedule nobody can read
        // ahead").
        let r = round.as_u32().unwrap_or(0) as u64;
        // Malachite asks only of a set it was given, never empty (the ledger keeps one
        // validator at least).
        vs.proposer(height.0, r)
            .expect("a validator set is never empty")
    }

    fn new_proposal(
        &self,
        height: BHeight,
        round: Round,
        value: BlockId,
        pol_round: Round,
        address: Address,
    ) -> Proposal {
        Proposal {
            height,
            round,
            value,
            pol_round,
            proposer: address,
        }
    }

    fn new_prevote(
        &self,
        height: BHeight,
        round: Round,
        value_id: NilOrVal<BlockId>,
        address: Address,
    ) -> Vote {
        Vote {
            height,
            round,
            vote_type: VoteType::Prevote,
            value: value_id,
            validator: address,
        }
    }

    fn new_precommit(
        &self,
        height: BHeight,
        round: Round,
        value_id: NilOrVal<BlockId>,
        address: Address,
    ) -> Vote {
        Vote {
            height,
            round,
            vote_type: VoteType::Precommit,
            value: value_id,
            validator: address,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mc::Context as _;
    use surety_types::{AccountId, Amount};

    fn set(seed: Hash) -> ValidatorSet {
        let validators: Vec<LedgerValidator> = (1..=4u8)
            .map(|n| {
                let key = SigningKey::from_seed([n; 32]).verification_key();
                LedgerValidator {
                    operator: OperatorId::from(AccountId::from_key(&key)),
                    consensus_key: key.into(),
                    power: Amount::new(u128::from(n) * 1_000),
                }
            })
            .collect();
        ValidatorSet::from_ledger(&validators, seed)
    }

    fn schedule(seed: Hash, heights: std::ops::Range<u64>) -> Vec<Address> {
        let ctx = SuretyCtx {
            chain_id: Arc::from("test"),
        };
        let vs = set(seed);
        heights
            .map(|h| ctx.select_proposer(&vs, BHeight(h), Round::new(0)).address)
            .collect()
    }

    #[test]
    fn the_proposers_follow_the_last_blocks_seed_so_nobody_reads_them_ahead() {
        let (a, b) = (Hash::of("test.seed", b"a"), Hash::of("test.seed", b"b"));
        // The same seed gives every node the same proposers.
        assert_eq!(schedule(a, 1..64), schedule(a, 1..64));
        // Another seed (the last block's, which its proposer's VRF made) gives other ones:
        // before that block, nobody but a coalition holding every proposer up to it knows
        // the schedule.
        assert_ne!(schedule(a, 1..64), schedule(b, 1..64));
        // Each validator still proposes about in proportion to its power (1 : 2 : 3 : 4), over
        // seeds.
        let vs = set(a);
        let ctx = SuretyCtx {
            chain_id: Arc::from("test"),
        };
        let mut counts = std::collections::BTreeMap::<u64, u64>::new();
        for i in 0..4_000u32 {
            let seed = Hash::of("test.seed", &i.to_le_bytes());
            let vs = ValidatorSet { seed, ..vs.clone() };
            let p = ctx.select_proposer(&vs, BHeight(7), Round::new(0));
            *counts.entry(p.voting_power).or_default() += 1;
        }
        let total_power: u64 = vs.validators.iter().map(|v| v.voting_power).sum();
        for (power, count) in counts {
            let expected = 4_000 * power / total_power;
            assert!(
                count.abs_diff(expected) < expected / 5 + 20,
                "power {power}: {count} proposals, about {expected} expected"
            );
        }
    }
}
