//! Slashing transactions: evidence that anyone may submit.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::vote::SignedVote;

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
// Evidence travels boxed (`Msg::SubmitEvidence(Box<Evidence>)`), so the variants' sizes cost
// nothing there.
#[allow(clippy::large_enum_variant)]
pub enum Evidence {
    /// Two conflicting consensus statements signed by one validator's consensus key.
    DoubleSign {
        first: SignedVote,
        second: SignedVote,
    },
    /// Two different signed results for one job by one operator (DESIGN §5 step 3).
    ResultEquivocation {
        first: surety_types::result::SignedResult,
        second: surety_types::result::SignedResult,
    },
}
