//! Deadlines that stretch while blocks are full (issue #12 item 6, docs/market.md).
//!
//! A party with a deadline (an assignee's commit, an auditor's, a dispute move) must not be
//! punished because its transaction could not be included: a spam burst that fills blocks, or
//! a flood that crowds the mempool, is somebody else's doing. The ledger counts the blocks
//! that were full ([`crate::tx::block_is_full`], counting only transactions that paid their fee: no room
//! left for one more transaction of the largest size) and, when a deadline comes due, moves
//! it on by the full blocks seen
//! since it was set (or last moved), at most `jobs.deadline_blocks_max` blocks in all. Filling
//! blocks costs the spammer at least `min_tx_fee` per 64 KiB of block: 128 fees per block.
//!
//! What this does not cover: a proposer that leaves a party's transaction out of a block that
//! is not full. Proposers rotate, so a deadline of `D` blocks sees at least `D` proposers'
//! turns, of which more than two thirds by power are honest; the deadlines' floor
//! ([`crate::params::DEADLINE_BLOCKS_FLOOR`]) and defaults keep `D` well above one.

use crate::store::Store;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::Height;

const FULL_BLOCKS: &[u8] = b"congestion/full_blocks";

/// Full blocks since genesis.
pub fn full_blocks(store: &Store) -> u64 {
    store.get(FULL_BLOCKS).unwrap_or(0)
}

/// Count this block if it is full (the ledger calls this after the transactions, before the
/// end-block hooks that judge deadlines).
pub fn note_block(store: &mut Store, full: bool) {
    if full {
        // One per block from 0: never near u64::MAX.
        store.put(FULL_BLOCKS.to_vec(), &full_blocks(store).saturating_add(1));
    }
}

/// How far a deadline has stretched, kept beside it.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct Stretch {
    /// [`full_blocks`] when the deadline was set or last moved.
    pub seen: u64,
    /// Blocks the deadline has moved so far.
    pub extended: u64,
}

impl Stretch {
    /// A deadline set now.
    pub fn starting(store: &Store) -> Stretch {
        Stretch {
            seen: full_blocks(store),
            extended: 0,
        }
    }

    /// A deadline due now: the later deadline it moves to for the full blocks seen since it
    /// was set or last moved (at most `cap` blocks in all), or `None` when it stands.
    pub fn moved(&mut self, store: &Store, deadline: Height, cap: u64) -> Option<Height> {
        let now = full_blocks(store);
        let room = cap.saturating_sub(self.extended);
        let by = now.saturating_sub(self.seen).min(room);
        self.seen = now;
        if by == 0 {
            return None;
        }
        self.extended = self.extended.saturating_add(by);
        Some(deadline.saturating_plus(by))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_moves_by_the_full_blocks_since_it_was_set_up_to_the_cap() {
        let mut store = Store::new();
        let mut stretch = Stretch::starting(&store);
        assert_eq!(
            stretch.moved(&store, Height::new(10), 5),
            None,
            "no full block: it stands"
        );
        for _ in 0..3 {
            note_block(&mut store, true);
        }
        note_block(&mut store, false);
        assert_eq!(full_blocks(&store), 3);
        assert_eq!(
            stretch.moved(&store, Height::new(10), 5),
            Some(Height::new(13))
        );
        assert_eq!(
            stretch.moved(&store, Height::new(13), 5),
            None,
            "counted once"
        );
        for _ in 0..4 {
            note_block(&mut store, true);
        }
        assert_eq!(
            stretch.moved(&store, Height::new(13), 5),
            Some(Height::new(15)),
            "only 2 of the 4 fit under the cap of 5"
        );
        note_block(&mut store, true);
        assert_eq!(
            stretch.moved(&store, Height::new(15), 5),
            None,
            "the cap is reached"
        );
    }
}
