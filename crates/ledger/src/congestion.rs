//! Deadlines that stretch while blocks are full or off their schedule (issue #12 item 6,
//! issue #13; docs/market.md, *Deadlines and full blocks*).
//!
//! A party with a deadline (an assignee's commit, an auditor's claim, seal or reveal, a
//! dispute move) must not be punished, nor an auditor kept out, because its transaction could
//! not be included. Two kinds of block give it no room:
//!
//! - a **full** block ([`crate::tx::block_is_full`], counting only transactions that paid
//!   their fee: no room left for one more transaction of the largest size): a spam burst that
//!   fills blocks, or a flood that crowds the mempool, is somebody else's doing. Filling blocks
//!   costs the spammer at least `min_tx_fee` per 64 KiB of block: 128 fees per block;
//! - a block **off its schedule** ([`crate::BlockContext::off_schedule`]): built by another
//!   validator than its height's round-0 proposer, because that proposer was offline (or
//!   knocked out) or withheld its block. The later round's proposer may collude with a cheat;
//!   counting its height would let honest proposers' failures, independent or timed by the
//!   cheat, hand a window's heights to colluders (the review of the proposer margin).
//!
//! The ledger counts such *slack* blocks (each once) and, when a deadline comes due, moves it
//! on by the slack blocks seen since it was set (or last moved), at most a cap in all
//! (`jobs.deadline_blocks_max` for deadlines, `audit_claim_blocks` for a claim window's end).
//! A claim window's opening follows blocks off their schedule alone, up to `audit_seed_delay`:
//! the seed it opens with is then always one a round-0 proposer chose, and a full block,
//! which changes nothing about who chose a seed, does not spend the window's own cap. A window of `L` blocks therefore holds `L` blocks that had room and were
//! built by their round-0 proposer, each a colluder with probability at most the collusion
//! share as the schedule draws it (`Params::honest_audit_rate`), until the cap is spent.
//!
//! What this does not cover: a round-0 proposer that leaves a party's transaction out of a
//! block that is not full. Proposers rotate, so a deadline of `D` blocks sees at least `D`
//! proposers' turns, of which more than two thirds by power are honest; the deadlines' floor
//! ([`crate::params::DEADLINE_BLOCKS_FLOOR`]) and defaults keep `D` well above one.

use crate::store::Store;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::Height;

const SLACK_BLOCKS: &[u8] = b"congestion/slack_blocks";
const OFF_SCHEDULE_BLOCKS: &[u8] = b"congestion/off_schedule_blocks";

/// Slack blocks (full, or off their schedule) since genesis.
pub fn slack_blocks(store: &Store) -> u64 {
    store.get(SLACK_BLOCKS).unwrap_or(0)
}

/// Count this block as slack. The ledger calls this once per block at most: before the
/// begin-block hooks for a block off its schedule (so a claim window due to open with its
/// seed moves on), otherwise after the transactions for a full one (before the end-block
/// hooks that judge deadlines).
pub fn note_slack(store: &mut Store) {
    // One per block from 0: never near u64::MAX.
    store.put(
        SLACK_BLOCKS.to_vec(),
        &slack_blocks(store).saturating_add(1),
    );
}

/// Blocks off their schedule since genesis (each also counted in [`slack_blocks`]). A claim
/// window's opening moves on by these alone: its seed must be one a round-0 proposer chose, and
/// a full block changes nothing about who chose a seed.
pub fn off_schedule_blocks(store: &Store) -> u64 {
    store.get(OFF_SCHEDULE_BLOCKS).unwrap_or(0)
}

/// Count this block as off its schedule, and so as slack. The ledger calls this before the
/// begin-block hooks of a block off its schedule, and then counts it in no other way.
pub fn note_off_schedule(store: &mut Store) {
    // One per block from 0: never near u64::MAX.
    store.put(
        OFF_SCHEDULE_BLOCKS.to_vec(),
        &off_schedule_blocks(store).saturating_add(1),
    );
    note_slack(store);
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
    /// The count it follows ([`slack_blocks`], or [`off_schedule_blocks`] for a claim
    /// window's opening) when the deadline was set or last moved.
    pub seen: u64,
    /// Blocks the deadline has moved so far.
    pub extended: u64,
}

impl Stretch {
    /// A deadline set now, that slack blocks stretch.
    pub fn starting(store: &Store) -> Stretch {
        Stretch::from_count(slack_blocks(store))
    }

    /// A deadline set when a count stood at `seen`.
    pub fn from_count(seen: u64) -> Stretch {
        Stretch { seen, extended: 0 }
    }

    /// A deadline due now: the later deadline it moves to for the slack blocks seen since it
    /// was set or last moved (at most `cap` blocks in all), or `None` when it stands.
    pub fn moved(&mut self, store: &Store, deadline: Height, cap: u64) -> Option<Height> {
        self.moved_with(slack_blocks(store), deadline, cap)
    }

    /// As [`Stretch::moved`], for a count that stands at `now`.
    pub fn moved_with(&mut self, now: u64, deadline: Height, cap: u64) -> Option<Height> {
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
    fn a_deadline_moves_by_the_slack_blocks_since_it_was_set_up_to_the_cap() {
        let mut store = Store::new();
        let mut stretch = Stretch::starting(&store);
        assert_eq!(
            stretch.moved(&store, Height::new(10), 5),
            None,
            "no slack block: it stands"
        );
        for _ in 0..3 {
            note_slack(&mut store);
        }
        assert_eq!(slack_blocks(&store), 3);
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
            note_slack(&mut store);
        }
        assert_eq!(
            stretch.moved(&store, Height::new(13), 5),
            Some(Height::new(15)),
            "only 2 of the 4 fit under the cap of 5"
        );
        note_slack(&mut store);
        assert_eq!(
            stretch.moved(&store, Height::new(15), 5),
            None,
            "the cap is reached"
        );
    }

    #[test]
    fn a_block_off_its_schedule_is_slack_too_and_a_full_one_is_not_off_schedule() {
        let mut store = Store::new();
        let mut opening = Stretch::from_count(off_schedule_blocks(&store));
        note_slack(&mut store);
        assert_eq!(
            opening.moved_with(off_schedule_blocks(&store), Height::new(10), 5),
            None,
            "a full block does not move an opening"
        );
        note_off_schedule(&mut store);
        assert_eq!((slack_blocks(&store), off_schedule_blocks(&store)), (2, 1));
        assert_eq!(
            opening.moved_with(off_schedule_blocks(&store), Height::new(10), 5),
            Some(Height::new(11))
        );
    }
}
