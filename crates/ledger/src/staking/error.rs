//! Why a staking transaction, or a slash reaching staking, is refused ([`StakingError`]).

use crate::bank::BankError;
use surety_types::{AccountId, Amount, ArithmeticError, Epoch, OperatorId, Ratio, Shares};

/// Why a staking transaction (or a slash reaching staking) is refused. All but `Bank` (whose
/// own variants say) and `Arithmetic` are bad input the signer can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StakingError {
    /// The signer already registered an operator (one per account).
    #[error("this account is already registered as an operator")]
    AlreadyOperator,
    /// Another operator signs consensus votes with this key; equivocation evidence must name one
    /// operator, so a key belongs to one.
    #[error("consensus key is already used by operator {0}")]
    ConsensusKeyTaken(OperatorId),
    /// A key the operator would prove VRF outputs with (its consensus key for the block seed,
    /// its account key for audit selections) is not a valid ECVRF key (RFC 9381 §5.4.5: a
    /// canonical point not of small order): it could never propose a block or reveal an audit.
    #[error("the {0} key is not a valid VRF key")]
    NotAVrfKey(&'static str),
    /// No operator has this id.
    #[error("no operator {0}")]
    UnknownOperator(OperatorId),
    /// The message is for an operator and the signer has not registered one.
    #[error("the signer is not an operator")]
    NotOperator,
    /// The initial self-bond is below `min_self_bond`.
    #[error("self-bond {given} is below the minimum {minimum}")]
    SelfBondTooSmall {
        /// The self-bond the registration offers.
        given: Amount,
        /// The staking parameters' minimum self-bond.
        minimum: Amount,
    },
    /// The commission change exceeds the operator's own `max_commission_change`.
    #[error("commission may change by at most {max} per change, asked for {asked}")]
    CommissionChangeTooLarge {
        /// The most the operator's commission may move in one change.
        max: Ratio,
        /// How far the edit would move it.
        asked: Ratio,
    },
    /// The commission already changed in this epoch (the epoch named); one change per epoch.
    #[error("commission was already changed in epoch {0}; one change per epoch")]
    CommissionChangedThisEpoch(Epoch),
    /// An operator metadata field is longer than `METADATA_FIELD_BYTES_MAX`.
    #[error("metadata field {field} is {length} bytes, the limit is {limit}")]
    MetadataTooLong {
        /// The field's name (`moniker`, `website`, `details` or `endpoint`).
        field: &'static str,
        /// Its length in bytes.
        length: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The metadata names another account as its family's head without that head's consent
    /// (`family_consent`): ask the head for one (`surety operator family-consent`).
    #[error("joining the family of {head} needs its head's consent (family_consent)")]
    FamilyConsentMissing {
        /// The head named.
        head: AccountId,
    },
    /// The consent given is not the named head's signature for this operator on this chain.
    #[error("the family consent is not signed by {head} for this operator on this chain")]
    FamilyConsentInvalid {
        /// The head named.
        head: AccountId,
    },
    /// The consent's last epoch (`family_until`) is already past: the head admitted the member
    /// only until then.
    #[error("the family consent of {head} admitted this operator only until epoch {until}")]
    FamilyConsentExpired {
        /// The head named.
        head: AccountId,
        /// The consent's last epoch.
        until: Epoch,
    },
    /// A family consent with no family to join, or with the operator naming itself the head
    /// (its own family takes no consent).
    #[error("a family consent is given but no other account is named as the family's head")]
    FamilyConsentWithoutFamily,
    /// A bond, unbond or redelegation of nothing.
    #[error("amount must be greater than zero")]
    ZeroAmount,
    /// The tokens would buy zero shares of the pool at its current price.
    #[error("amount is too small to buy a single share")]
    AmountTooSmall,
    /// The operator's pool has shares but no tokens left (slashed to zero): a share there has no
    /// price, so it takes no new stake.
    #[error("operator {0} has been slashed to zero and takes no new stake")]
    OperatorDepleted(OperatorId),
    /// The operator has a reported slash still to apply: its stake may neither leave nor join
    /// until then, so the slash finds all of it.
    #[error(
        "operator {0} is frozen by a pending slash: no stake may leave or join until it applies"
    )]
    OperatorFrozen(OperatorId),
    /// The operator is tombstoned (equivocation): jailed for good, and it takes no new stake.
    #[error("operator {0} is tombstoned")]
    Tombstoned(OperatorId),
    /// The delegation holds fewer shares than the message unbonds or moves.
    #[error("delegation holds {held:?}, asked for {asked:?}")]
    InsufficientShares {
        /// Shares the delegation holds.
        held: Shares,
        /// Shares the message asks for.
        asked: Shares,
    },
    /// A redelegation whose source and destination are the same operator.
    #[error("source and destination are the same operator")]
    SameOperator,
    /// The stake arrived at this operator by a redelegation that has not completed; moving it on
    /// would be a chained hop that could outrun a slash of the first operator.
    #[error("this stake arrived at {0} by a redelegation that has not completed; chained hops are not allowed")]
    ChainedRedelegation(OperatorId),
    /// An unjail from an operator that is not jailed.
    #[error("the operator is not jailed")]
    NotJailed,
    /// An unjail before the jail term is over.
    #[error("jailed until epoch {until}, now {now}")]
    StillJailed {
        /// The first epoch the operator may unjail.
        until: Epoch,
        /// The current epoch.
        now: Epoch,
    },
    /// An unjail while the operator's self-bond is below `min_self_bond`.
    #[error("self-bond {have} is below the minimum {minimum}; bond more before unjailing")]
    SelfBondBelowMinimum {
        /// Tokens of self-bond the operator holds.
        have: Amount,
        /// The staking parameters' minimum self-bond.
        minimum: Amount,
    },
    /// A withdrawal while no unbonding entry of the signer has matured (or all are frozen).
    #[error("no unbonding entry is ready to withdraw")]
    NothingToWithdraw,
    /// Moving the tokens failed (a short balance, typically).
    #[error(transparent)]
    Bank(#[from] BankError),
    /// An amount, share count or epoch over- or underflowed.
    #[error(transparent)]
    Arithmetic(#[from] ArithmeticError),
}
