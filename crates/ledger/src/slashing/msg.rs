//! Slashing transactions: evidence that anyone may submit.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::vote::SignedVote;

/// Evidence of an equivocation, which anyone may submit in a transaction; the submitter is the
/// whistleblower, paid its share of the slash.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
// Evidence travels boxed (`Msg::SubmitEvidence(Box<Evidence>)`), so the variants' sizes cost
// nothing there.
#[allow(clippy::large_enum_variant)]
pub enum Evidence {
    /// Two conflicting consensus statements signed by one validator's consensus key.
    DoubleSign {
        /// One signed vote.
        first: SignedVote,
        /// A conflicting vote by the same key for the same height, round and type.
        second: SignedVote,
    },
    /// Two different signed results for one job by one operator (DESIGN §5 step 3).
    ResultEquivocation {
        /// One signed result statement.
        first: surety_types::result::SignedResult,
        /// A different statement by the same operator for the same job.
        second: surety_types::result::SignedResult,
    },
}
