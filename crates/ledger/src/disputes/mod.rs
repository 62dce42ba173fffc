//! Disputes: challenge, bisection and one-step resolution (DESIGN §5 steps 5–6,
//! docs/market.md).
//!
//! A dispute sets a defendant (the operator whose result is disputed) against a challenger (an
//! auditor or a disagreeing replica, both staked, or anyone with a bond). Each committed to a
//! trace root over the same number of steps, and their outputs — the last leaves — differ.
//! Both agree on the job input (leaf "−1"). Each move asks both parties for their leaf at the
//! midpoint of the interval `[agreed, disagreed]`, proven against their own root (so neither
//! can copy the other); equal leaves move `agreed` up, different ones move `disagreed` down.
//! After `⌈log2 steps⌉` moves the interval is one step: the parties agree on its input hash and
//! not on its output. The defendant (or anyone) hands the ledger that input activation; the
//! ledger checks its hash, runs the single step with `surety_infer::execute_step` on the
//! registered weights, and compares. A party that misses a move's deadline loses; if the input
//! never comes, the defendant — who claimed to have computed it — loses.
//!
//! The loser pays (docs/market.md, "Loser pays"): each party's reveal and input fees are
//! recorded in the dispute, capped per transaction and per party; a bonded challenger that
//! loses pays the defendant's from its bond (sized by `Params::validate` to cover the worst
//! case), and a winner against a staked loser is reimbursed from the insurance pool, which
//! the loser's slash pays into.
//!
//! This module is the court, one layer below the market: it knows traces, bonds and moves,
//! not jobs. The jobs module opens disputes over its results, hands the court what it needs
//! (the job's model, its input), and applies the [`Verdict`] the court returns.

pub mod error;
pub mod event;
pub mod invariants;
pub mod msg;
pub mod state;

/// Largest chunk of the referee's input one transaction carries (a parameter rule uses it, so
/// it lives with the parameters).
pub use crate::params::INPUT_CHUNK_BYTES_MAX;
pub use error::DisputesError;
pub use event::DisputesEvent;
pub use msg::{Challenge, ProvideStepInput, RevealStep};
pub use state::{dispute, disputes_from, Challenger, Costs, Dispute, Outcome, Party, Phase};

use crate::bank::{self, Pool};
use crate::congestion::Stretch;
use crate::context::BlockContext;
use crate::models::{self, ModelCache};
use crate::params::Params;
use crate::store::Store;
use surety_infer::Activation;
use surety_types::{AccountId, Amount, ArithmeticError, Hash, Height, JobId, ModelId, OperatorId};

/// A new dispute: what is disputed and the two sides.
pub struct Opening {
    /// The job whose result is disputed.
    pub job: JobId,
    /// Leaves in each side's trace (the model program's step count).
    pub steps: u64,
    /// The hash both sides agree on before step 0: the job input's.
    pub input_hash: Hash,
    /// The operator whose result is disputed.
    pub defendant: OperatorId,
    /// The defendant's trace root.
    pub defendant_root: Hash,
    /// The defendant's output hash (its trace's last leaf).
    pub defendant_output: Hash,
    /// Who disputes the result.
    pub challenger: Challenger,
    /// The challenger's trace root.
    pub challenger_root: Hash,
    /// The challenger's output hash.
    pub challenger_output: Hash,
    /// The bond a challenger that is not an operator put up (already in the bond pool).
    pub bond: Amount,
}

/// What a resolved dispute decided, for the module that opened it to apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The dispute, resolved.
    pub dispute: Dispute,
    /// The defendant's result was proven wrong (or the defendant fell silent).
    pub defendant_lost: bool,
    /// The challenger's claim was proven wrong (or the challenger fell silent).
    pub challenger_lost: bool,
}

/// Open a dispute; the caller records on its side that the subject is disputed.
pub fn open(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    opening: Opening,
) -> Result<u64, DisputesError> {
    if opening.challenger.account() == opening.defendant.account() {
        return Err(DisputesError::SelfChallenge);
    }
    let id = state::next_id(store);
    let mut dispute = Dispute {
        id,
        job: opening.job,
        defendant: opening.defendant,
        defendant_root: opening.defendant_root,
        challenger: opening.challenger,
        challenger_root: opening.challenger_root,
        bond: opening.bond,
        steps: opening.steps,
        opened: ctx.height,
        agreed: 0,
        agreed_hash: opening.input_hash,
        disagreed: opening.steps.saturating_sub(1),
        defendant_hash: opening.defendant_output,
        challenger_hash: opening.challenger_output,
        defendant_output: opening.defendant_output,
        challenger_output: opening.challenger_output,
        costs: Costs::default(),
        moves: 0,
        phase: Phase::AwaitInput {
            deadline: ctx.height,
        },
        stretch: Stretch::starting(store),
    };
    next_move(store, params, ctx, &mut dispute)?;
    state::set_dispute(store, &dispute);
    state::index_by_job(store, &dispute);
    store.emit(DisputesEvent::DisputeOpened {
        dispute: id,
        job: opening.job,
        defendant: dispute.defendant,
        challenger: dispute.challenger.account(),
    });
    Ok(id)
}

/// Set the next phase from the interval: another bisection move, or the referee. Runs in
/// transactions (a dispute opened or a step revealed) and in the end-block hook (a dispute
/// opened by the results' compare at a reveal deadline, a suspect's, a deferred audit's); a
/// deadline past the last height is an error that refuses the transaction or the item.
fn next_move(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    dispute: &mut Dispute,
) -> Result<(), DisputesError> {
    let move_deadline = ctx.height.plus(params.disputes.dispute_move_blocks)?;
    // A new move counts slack blocks from now, but the stretch a dispute may take stays one
    // `deadline_blocks_max` over all its moves.
    dispute.stretch.seen = crate::congestion::slack_blocks(store);
    if let Some(step) = dispute.isolated_step() {
        store.emit(DisputesEvent::StepIsolated {
            dispute: dispute.id,
            step,
        });
        // Step 0's input is the job input, which the ledger holds: the referee runs at the
        // end of the next block. Not this one: a dispute opened in this block's end hook
        // (a compare at a reveal deadline, a suspect) comes after the court has taken this
        // height's due disputes, and would never be due again (found by the review of the
        // void fallback: a one-step model's disputes all stayed open). Any other step's input
        // may take one chunk a block (`dispute_input_blocks`, sized by `Params::validate`).
        let deadline = if step == 0 {
            ctx.height.plus(1)?
        } else {
            ctx.height.plus(params.disputes.dispute_input_blocks)?
        };
        dispute.phase = Phase::AwaitInput { deadline };
        state::schedule(store, deadline, dispute.id);
        return Ok(());
    }
    // The interval is `agreed <= disagreed` (a dispute invariant), so the midpoint is
    // `agreed + (disagreed - agreed) / 2`, computed without overflow.
    let index = dispute.agreed.midpoint(dispute.disagreed);
    dispute.phase = Phase::Bisect {
        index,
        defendant: None,
        challenger: None,
        deadline: move_deadline,
    };
    state::schedule(store, move_deadline, dispute.id);
    Ok(())
}

/// Count a transaction's fee in `party`'s costs, within the parameters' caps.
fn count_cost(params: &Params, dispute: &mut Dispute, party: Party, fee: Amount) {
    dispute.costs.add(
        party,
        fee,
        params.dispute_tx_cost_max(),
        params.dispute_cost_max(),
    );
}

fn party_of(dispute: &Dispute, signer: &AccountId) -> Result<Party, DisputesError> {
    if dispute.defendant.account() == *signer {
        Ok(Party::Defendant)
    } else if dispute.challenger.account() == *signer {
        Ok(Party::Challenger)
    } else {
        Err(DisputesError::NotAParty(dispute.id))
    }
}

/// Execute a [`RevealStep`]: a party's leaf at the current move's index, proven against its
/// trace root. When both have revealed, the interval narrows (equal leaves move `agreed` up,
/// different ones move `disagreed` down) and the next move, or the referee, is set. The
/// transaction's `fee` counts in the party's costs (loser pays).
pub fn execute_reveal(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    signer: &AccountId,
    fee: Amount,
    msg: &RevealStep,
) -> Result<(), DisputesError> {
    let mut dispute =
        state::dispute(store, msg.dispute).ok_or(DisputesError::UnknownDispute(msg.dispute))?;
    let party = party_of(&dispute, signer)?;
    let (index, defendant, challenger, deadline) = current_move(&dispute, msg)?;
    check_step_proof(&dispute, party, index, msg)?;
    let (defendant, challenger) = match party {
        Party::Defendant if defendant.is_none() => (Some(msg.step_hash), challenger),
        Party::Challenger if challenger.is_none() => (defendant, Some(msg.step_hash)),
        _ => return Err(DisputesError::AlreadyRevealed),
    };
    dispute.moves = dispute
        .moves
        .checked_add(1)
        .ok_or(ArithmeticError::Overflow)?;
    count_cost(params, &mut dispute, party, fee);
    store.emit(DisputesEvent::StepRevealed {
        dispute: dispute.id,
        party,
        index,
    });
    match (defendant, challenger) {
        (Some(d), Some(c)) => {
            narrow(&mut dispute, index, d, c)?;
            next_move(store, params, ctx, &mut dispute)?;
        }
        _ => {
            dispute.phase = Phase::Bisect {
                index,
                defendant,
                challenger,
                deadline,
            };
        }
    }
    state::set_dispute(store, &dispute);
    Ok(())
}

/// The bisection move a reveal answers: its index, the reveals made so far and its deadline.
/// Refuses a dispute that is not bisecting and a reveal for another index.
fn current_move(
    dispute: &Dispute,
    msg: &RevealStep,
) -> Result<(u64, Option<Hash>, Option<Hash>, Height), DisputesError> {
    let Phase::Bisect {
        index,
        defendant,
        challenger,
        deadline,
    } = dispute.phase.clone()
    else {
        return Err(if dispute.is_open() {
            DisputesError::Invalid("the dispute is waiting for the referee's input".into())
        } else {
            DisputesError::Resolved(dispute.id)
        });
    };
    if msg.index != index {
        return Err(DisputesError::WrongIndex {
            dispute: dispute.id,
            expected: index,
            got: msg.index,
        });
    }
    Ok((index, defendant, challenger, deadline))
}

/// The revealed leaf must be leaf `index` of the party's trace: the proof is for that
/// position in a trace of the dispute's length and proves the step hash against the party's
/// trace root.
fn check_step_proof(
    dispute: &Dispute,
    party: Party,
    index: u64,
    msg: &RevealStep,
) -> Result<(), DisputesError> {
    let root = match party {
        Party::Defendant => dispute.defendant_root,
        Party::Challenger => dispute.challenger_root,
    };
    if msg.proof.index != index || msg.proof.leaf_count != dispute.steps {
        return Err(DisputesError::BadProof {
            index,
            reason: format!(
                "proof is for leaf {} of {}",
                msg.proof.index, msg.proof.leaf_count
            ),
        });
    }
    msg.proof
        .verify(&root, &msg.step_hash.0)
        .map_err(|e| DisputesError::BadProof {
            index,
            reason: e.to_string(),
        })
}

/// Both parties revealed leaf `index`: equal leaves move `agreed` past it, different ones move
/// `disagreed` down to it.
fn narrow(
    dispute: &mut Dispute,
    index: u64,
    defendant: Hash,
    challenger: Hash,
) -> Result<(), DisputesError> {
    if defendant == challenger {
        dispute.agreed = index.checked_add(1).ok_or(ArithmeticError::Overflow)?;
        dispute.agreed_hash = defendant;
    } else {
        dispute.disagreed = index;
        dispute.defendant_hash = defendant;
        dispute.challenger_hash = challenger;
    }
    Ok(())
}

/// A chunk of the referee's input. When the last chunk is in and the activation hashes to the
/// agreed step hash, the referee runs the step on `model` (the disputed job's, named by the
/// caller) and the dispute is resolved: the verdict is returned for the caller to apply.
/// Anyone may upload (the first complete copy wins); a party's chunks count its `fee` in its
/// costs (loser pays), anyone else's are its own affair.
// One argument per thing the upload needs; a struct would only name them twice.
#[allow(clippy::too_many_arguments)]
pub fn execute_provide_input(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    cache: &ModelCache,
    model: &ModelId,
    signer: &AccountId,
    fee: Amount,
    msg: &ProvideStepInput,
) -> Result<Option<Verdict>, DisputesError> {
    let mut dispute =
        state::dispute(store, msg.dispute).ok_or(DisputesError::UnknownDispute(msg.dispute))?;
    if !matches!(dispute.phase, Phase::AwaitInput { .. }) {
        return Err(DisputesError::NotAwaitingInput(dispute.id));
    }
    let limit = params.disputes.dispute_input_bytes_max;
    if msg.total > limit {
        return Err(DisputesError::InputTooLarge {
            got: msg.total,
            limit,
        });
    }
    if msg.bytes.is_empty() || msg.bytes.len() > INPUT_CHUNK_BYTES_MAX {
        return Err(DisputesError::Invalid(format!(
            "a chunk must be 1..={INPUT_CHUNK_BYTES_MAX} bytes"
        )));
    }
    if msg.offset == 0 {
        state::clear_input(store, dispute.id, signer);
    }
    let written = state::input_len(store, dispute.id, signer);
    if msg.offset != written {
        return Err(DisputesError::WrongOffset {
            expected: written,
            got: msg.offset,
        });
    }
    let written_after = written
        .checked_add(msg.bytes.len() as u64)
        .ok_or(ArithmeticError::Overflow)?;
    if written_after > msg.total {
        return Err(DisputesError::Invalid(
            "the chunk runs past the stated total".into(),
        ));
    }
    state::append_input(store, dispute.id, signer, &msg.bytes)?;
    if let Ok(party) = party_of(&dispute, signer) {
        count_cost(params, &mut dispute, party, fee);
    }
    if written_after < msg.total {
        state::set_dispute(store, &dispute);
        return Ok(None);
    }
    let bytes = state::input_bytes(store, dispute.id, signer);
    let activation =
        Activation::from_bytes(&bytes).map_err(|e| DisputesError::BadInput(e.to_string()))?;
    let hash = activation.hash();
    if hash != dispute.agreed_hash {
        return Err(DisputesError::InputMismatch {
            expected: dispute.agreed_hash,
            got: hash,
        });
    }
    referee(store, ctx, cache, model, dispute, &activation).map(Some)
}

/// Run the isolated step of `dispute` on `input` with `model`'s registered weights, and resolve
/// the dispute by its result.
pub fn referee(
    store: &mut Store,
    ctx: &BlockContext,
    cache: &ModelCache,
    model: &ModelId,
    dispute: Dispute,
    input: &Activation,
) -> Result<Verdict, DisputesError> {
    let step = dispute
        .isolated_step()
        .expect("the referee runs on an isolated step");
    let model = models::loaded(store, cache, model)?;
    // An input both sides agreed on that the step cannot run means both claimed an output
    // for something that is not an activation of this model: neither is right.
    let outcome = match surety_infer::execute_step(&model, step as usize, input) {
        Ok(output) => {
            let hash = output.hash();
            if hash == dispute.defendant_hash {
                Outcome::DefendantRight
            } else if hash == dispute.challenger_hash {
                Outcome::ChallengerRight
            } else {
                Outcome::BothWrong
            }
        }
        Err(_) => Outcome::BothWrong,
    };
    resolve(store, ctx, dispute, outcome)
}

/// Settle a dispute with `outcome`: the bond, the record, the event. The verdict says who lost,
/// for the caller to slash and to move its subject on.
pub fn resolve(
    store: &mut Store,
    ctx: &BlockContext,
    mut dispute: Dispute,
    outcome: Outcome,
) -> Result<Verdict, DisputesError> {
    let (defendant_lost, challenger_lost) = match &outcome {
        Outcome::DefendantRight => (false, true),
        Outcome::ChallengerRight => (true, false),
        Outcome::BothWrong => (true, true),
        Outcome::Timeout { silent } => (
            silent.contains(&Party::Defendant),
            silent.contains(&Party::Challenger),
        ),
        Outcome::Void => (false, false),
    };
    pay_costs(store, &dispute, defendant_lost, challenger_lost)?;
    state::delete_inputs(store, dispute.id);
    dispute.phase = Phase::Resolved {
        outcome: outcome.clone(),
        height: ctx.height,
    };
    state::set_dispute(store, &dispute);
    store.emit(DisputesEvent::DisputeResolved {
        dispute: dispute.id,
        outcome,
    });
    Ok(Verdict {
        dispute,
        defendant_lost,
        challenger_lost,
    })
}

/// Close a dispute the ledger could not settle, with no verdict ([`Outcome::Void`]): a bonded
/// challenger's bond goes back in full, the referee's input is dropped and nobody's costs are
/// paid (nobody was proven wrong). The caller releases the parties' holds and moves the
/// subject on. A dispute already resolved is left as it is.
pub fn void(
    store: &mut Store,
    ctx: &BlockContext,
    id: u64,
) -> Result<Option<Dispute>, DisputesError> {
    let Some(mut dispute) = state::dispute(store, id).filter(Dispute::is_open) else {
        return Ok(None);
    };
    if let Challenger::Account(account) = dispute.challenger {
        if !dispute.bond.is_zero() {
            bank::pool_to_account(store, Pool::DisputeBonds, &account, dispute.bond)?;
        }
    }
    state::delete_inputs(store, dispute.id);
    dispute.phase = Phase::Resolved {
        outcome: Outcome::Void,
        height: ctx.height,
    };
    state::set_dispute(store, &dispute);
    store.emit(DisputesEvent::DisputeResolved {
        dispute: dispute.id,
        outcome: Outcome::Void,
    });
    Ok(Some(dispute))
}

/// Loser pays (docs/market.md, "Loser pays"). A bonded challenger that lost pays the
/// defendant's recorded costs from its bond (the bond covers the worst case: `Params::
/// validate`), the rest to the insurance pool, and any costs the bond did not cover (a suspect
/// dispute has none) come from that pool; one that won gets its bond back. A winner
/// against a staked loser (any winner but a defendant against a bonded challenger) has its
/// costs reimbursed from the insurance pool at once, capped by the pool's balance: the loser
/// is slashed `wrong_result` of its allocation, and that slash, delayed by
/// `slash_delay_epochs`, pays `insurance_share` into the same pool. When both lose, nobody
/// is reimbursed.
fn pay_costs(
    store: &mut Store,
    dispute: &Dispute,
    defendant_lost: bool,
    challenger_lost: bool,
) -> Result<(), DisputesError> {
    let id = dispute.id;
    let defendant_account = dispute.defendant.account();
    if let Challenger::Account(account) = dispute.challenger {
        if challenger_lost {
            let owed = if defendant_lost {
                Amount::ZERO
            } else {
                dispute.costs.defendant.min(dispute.bond)
            };
            if !owed.is_zero() {
                bank::pool_to_account(store, Pool::DisputeBonds, &defendant_account, owed)?;
                store.emit(DisputesEvent::CostsPaidFromBond {
                    dispute: id,
                    challenger: account,
                    defendant: defendant_account,
                    amount: owed,
                });
            }
            let rest = dispute.bond.checked_sub(owed)?;
            bank::pool_to_pool(store, Pool::DisputeBonds, Pool::Insurance, rest)?;
            store.emit(DisputesEvent::BondForfeited {
                dispute: id,
                challenger: account,
                amount: rest,
            });
            // What the bond did not cover comes from the insurance pool, as against a staked
            // loser: nothing for a bonded challenge (its bond covers the worst case), all of it
            // for a suspect dispute, which the market opens with no bond (`jobs::suspects`), so
            // an honest suspect is not out its costs for a dispute forced on it.
            if !defendant_lost {
                let shortfall = dispute.costs.defendant.checked_sub(owed)?;
                return reimburse(store, id, Party::Defendant, &defendant_account, shortfall);
            }
            return Ok(());
        }
        bank::pool_to_account(store, Pool::DisputeBonds, &account, dispute.bond)?;
        store.emit(DisputesEvent::BondReturned {
            dispute: id,
            challenger: account,
            amount: dispute.bond,
        });
    }
    let winner = match (defendant_lost, challenger_lost) {
        (true, false) => Party::Challenger,
        (false, true) => Party::Defendant,
        _ => return Ok(()),
    };
    let account = match winner {
        Party::Defendant => defendant_account,
        Party::Challenger => dispute.challenger.account(),
    };
    reimburse(store, id, winner, &account, dispute.costs.of(winner))
}

/// Reimburse a winner's costs from the insurance pool, as far as its balance goes.
fn reimburse(
    store: &mut Store,
    dispute: u64,
    party: Party,
    account: &AccountId,
    owed: Amount,
) -> Result<(), DisputesError> {
    if owed.is_zero() {
        return Ok(());
    }
    let amount = owed.min(bank::pool_balance(store, Pool::Insurance));
    if !amount.is_zero() {
        bank::pool_to_account(store, Pool::Insurance, account, amount)?;
    }
    store.emit(DisputesEvent::CostsReimbursed {
        dispute,
        party,
        account: *account,
        amount,
        owed,
    });
    Ok(())
}

/// What is due for a dispute at the end of block `height`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Due {
    /// Nothing (its deadline moved since it was scheduled).
    Nothing,
    /// A move timed out: these parties were silent.
    Timeout {
        /// The parties that did not answer.
        silent: Vec<Party>,
    },
    /// Step 0 is isolated: its input is the job input, which the caller holds; the referee
    /// runs now.
    StepZero,
}

/// What is due for `dispute` at the end of `height`.
pub fn due(dispute: &Dispute, height: Height) -> Due {
    match &dispute.phase {
        Phase::Bisect {
            defendant,
            challenger,
            deadline,
            ..
        } if *deadline == height => {
            let mut silent = Vec::new();
            if defendant.is_none() {
                silent.push(Party::Defendant);
            }
            if challenger.is_none() {
                silent.push(Party::Challenger);
            }
            Due::Timeout { silent }
        }
        Phase::AwaitInput { deadline } if *deadline == height => {
            if dispute.isolated_step() == Some(0) {
                Due::StepZero
            } else {
                Due::Timeout {
                    silent: vec![Party::Defendant],
                }
            }
        }
        _ => Due::Nothing,
    }
}

/// Disputes with something due at the end of `height`, in id order, their schedule entries
/// removed. A move whose deadline is due is first moved on by the slack blocks seen since it
/// was set (at most `jobs.deadline_blocks_max` in all; docs/market.md): a party whose reveal
/// or input could not be included must not lose for it. Step 0's referee is not a deadline.
pub fn take_due(store: &mut Store, params: &Params, height: Height) -> Vec<Dispute> {
    let mut due = Vec::new();
    for id in state::take_due(store, height) {
        let Some(mut dispute) = state::dispute(store, id) else {
            continue;
        };
        let step_zero = dispute.isolated_step() == Some(0);
        let deadline = match &mut dispute.phase {
            Phase::Bisect { deadline, .. } => Some(deadline),
            Phase::AwaitInput { deadline } if !step_zero => Some(deadline),
            _ => None,
        };
        let cap = params.jobs.deadline_blocks_max;
        if let Some(deadline) = deadline.filter(|d| **d == height) {
            if let Some(moved) = dispute.stretch.moved(store, *deadline, cap) {
                *deadline = moved;
                state::schedule(store, moved, dispute.id);
                state::set_dispute(store, &dispute);
                store.emit(DisputesEvent::MoveExtended {
                    dispute: dispute.id,
                    deadline: moved,
                });
                continue;
            }
        }
        due.push(dispute);
    }
    due
}
