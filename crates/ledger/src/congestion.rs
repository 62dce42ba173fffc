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
//! (`jobs.deadline_blocks_max` for deadlines). A claim window instead *restarts* ([`restarted`]):
//! its opening waits for `audit_seed_delay + 1` blocks in a row on their schedule (the seal's
//! block to the seed's), at most `audit_seed_delay` late, and its end for `audit_claim_blocks`
//! blocks in a row that are not slack, at most `audit_claim_blocks` late; a full block changes
//! nothing about who chose a seed and does not move an opening. A window of `L` blocks therefore holds `L` blocks that had room and were
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
const LAST_SLACK: &[u8] = b"congestion/last_slack";
const LAST_OFF_SCHEDULE: &[u8] = b"congestion/last_off_schedule";

/// Slack blocks (full, or off their schedule) since genesis.
pub fn slack_blocks(store: &Store) -> u64 {
    store.get(SLACK_BLOCKS).unwrap_or(0)
}

/// The height of the last slack block, if any.
pub fn last_slack(store: &Store) -> Option<Height> {
    store.get(LAST_SLACK)
}

/// The height of the last block off its schedule, if any.
pub fn last_off_schedule(store: &Store) -> Option<Height> {
    store.get(LAST_OFF_SCHEDULE)
}

/// Count the block at `height` as slack. The ledger calls this once per block at most: after
/// the transactions for a full one (before the end-block hooks that judge deadlines); a block
/// off its schedule is counted by [`note_off_schedule`] instead.
pub fn note_slack(store: &mut Store, height: Height) {
    // One per block from 0: never near u64::MAX.
    store.put(
        SLACK_BLOCKS.to_vec(),
        &slack_blocks(store).saturating_add(1),
    );
    store.put(LAST_SLACK.to_vec(), &height);
}

/// Count the block at `height` as off its schedule, and so as slack: before the begin-block
/// hooks, so a claim window due to open with its seed (a later round's proposer chose it) moves
/// on instead.
pub fn note_off_schedule(store: &mut Store, height: Height) {
    store.put(LAST_OFF_SCHEDULE.to_vec(), &height);
    note_slack(store, height);
}

/// Where a window that must end with `run` blocks in a row none of which is the `last` one
/// counted (a slack block, or one off its schedule) ends when it comes due at `end`: `run`
/// blocks after `last` when `last` falls among its final `run` blocks, at most `latest`; `None`
/// when it stands. Unlike a stretch by the count of such blocks, a block out of the count in
/// the middle of the run restarts it, so no run the window relies on is ever made of counted
/// blocks on both sides of an uncounted one: a coalition that knocks out the honest proposer
/// between two of its own cannot join them into one run (the second review of the stretch).
pub fn restarted(last: Option<Height>, end: Height, run: u64, latest: Height) -> Option<Height> {
    let last = last?;
    if last.get().saturating_add(run) <= end.get() {
        return None;
    }
    let moved = Height::new(last.get().saturating_add(run).min(latest.get()));
    (moved > end).then_some(moved)
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
    /// [`slack_blocks`] when the deadline was set or last moved.
    pub seen: u64,
    /// Blocks the deadline has moved so far.
    pub extended: u64,
}

impl Stretch {
    /// A deadline set now, that slack blocks stretch.
    pub fn starting(store: &Store) -> Stretch {
        Stretch {
            seen: slack_blocks(store),
            extended: 0,
        }
    }

    /// A deadline due now: the later deadline it moves to for the slack blocks seen since it
    /// was set or last moved (at most `cap` blocks in all), or `None` when it stands.
    pub fn moved(&mut self, store: &Store, deadline: Height, cap: u64) -> Option<Height> {
        let now = slack_blocks(store);
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
            note_slack(&mut store, Height::new(1));
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
            note_slack(&mut store, Height::new(1));
        }
        assert_eq!(
            stretch.moved(&store, Height::new(13), 5),
            Some(Height::new(15)),
            "only 2 of the 4 fit under the cap of 5"
        );
        note_slack(&mut store, Height::new(1));
        assert_eq!(
            stretch.moved(&store, Height::new(15), 5),
            None,
            "the cap is reached"
        );
    }

    #[test]
    fn a_window_restarts_its_run_after_the_last_block_out_of_the_count_up_to_its_latest() {
        let mut store = Store::new();
        let h = Height::new;
        assert_eq!(restarted(last_slack(&store), h(20), 5, h(25)), None);
        note_off_schedule(&mut store, h(15));
        assert_eq!(
            (slack_blocks(&store), last_off_schedule(&store)),
            (1, Some(h(15)))
        );
        // 15 is before the final run 16..=20: it stands.
        assert_eq!(restarted(last_slack(&store), h(20), 5, h(25)), None);
        note_slack(&mut store, h(17));
        assert_eq!(
            last_off_schedule(&store),
            Some(h(15)),
            "a full block is not off schedule"
        );
        // 17 breaks the run: five blocks after it, 18..=22, not 21 as a count would give.
        assert_eq!(restarted(last_slack(&store), h(20), 5, h(25)), Some(h(22)));
        note_slack(&mut store, h(22));
        assert_eq!(
            restarted(last_slack(&store), h(22), 5, h(25)),
            Some(h(25)),
            "at most the latest"
        );
        assert_eq!(restarted(last_slack(&store), h(25), 5, h(25)), None);
    }
}
