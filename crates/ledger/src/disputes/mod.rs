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

pub mod error;
pub mod invariants;
pub mod msg;
pub mod state;

pub use error::DisputesError;
pub use msg::{Challenge, ProvideStepInput, RevealStep};
pub use state::{Challenger, Dispute, Outcome, Party, Phase};

use crate::bank::{self, Pool};
use crate::jobs::{self, Job, JobStatus};
use crate::models::{self, ModelCache};
use crate::params::Params;
use crate::store::Store;
use crate::{BlockContext, Event};
use surety_infer::Activation;
use surety_types::{AccountId, Amount, Hash, Height, OperatorId};

/// Largest chunk of the referee's input one transaction carries.
pub const INPUT_CHUNK_BYTES_MAX: usize = 48 * 1024;

/// The two sides of a new dispute.
pub struct Opening {
    pub defendant: OperatorId,
    pub defendant_root: Hash,
    pub defendant_output: Hash,
    pub challenger: Challenger,
    pub challenger_root: Hash,
    pub challenger_output: Hash,
    pub bond: Amount,
}

/// Open a dispute over `job` (which the caller then stores: its status becomes `Disputed`).
pub fn open(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    job: &mut Job,
    opening: Opening,
) -> Result<u64, DisputesError> {
    if opening.challenger.account() == opening.defendant.account() {
        return Err(DisputesError::SelfChallenge);
    }
    let id = state::next_id(store);
    let mut dispute = Dispute {
        id,
        job: job.id,
        defendant: opening.defendant,
        defendant_root: opening.defendant_root,
        challenger: opening.challenger,
        challenger_root: opening.challenger_root,
        bond: opening.bond,
        steps: job.steps,
        opened: ctx.height,
        agreed: 0,
        agreed_hash: job.input_hash,
        disagreed: job.steps - 1,
        defendant_hash: opening.defendant_output,
        challenger_hash: opening.challenger_output,
        moves: 0,
        phase: Phase::AwaitInput {
            deadline: ctx.height,
        },
    };
    next_move(store, params, ctx, &mut dispute);
    state::set_dispute(store, &dispute);
    job.status = JobStatus::Disputed { dispute: id };
    store.emit(Event::DisputeOpened {
        dispute: id,
        job: job.id,
        defendant: dispute.defendant,
        challenger: dispute.challenger.account(),
    });
    Ok(id)
}

/// Set the next phase from the interval: another bisection move, or the referee.
fn next_move(store: &mut Store, params: &Params, ctx: &BlockContext, dispute: &mut Dispute) {
    let deadline = Height(ctx.height.0 + params.market.dispute_move_blocks);
    if let Some(step) = dispute.isolated_step() {
        store.emit(Event::StepIsolated {
            dispute: dispute.id,
            step,
        });
        // Step 0's input is the job input, which the ledger holds: the referee runs at the
        // end of this block.
        let deadline = if step == 0 { ctx.height } else { deadline };
        dispute.phase = Phase::AwaitInput { deadline };
        state::schedule(store, deadline, dispute.id);
        return;
    }
    let index = dispute.agreed + (dispute.disagreed - dispute.agreed) / 2;
    dispute.phase = Phase::Bisect {
        index,
        defendant: None,
        challenger: None,
        deadline,
    };
    state::schedule(store, deadline, dispute.id);
}

pub fn execute_challenge(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    signer: &AccountId,
    msg: &Challenge,
) -> Result<(), DisputesError> {
    let mut job = jobs::state::job(store, &msg.job).ok_or(jobs::JobsError::UnknownJob(msg.job))?;
    match job.status {
        JobStatus::Challengeable { until } if ctx.height <= until => {}
        _ => return Err(DisputesError::NotChallengeable(msg.job)),
    }
    let result = job
        .assignment_of(&msg.operator)
        .and_then(|a| a.result.clone())
        .ok_or(DisputesError::NoResult {
            job: msg.job,
            operator: msg.operator,
        })?;
    jobs::check_output_proof(
        &msg.output_hash,
        &msg.trace_root,
        job.steps,
        &msg.output_proof,
    )?;
    if msg.output_hash == result.output_hash {
        return Err(DisputesError::SameOutput);
    }
    let bond = params.market.challenge_bond;
    bank::account_to_pool(store, signer, Pool::DisputeBonds, bond)?;
    open(
        store,
        params,
        ctx,
        &mut job,
        Opening {
            defendant: msg.operator,
            defendant_root: result.trace_root,
            defendant_output: result.output_hash,
            challenger: Challenger::Account(*signer),
            challenger_root: msg.trace_root,
            challenger_output: msg.output_hash,
            bond,
        },
    )?;
    jobs::state::set_job(store, &job);
    Ok(())
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

pub fn execute_reveal(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    signer: &AccountId,
    msg: &RevealStep,
) -> Result<(), DisputesError> {
    let mut dispute =
        state::dispute(store, msg.dispute).ok_or(DisputesError::UnknownDispute(msg.dispute))?;
    let party = party_of(&dispute, signer)?;
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
        })?;
    let (defendant, challenger) = match party {
        Party::Defendant if defendant.is_none() => (Some(msg.step_hash), challenger),
        Party::Challenger if challenger.is_none() => (defendant, Some(msg.step_hash)),
        _ => return Err(DisputesError::AlreadyRevealed),
    };
    dispute.moves += 1;
    store.emit(Event::StepRevealed {
        dispute: dispute.id,
        party,
        index,
    });
    match (defendant, challenger) {
        (Some(d), Some(c)) => {
            if d == c {
                dispute.agreed = index + 1;
                dispute.agreed_hash = d;
            } else {
                dispute.disagreed = index;
                dispute.defendant_hash = d;
                dispute.challenger_hash = c;
            }
            next_move(store, params, ctx, &mut dispute);
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

pub fn execute_provide_input(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    cache: &ModelCache,
    signer: &AccountId,
    msg: &ProvideStepInput,
) -> Result<(), DisputesError> {
    let dispute =
        state::dispute(store, msg.dispute).ok_or(DisputesError::UnknownDispute(msg.dispute))?;
    if !matches!(dispute.phase, Phase::AwaitInput { .. }) {
        return Err(DisputesError::NotAwaitingInput(dispute.id));
    }
    let limit = params.market.dispute_input_bytes_max;
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
    if written + msg.bytes.len() as u64 > msg.total {
        return Err(DisputesError::Invalid(
            "the chunk runs past the stated total".into(),
        ));
    }
    state::append_input(store, dispute.id, signer, &msg.bytes);
    if written + (msg.bytes.len() as u64) < msg.total {
        return Ok(());
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
    referee(store, params, ctx, cache, dispute, &activation)
}

/// Run the isolated step on `input` and settle the dispute by its result.
fn referee(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    cache: &ModelCache,
    dispute: Dispute,
    input: &Activation,
) -> Result<(), DisputesError> {
    let step = dispute
        .isolated_step()
        .expect("the referee runs on an isolated step");
    let job =
        jobs::state::job(store, &dispute.job).ok_or(jobs::JobsError::UnknownJob(dispute.job))?;
    let model = models::loaded(store, cache, &job.model)?;
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
    resolve(store, params, ctx, dispute, outcome)
}

/// Settle a dispute: the bond, the slashes (through the jobs module), the job.
fn resolve(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    mut dispute: Dispute,
    outcome: Outcome,
) -> Result<(), DisputesError> {
    let (defendant_lost, challenger_lost) = match &outcome {
        Outcome::DefendantRight => (false, true),
        Outcome::ChallengerRight => (true, false),
        Outcome::BothWrong => (true, true),
        Outcome::Timeout { silent } => (
            silent.contains(&Party::Defendant),
            silent.contains(&Party::Challenger),
        ),
    };
    if let Challenger::Account(account) = dispute.challenger {
        if challenger_lost {
            bank::pool_to_pool(store, Pool::DisputeBonds, Pool::Insurance, dispute.bond)?;
        } else {
            bank::pool_to_account(store, Pool::DisputeBonds, &account, dispute.bond)?;
        }
    }
    state::delete_inputs(store, dispute.id);
    dispute.phase = Phase::Resolved {
        outcome: outcome.clone(),
        height: ctx.height,
    };
    state::set_dispute(store, &dispute);
    store.emit(Event::DisputeResolved {
        dispute: dispute.id,
        outcome,
    });
    jobs::settle_dispute(
        store,
        params,
        ctx,
        &dispute.job.clone(),
        &dispute,
        defendant_lost,
        challenger_lost,
    )?;
    Ok(())
}

/// End of block: run the referee on step-0 disputes, and settle disputes whose move timed out.
pub fn end_block(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    cache: &ModelCache,
) -> Result<(), DisputesError> {
    for id in state::take_due(store, ctx.height) {
        let Some(dispute) = state::dispute(store, id) else {
            continue;
        };
        match dispute.phase.clone() {
            Phase::Bisect {
                defendant,
                challenger,
                deadline,
                ..
            } if deadline == ctx.height => {
                let mut silent = Vec::new();
                if defendant.is_none() {
                    silent.push(Party::Defendant);
                }
                if challenger.is_none() {
                    silent.push(Party::Challenger);
                }
                resolve(store, params, ctx, dispute, Outcome::Timeout { silent })?;
            }
            Phase::AwaitInput { deadline } if deadline == ctx.height => {
                if dispute.isolated_step() == Some(0) {
                    let job = jobs::state::job(store, &dispute.job)
                        .ok_or(jobs::JobsError::UnknownJob(dispute.job))?;
                    match Activation::from_bytes(&job.input) {
                        Ok(input) => referee(store, params, ctx, cache, dispute, &input)?,
                        Err(_) => resolve(store, params, ctx, dispute, Outcome::BothWrong)?,
                    }
                } else {
                    let silent = vec![Party::Defendant];
                    resolve(store, params, ctx, dispute, Outcome::Timeout { silent })?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}
