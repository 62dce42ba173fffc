//! Chain parameters: one struct per ledger module, each stored in the state under its module's
//! own key (`<module>/params`), so that governance can change one module's parameters at an
//! epoch boundary and the state root commits to them. Genesis sets them all; the ledger reads
//! them back from the state ([`Params::load`]) at the start of every block.
//!
//! Every parameter is checked by [`Params::validate`]: each module's own rules, then the rules
//! that tie modules together, which are what keep the protocol sound (for example: stake must
//! stay slashable until every delayed slash for its time has applied, and cheating on a job
//! must not pay). This module is a leaf: it imports no other ledger module.

use crate::store::Store;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::{Amount, Epoch, Height, Ratio};

/// Every module's parameters. In genesis files and in JSON, one table per module:
/// `{ "bank": { "min_tx_fee": … }, "staking": { … }, … }`.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Fees.
    pub bank: BankParams,
    /// Epochs, the validator set, unbonding.
    pub staking: StakingParams,
    /// Inflation.
    pub rewards: RewardsParams,
    /// Fault fractions, delays, windows, the split of slashed tokens.
    pub slashing: SlashingParams,
    /// The model registry's limits and deposits.
    pub models: ModelsParams,
    /// Shared security: allocations to a model's service.
    pub services: ServicesParams,
    /// The inference market: fees, replicas, deadlines, audits.
    pub jobs: JobsParams,
    /// Challenges and bisection disputes.
    pub disputes: DisputesParams,
}

/// The bank's parameters.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BankParams {
    /// Smallest fee a transaction may pay.
    pub min_tx_fee: Amount,
}

impl Default for BankParams {
    fn default() -> Self {
        BankParams {
            min_tx_fee: Amount::new(1_000),
        }
    }
}

/// Staking's parameters.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StakingParams {
    /// Blocks per epoch. The validator set changes, unbondings mature and delayed slashes
    /// apply at epoch ends.
    pub epoch_blocks: u64,
    /// Size of the active validator set: the top operators by bonded stake.
    pub max_validators: u32,
    /// Epochs an unbonding entry waits before it can be withdrawn.
    pub unbonding_epochs: u64,
    /// Self-delegation an operator needs to register and to stay un-jailed.
    pub min_self_bond: Amount,
}

impl Default for StakingParams {
    fn default() -> Self {
        StakingParams {
            epoch_blocks: 100,
            max_validators: 100,
            unbonding_epochs: 28,
            min_self_bond: Amount::new(1_000_000),
        }
    }
}

impl StakingParams {
    /// The epoch a height belongs to: heights `1..=epoch_blocks` are epoch 0, and so on.
    /// Genesis (height 0) is epoch 0.
    pub fn epoch_of(&self, height: Height) -> Epoch {
        let blocks = self.epoch_blocks.max(1);
        Epoch::new(
            height
                .get()
                .saturating_sub(1)
                .checked_div(blocks)
                .expect("max(1) is not zero"),
        )
    }
}

/// The rewards module's parameters.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RewardsParams {
    /// Yearly inflation as a fraction of total supply, minted per block.
    pub inflation_per_year: Ratio,
    /// Blocks in a year, to spread the yearly inflation over.
    pub blocks_per_year: u64,
}

impl Default for RewardsParams {
    fn default() -> Self {
        RewardsParams {
            inflation_per_year: Ratio::from_percent(5).expect("5% is a ratio"),
            // One block per second.
            blocks_per_year: 31_536_000,
        }
    }
}

/// The model registry's parameters (docs/models.md).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelsParams {
    /// Largest model file (weights or tokenizer), in bytes.
    pub model_file_bytes_max: u64,
    /// Deposit a publisher escrows per MiB (rounded up) of a model's files at registration:
    /// returned when the model becomes active, burned if its files are rejected or its upload
    /// expires. It prices the chunks an upload keeps in every node's state meanwhile.
    pub model_deposit_per_mib: Amount,
    /// The least deposit of any registration, whatever the size its files claim: holding a
    /// manifest's id with commitments nobody can meet costs at least this per expiry.
    pub model_deposit_min: Amount,
    /// Blocks from registration for the last chunk to land; then the upload expires and its
    /// chunks are deleted.
    pub model_upload_blocks: u64,
}

impl Default for ModelsParams {
    fn default() -> Self {
        ModelsParams {
            model_file_bytes_max: 512 << 20,
            // MiniLM's files, 87.1 MiB: 88,000, a few dozen jobs' fees.
            model_deposit_per_mib: Amount::new(1_000),
            // A third of the challenge bond: a squatter's registration costs as much as a false
            // challenge's bond did before bonds covered the defender's worst case (300,000).
            model_deposit_min: Amount::new(100_000),
            // About 5.5 hours at one block per second: 1,859 MiniLM chunks fit many times over.
            model_upload_blocks: 20_000,
        }
    }
}

/// Shared security's parameters.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServicesParams {
    /// Smallest stake an operator may allocate to a model's service.
    pub service_allocation_min: Amount,
}

impl Default for ServicesParams {
    fn default() -> Self {
        ServicesParams {
            service_allocation_min: Amount::new(2_500_000),
        }
    }
}

/// The disputes module's parameters (docs/market.md, "Disputes" and "Loser pays").
///
/// The loser of a dispute pays the winner's costs: the fee of each reveal and input chunk a
/// party sends is recorded in the dispute, counted at most `tx_cost_fee_multiple_max ·
/// min_tx_fee` per transaction, and at most [`Params::dispute_cost_max`] per party (the
/// defender's worst case: [`BISECTION_MOVES_MAX`] reveals and every chunk of the largest
/// input). [`Params::validate`] requires `challenge_bond` to cover that worst case, so a false
/// challenger's bond always pays the honest defendant back.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DisputesParams {
    /// Bond a challenger who is not an assigned auditor puts up. If it loses, the defendant's
    /// recorded costs are paid from it and the rest goes to the insurance pool.
    pub challenge_bond: Amount,
    /// Blocks each party has for each move of a dispute; a silent party loses.
    pub dispute_move_blocks: u64,
    /// Largest activation a party may hand the referee, in bytes.
    pub dispute_input_bytes_max: u64,
    /// Blocks anyone has to upload the referee's input once the step is isolated; without it
    /// the defendant loses. At least [`DEADLINE_BLOCKS_FLOOR`] plus one block per chunk of the
    /// largest input (`validate`): a block that does not stretch the deadline was not full,
    /// so it had room for one more transaction of `TX_BYTES_MAX`, which one chunk fits in.
    pub dispute_input_blocks: u64,
    /// Most disputes over one job (of any kind) before a bonded challenge is refused. Staked
    /// disagreements (replicas, the audit) always open: there is at most one of each per job.
    /// So a job sees at most `disputes_per_job_max + 1` disputes, which bounds how long its
    /// finality can be delayed (docs/market.md, "How long a job can be held").
    pub disputes_per_job_max: u32,
    /// A party's transaction counts in its dispute costs for at most this many times
    /// `bank.min_tx_fee`, or the fee it paid if lower: a party cannot inflate what the loser
    /// owes by paying huge fees, and can still outbid a crowd by this factor at no loss.
    pub tx_cost_fee_multiple_max: u64,
}

impl Default for DisputesParams {
    fn default() -> Self {
        DisputesParams {
            // The defender's worst case at the defaults: (64 reveals + 86 input chunks) ·
            // 2 · 1,000 = 300,000 (`Params::dispute_cost_max`).
            challenge_bond: Amount::new(300_000),
            // 20: an auditor's move is censored by a run of colluding proposers (20%) with
            // probability 0.2 · (1/4)^18 a height, over the 338,497 heights a cheat can hold its
            // moves at (`Params::dispute_span`); at 10 that was 0.93
            // (`Params::honest_audit_rate`).
            dispute_move_blocks: 20,
            // The largest activation a served model hands the referee is MiniLM's before its
            // `output.dense` step at its 512 positions: `intermediate` [512, 1536] and
            // `hidden` [512, 384] in f32, 3,932,160 bytes plus a header of tens of bytes,
            // under 4 MiB. The MNIST MLP [784, 256, 10] and CNN (16 × 28 × 28 after its first
            // convolution: 50,176 bytes) are far smaller at the 16 KiB job input limit;
            // SmolLM2 (Llama) is refused at submission, so it never reaches the court.
            // 4 MiB is 86 chunks of 48 KiB.
            dispute_input_bytes_max: 4 << 20,
            // 3 + 86 = 89 needed (`validate`).
            dispute_input_blocks: 100,
            disputes_per_job_max: 3,
            tx_cost_fee_multiple_max: 2,
        }
    }
}

/// Most bisection moves any dispute takes: a trace has fewer than 2^64 leaves, so halving its
/// interval isolates a step in at most 64 moves (`⌈log2 steps⌉`; MiniLM's 76 steps take 7).
pub const BISECTION_MOVES_MAX: u64 = 64;

/// Largest chunk of the referee's input one transaction carries.
pub const INPUT_CHUNK_BYTES_MAX: usize = 48 * 1024;

/// The inference market's parameters (DESIGN §5): jobs, replicas, deadlines and audits.
///
/// The audit rule (docs/market.md): a cheating operator saves at most a job's fee worth of
/// compute, and is caught by an honest audit with probability at least
/// [`Params::honest_audit_rate`] (about `audit_rate · (1 − collusion_fraction)`), losing at least `wrong_result ·
/// service_allocation_min` plus the fee. [`Params::validate`] requires that expected loss to
/// exceed `job_fee_max`, so cheating never pays.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsParams {
    /// Smallest fee of one job (all replicas together).
    pub job_fee_min: Amount,
    /// Largest fee of one job (all replicas together).
    pub job_fee_max: Amount,
    /// Largest job input (text bytes, or encoded activation bytes).
    pub job_input_bytes_max: u64,
    /// Largest result output (encoded activation bytes).
    pub job_output_bytes_max: u64,
    /// Most operators one job may ask for.
    pub replicas_max: u32,
    /// Fewest blocks a job may give its operators to commit.
    pub deadline_blocks_min: u64,
    /// Most blocks a job may give its operators to commit.
    pub deadline_blocks_max: u64,
    /// Times a job is reassigned after missed deadlines before it fails and is refunded.
    pub reassignments_max: u32,
    /// Blocks after the last result during which anyone may challenge it.
    pub challenge_window_blocks: u64,
    /// Expected audits of a job: each operator of the audit pool is selected by its own VRF
    /// over the sealed job with probability `audit_rate · weight / pool` (docs/market.md,
    /// "Audits: private sortition").
    pub audit_rate: Ratio,
    /// Blocks after a job's last seal in which audits may be claimed. An honest claim is kept
    /// out only if every proposer of the window colludes (a steered run of the proposer share,
    /// counted in [`Params::honest_audit_rate`]); every job waits this long before its
    /// reveals. Shorter than an epoch (the pool a window is weighed against is kept two).
    #[serde(default = "default_audit_claim_blocks")]
    pub audit_claim_blocks: u64,
    /// Blocks from a job's last seal to the block whose seed enters what auditors' VRFs run on
    /// (the claim window opens then). An assignee could grind its seal until its partners
    /// were selected (and paid from the audit fund for copying it) if it knew that seed when
    /// it sealed; it does only when every proposer up to it colludes (docs/market.md).
    #[serde(default = "default_audit_seed_delay")]
    pub audit_seed_delay: u64,
    /// Blocks every sealed party has to reveal once the seal phase is over (stretched while
    /// blocks are full).
    pub reveal_blocks: u64,
    /// The collusion assumption (docs/market.md, "Collusion"): the largest fraction of a job's
    /// audit pool (and of the proposer slots) that may collude with a cheating operator
    /// without declaring itself its family. A colluding auditor covers the cheat only for
    /// itself; colluding proposers may censor an honest auditor's claim, seal or reveal when
    /// they hold every block of its window. `validate` counts an audit as catching a cheat
    /// with probability [`Params::honest_audit_rate`].
    pub collusion_fraction: Ratio,
    /// Share of each job's fee that goes to the audit fund.
    pub audit_fund_share: Ratio,
    /// Paid from the audit fund to an auditor whose audit completes.
    pub audit_reward: Amount,
    /// Most fees an operator may have in flight (its share of every job it is assigned to and
    /// that is not yet final or failed), as a fraction of its slashable allocation to the
    /// job's service. Cheating on every job in flight at once then gains less than the slash
    /// a single audit would bring (`validate`: below `audit_rate · wrong_result`).
    pub in_flight_fee_fraction: Ratio,
    /// Most pruning steps one block takes (a final or failed job, or one of its resolved
    /// disputes, deleted from state; or one height of the prune queue passed): the rest waits
    /// for the next block (docs/market.md, "Pruning"). It must exceed the rate at which jobs
    /// close, or the queue only grows.
    pub prune_steps_per_block_max: u32,
}

impl Default for JobsParams {
    fn default() -> Self {
        JobsParams {
            job_fee_min: Amount::new(1_000),
            job_fee_max: Amount::new(10_000),
            job_input_bytes_max: 16 * 1024,
            job_output_bytes_max: 32 * 1024,
            replicas_max: 5,
            // Well above block latency: a commit has ten blocks (ten proposers) to land.
            deadline_blocks_min: 10,
            deadline_blocks_max: 1_000,
            reassignments_max: 3,
            challenge_window_blocks: 20,
            // 8%: verification costs the network 1.08 inferences per job on average, and the
            // audit rule holds with a factor of 1.92 without collusion (see `validate`).
            audit_rate: Ratio::from_percent(8).expect("8% is a ratio"),
            // One block is enough when the network is healthy; 16 so that a run of colluding
            // proposers (20%) censors an auditor's reveal (or its seal, after its run) in a
            // window it can time with probability 0.2 · (1/4)^14 a height
            // (`Params::honest_audit_rate`). A deadline, not a wait.
            reveal_blocks: 16,
            audit_claim_blocks: default_audit_claim_blocks(),
            audit_seed_delay: default_audit_seed_delay(),
            // 20%: an audit still catches a cheat with probability 6.006% (`honest_audit_rate`),
            // and the audit rule holds with a factor of 1.50 (see `validate`).
            collusion_fraction: Ratio::from_percent(20).expect("20% is a ratio"),
            audit_fund_share: Ratio::from_percent(10).expect("10% is a ratio"),
            // An auditor runs one inference, as one replica does, and a replica of a job at
            // `job_fee_min` with one replica is paid 90% of 1,000 = 900: 1,000 pays an auditor
            // at least that. The fund stays solvent (`validate`): 10% of 1,000 = 100 a job in,
            // 8% · 1,000 = 80 a job out on average.
            audit_reward: Amount::new(1_000),
            // 0.5%: below honest_audit_rate · wrong_result = 0.563%, and
            // 12,500 at the smallest allocation, so any allocation can take a job at
            // `job_fee_max`.
            in_flight_fee_fraction: Ratio::from_ppb(5_000_000).expect("0.5% is a ratio"),
            prune_steps_per_block_max: 256,
        }
    }
}

/// Slashing's parameters (DESIGN §3 slashing): base fractions per fault kind, the delay and
/// correlation window, evidence age, jail terms, downtime, and how slashed tokens are split.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlashingParams {
    /// Base fraction for signing two conflicting consensus votes or job results (DESIGN §3);
    /// the correlated rule can raise it.
    pub equivocation: Ratio,
    /// Base fraction for a result a dispute proved wrong (correlated).
    pub wrong_result: Ratio,
    /// Fraction for a missed job or audit deadline (liveness: never correlated).
    pub missed_deadline: Ratio,
    /// Fraction for a validator that signed too few blocks (liveness: never correlated).
    pub downtime: Ratio,
    /// Epochs from the offence to the slash being applied. Stake is frozen meanwhile.
    pub slash_delay_epochs: u64,
    /// Offences in the same window are correlated, and count once per operator (the largest).
    pub window_epochs: u64,
    /// Evidence older than this is refused.
    pub evidence_max_age_epochs: u64,
    /// Epochs a jailed operator must wait before it may unjail.
    pub jail_epochs: u64,
    /// Downtime: a validator that signs fewer than `downtime_min_signed` of the last
    /// `downtime_window_blocks` blocks is at fault.
    pub downtime_window_blocks: u64,
    /// The share of the downtime window a validator must sign.
    pub downtime_min_signed: Ratio,
    /// Share of slashed tokens paid to whoever reported the offence. How slashed tokens are
    /// split; what remains is burned.
    pub whistleblower_share: Ratio,
    /// Share of slashed tokens paid to the harmed party (a job's client).
    pub harmed_party_share: Ratio,
    /// Share of slashed tokens paid into the insurance pool.
    pub insurance_share: Ratio,
}

impl Default for SlashingParams {
    fn default() -> Self {
        let percent = |p| Ratio::from_percent(p).expect("percent <= 100");
        SlashingParams {
            equivocation: percent(5),
            wrong_result: percent(10),
            missed_deadline: percent(1),
            downtime: Ratio::from_ppb(1_000_000).expect("0.1%"),
            slash_delay_epochs: 14,
            window_epochs: 7,
            evidence_max_age_epochs: 7,
            jail_epochs: 2,
            downtime_window_blocks: 1_000,
            downtime_min_signed: percent(50),
            whistleblower_share: percent(10),
            harmed_party_share: percent(20),
            insurance_share: percent(20),
        }
    }
}

/// A parameter rule that [`Params::validate`] found broken; the message says which and why it
/// matters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// A parameter (named) that is 0 and must be at least 1 (a length, a count or a divisor).
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    /// Stake could finish unbonding before a slash for an offence from its time applies.
    #[error(
        "unbonding_epochs ({unbonding}) must exceed evidence_max_age_epochs + slash_delay_epochs \
         ({needed}), or stake could leave before its slash applies"
    )]
    UnbondingTooShort {
        /// `unbonding_epochs`.
        unbonding: u64,
        /// `evidence_max_age_epochs + slash_delay_epochs`, which it must exceed.
        needed: u64,
    },
    /// Slashes would be computed before their correlation window has closed.
    #[error(
        "slash_delay_epochs ({delay}) must be at least window_epochs ({window}), so a window is \
         closed before its correlated slashes are computed"
    )]
    DelayShorterThanWindow {
        /// `slash_delay_epochs`.
        delay: u64,
        /// `window_epochs`.
        window: u64,
    },
    /// An epoch shorter than an audit claim window: a window could outlive its epoch's pool.
    #[error(
        "epoch_blocks ({epoch_blocks}) must be at least twice audit_seed_delay plus twice \
         audit_claim_blocks ({window} blocks), or a stretched claim window could outlive the \
         audit pool it is weighed against"
    )]
    EpochWithinClaimWindow {
        /// `staking.epoch_blocks`.
        epoch_blocks: u64,
        /// `2 · audit_seed_delay + 2 · audit_claim_blocks`.
        window: u64,
    },
    /// Evidence could arrive after its slash's apply epoch has passed.
    #[error(
        "evidence_max_age_epochs ({age}) must be below slash_delay_epochs ({delay}), so late \
         evidence still finds its slash in the future"
    )]
    EvidenceOutlivesDelay {
        /// `evidence_max_age_epochs`.
        age: u64,
        /// `slash_delay_epochs`.
        delay: u64,
    },
    /// The shares of slashed tokens paid out add up to more than all of them.
    #[error("whistleblower, harmed-party and insurance shares add up to more than 1")]
    SplitAboveOne,
    /// A cheating operator's expected loss is not above the largest fee it could pocket, so
    /// cheating on a job pays (docs/market.md).
    #[error(
        "honest_audit_rate · wrong_result · service_allocation_min ({expected_loss}) must \
         exceed job_fee_max ({fee_max}), or cheating on a job pays (docs/market.md; \
         honest_audit_rate = x − x²/2 − Σ span · R(window − 1) over the claim, seal, \
         reveal and dispute-move windows, R(n) = f · (f / (1 − f))^(n − 1), f = \
         collusion_fraction, x = audit_rate · \
         (1 − collusion_fraction))"
    )]
    CheatingPays {
        /// `audit_rate · wrong_result · service_allocation_min`: the slash a cheat expects.
        expected_loss: Amount,
        /// `job_fee_max`.
        fee_max: Amount,
    },
    /// Fees in flight per operator may reach the slash one audit brings: cheating on every
    /// job in flight at once would pay.
    #[error(
        "in_flight_fee_fraction ({fraction}) must be below honest_audit_rate · wrong_result \
         ({bound}), or cheating on every job in flight at once pays (docs/market.md)"
    )]
    InFlightAboveAuditRule {
        /// `in_flight_fee_fraction`.
        fraction: Ratio,
        /// `audit_rate · wrong_result`.
        bound: Ratio,
    },
    /// The fees in flight allowed at the smallest allocation are below the largest fee, so an
    /// operator with the smallest allocation could never take such a job.
    #[error(
        "in_flight_fee_fraction · service_allocation_min ({capacity}) must be at least \
         job_fee_max ({fee_max}), or the smallest allocation can never take the largest job"
    )]
    InFlightBelowOneJob {
        /// `in_flight_fee_fraction · service_allocation_min`.
        capacity: Amount,
        /// `job_fee_max`.
        fee_max: Amount,
    },
    /// A deadline or move time below [`DEADLINE_BLOCKS_FLOOR`]: a party one or two blocks
    /// late through no fault of its own (a full block, a censoring proposer) would be
    /// punished.
    #[error("{0} must be at least {DEADLINE_BLOCKS_FLOOR} blocks")]
    DeadlineBelowFloor(&'static str),
    /// The smallest allowed job deadline is above the largest.
    #[error("deadline_blocks_min must be at most deadline_blocks_max")]
    DeadlineBounds,
    /// The smallest allowed job fee is above the largest.
    #[error("job_fee_min must be at most job_fee_max")]
    FeeBounds,
    /// The downtime window is longer than the limit given (`DOWNTIME_WINDOW_BLOCKS_MAX`), which
    /// bounds each validator's stored liveness bitmap.
    #[error("downtime_window_blocks must be at most {0}")]
    DowntimeWindowTooLong(u64),
    /// The challenge bond does not cover an honest defendant's worst-case dispute costs, so a
    /// false challenger could leave it out of pocket (docs/market.md, "Loser pays").
    #[error(
        "challenge_bond ({bond}) must be at least the defender's worst-case costs ({worst_case}: \
         (64 reveals + the largest input's chunks) · tx_cost_fee_multiple_max · min_tx_fee)"
    )]
    BondBelowWorstCase {
        /// `challenge_bond`.
        bond: Amount,
        /// [`Params::dispute_cost_max`].
        worst_case: Amount,
    },
    /// The audit fund takes in less from a job at the smallest fee than audits pay out per job
    /// on average: it would run dry and auditors go unpaid.
    #[error(
        "audit_fund_share · job_fee_min ({income}) must be at least audit_rate · audit_reward \
         plus what grinding partners can draw ({expected_reward}), or the audit fund runs dry"
    )]
    AuditFundInsolvent {
        /// `audit_fund_share · job_fee_min`: the fund's income from the cheapest job.
        income: Amount,
        /// `audit_rate · audit_reward` plus [`Params::audit_fund_drain`]: what audits cost the
        /// fund per job on average, at most.
        expected_reward: Amount,
    },
    /// The referee's input phase is too short to carry the largest input, one chunk per block.
    #[error(
        "dispute_input_blocks ({blocks}) must be at least {needed}: the deadline floor plus one \
         block per chunk of dispute_input_bytes_max"
    )]
    InputDeadlineTooShort {
        /// `dispute_input_blocks`.
        blocks: u64,
        /// `DEADLINE_BLOCKS_FLOOR + ⌈dispute_input_bytes_max / INPUT_CHUNK_BYTES_MAX⌉`.
        needed: u64,
    },
}

fn default_audit_claim_blocks() -> u64 {
    12
}

fn default_audit_seed_delay() -> u64 {
    12
}

/// Fewest blocks any deadline may give (`deadline_blocks_min`, `reveal_blocks`,
/// `dispute_move_blocks`): a party must be able to miss a block or two (its result computed
/// after the first, a proposer that left it out) and still be on time. The defaults are
/// several times this; deadlines also stretch while blocks are full (docs/market.md).
pub const DEADLINE_BLOCKS_FLOOR: u64 = 3;

/// Blocks an honest party's transaction can miss after the block that calls for it: it sends
/// once it has seen that block, and lands at best in the block after next (the next one was
/// being built). [`Params::honest_audit_rate`] counts a window of `L` blocks as `L −
/// LATENCY_BLOCKS` chances to land.
pub const LATENCY_BLOCKS: u64 = 1;

/// Longest downtime window: the liveness bitmap is stored per validator.
pub const DOWNTIME_WINDOW_BLOCKS_MAX: u64 = 100_000;

/// State keys of each module's parameters, in the order [`Params::load`] reads them.
pub const PARAMS_KEYS: [&str; 8] = [
    "bank/params",
    "staking/params",
    "rewards/params",
    "slashing/params",
    "models/params",
    "services/params",
    "jobs/params",
    "disputes/params",
];

/// The stored parameters are missing or do not decode: the state is not a ledger's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the state has no readable parameters under {key}")]
pub struct ParamsMissing {
    /// The key that was missing or unreadable.
    pub key: &'static str,
}

impl Params {
    /// The epoch a height belongs to (staking's epoch length).
    pub fn epoch_of(&self, height: Height) -> Epoch {
        self.staking.epoch_of(height)
    }

    /// Write every module's parameters under its own key.
    pub fn store(&self, store: &mut Store) {
        let [bank, staking, rewards, slashing, models, services, jobs, disputes] = PARAMS_KEYS;
        store.put(bank.as_bytes().to_vec(), &self.bank);
        store.put(staking.as_bytes().to_vec(), &self.staking);
        store.put(rewards.as_bytes().to_vec(), &self.rewards);
        store.put(slashing.as_bytes().to_vec(), &self.slashing);
        store.put(models.as_bytes().to_vec(), &self.models);
        store.put(services.as_bytes().to_vec(), &self.services);
        store.put(jobs.as_bytes().to_vec(), &self.jobs);
        store.put(disputes.as_bytes().to_vec(), &self.disputes);
    }

    /// Read every module's parameters from the state.
    pub fn load(store: &Store) -> Result<Params, ParamsMissing> {
        fn read<T: BorshDeserialize>(store: &Store, key: &'static str) -> Result<T, ParamsMissing> {
            store.try_get(key.as_bytes()).ok_or(ParamsMissing { key })
        }
        let [bank, staking, rewards, slashing, models, services, jobs, disputes] = PARAMS_KEYS;
        Ok(Params {
            bank: read(store, bank)?,
            staking: read(store, staking)?,
            rewards: read(store, rewards)?,
            slashing: read(store, slashing)?,
            models: read(store, models)?,
            services: read(store, services)?,
            jobs: read(store, jobs)?,
            disputes: read(store, disputes)?,
        })
    }

    /// Check every rule: each module's parameters alone, then the rules that tie modules
    /// together.
    pub fn validate(&self) -> Result<(), ParamsError> {
        self.check_nonzero()?;
        self.slashing.validate()?;
        self.jobs.validate()?;
        self.check_slash_horizon()?;
        self.check_deadline_floor()?;
        self.check_audit_rule()?;
        self.check_claim_window()?;
        self.check_in_flight_cap()?;
        self.check_dispute_limits()?;
        self.check_bond_covers_worst_case()?;
        self.check_input_deadline()?;
        self.check_audit_fund_solvent()
    }

    /// Most a transaction counts in a party's dispute costs: `tx_cost_fee_multiple_max ·
    /// min_tx_fee` (saturating: a bound, not a payment).
    pub fn dispute_tx_cost_max(&self) -> Amount {
        let multiple = u128::from(self.disputes.tx_cost_fee_multiple_max);
        self.bank
            .min_tx_fee
            .checked_mul(multiple)
            .unwrap_or(Amount::MAX)
    }

    /// Chunks of the largest referee input: `⌈dispute_input_bytes_max /
    /// INPUT_CHUNK_BYTES_MAX⌉`.
    pub fn dispute_input_chunks_max(&self) -> u64 {
        self.disputes
            .dispute_input_bytes_max
            .div_ceil(INPUT_CHUNK_BYTES_MAX as u64)
    }

    /// The defender's worst-case dispute costs, and the most counted for either party:
    /// ([`BISECTION_MOVES_MAX`] reveals + [`Params::dispute_input_chunks_max`] chunks) ·
    /// [`Params::dispute_tx_cost_max`] (saturating).
    pub fn dispute_cost_max(&self) -> Amount {
        let transactions = BISECTION_MOVES_MAX.saturating_add(self.dispute_input_chunks_max());
        self.dispute_tx_cost_max()
            .checked_mul(u128::from(transactions))
            .unwrap_or(Amount::MAX)
    }

    /// The court's own counts and multiples are at least 1.
    fn check_dispute_limits(&self) -> Result<(), ParamsError> {
        let d = &self.disputes;
        for (name, value) in [
            ("disputes_per_job_max", u64::from(d.disputes_per_job_max)),
            ("tx_cost_fee_multiple_max", d.tx_cost_fee_multiple_max),
            ("dispute_input_bytes_max", d.dispute_input_bytes_max),
        ] {
            if value == 0 {
                return Err(ParamsError::Zero(name));
            }
        }
        Ok(())
    }

    /// `challenge_bond ≥ dispute_cost_max`: a false challenger's bond pays back everything an
    /// honest defendant can have spent on the dispute (docs/market.md, "Loser pays").
    fn check_bond_covers_worst_case(&self) -> Result<(), ParamsError> {
        let worst_case = self.dispute_cost_max();
        if self.disputes.challenge_bond < worst_case {
            return Err(ParamsError::BondBelowWorstCase {
                bond: self.disputes.challenge_bond,
                worst_case,
            });
        }
        Ok(())
    }

    /// `dispute_input_blocks ≥ DEADLINE_BLOCKS_FLOOR + dispute_input_chunks_max`: a block that
    /// does not stretch the deadline had room for one more `TX_BYTES_MAX` transaction, which
    /// carries a chunk, so the largest input fits even in blocks just short of full.
    fn check_input_deadline(&self) -> Result<(), ParamsError> {
        let needed = DEADLINE_BLOCKS_FLOOR.saturating_add(self.dispute_input_chunks_max());
        let blocks = self.disputes.dispute_input_blocks;
        if blocks < needed {
            return Err(ParamsError::InputDeadlineTooShort { blocks, needed });
        }
        Ok(())
    }

    /// `audit_fund_share · job_fee_min ≥ audit_rate · audit_reward + drain`: even a market of
    /// jobs at the smallest fee pays the audits it draws, on average, and what grinding
    /// partners can draw from it ([`Params::audit_fund_drain`]).
    fn check_audit_fund_solvent(&self) -> Result<(), ParamsError> {
        let j = &self.jobs;
        let income = j.audit_fund_share.mul_floor(j.job_fee_min);
        let expected_reward = j
            .audit_rate
            .mul_ceil(j.audit_reward)
            .saturating_add(self.audit_fund_drain());
        if income < expected_reward {
            return Err(ParamsError::AuditFundInsolvent {
                income,
                expected_reward,
            });
        }
        Ok(())
    }

    fn check_nonzero(&self) -> Result<(), ParamsError> {
        let (s, j) = (&self.slashing, &self.jobs);
        for (name, value) in [
            ("epoch_blocks", self.staking.epoch_blocks),
            ("max_validators", u64::from(self.staking.max_validators)),
            ("blocks_per_year", self.rewards.blocks_per_year),
            ("window_epochs", s.window_epochs),
            ("downtime_window_blocks", s.downtime_window_blocks),
            ("replicas_max", u64::from(j.replicas_max)),
            ("deadline_blocks_min", j.deadline_blocks_min),
            ("challenge_window_blocks", j.challenge_window_blocks),
            ("reveal_blocks", j.reveal_blocks),
            ("audit_claim_blocks", j.audit_claim_blocks),
            ("audit_seed_delay", j.audit_seed_delay),
            (
                "prune_steps_per_block_max",
                u64::from(j.prune_steps_per_block_max),
            ),
            ("dispute_move_blocks", self.disputes.dispute_move_blocks),
            ("model_upload_blocks", self.models.model_upload_blocks),
        ] {
            if value == 0 {
                return Err(ParamsError::Zero(name));
            }
        }
        Ok(())
    }

    /// Stake must stay slashable until every delayed slash for its time has applied.
    fn check_slash_horizon(&self) -> Result<(), ParamsError> {
        let s = &self.slashing;
        let needed = s
            .evidence_max_age_epochs
            .saturating_add(s.slash_delay_epochs);
        if self.staking.unbonding_epochs <= needed {
            return Err(ParamsError::UnbondingTooShort {
                unbonding: self.staking.unbonding_epochs,
                needed,
            });
        }
        Ok(())
    }

    /// Every deadline a party can be slashed or lose a dispute by is at least the floor.
    fn check_deadline_floor(&self) -> Result<(), ParamsError> {
        for (name, blocks) in [
            ("deadline_blocks_min", self.jobs.deadline_blocks_min),
            ("reveal_blocks", self.jobs.reveal_blocks),
            ("dispute_move_blocks", self.disputes.dispute_move_blocks),
        ] {
            if blocks < DEADLINE_BLOCKS_FLOOR {
                return Err(ParamsError::DeadlineBelowFloor(name));
            }
        }
        Ok(())
    }

    /// `in_flight_fee_fraction < audit_rate · wrong_result`, and the smallest allocation can
    /// take the largest job (docs/market.md, "Fees in flight").
    fn check_in_flight_cap(&self) -> Result<(), ParamsError> {
        let fraction = self.jobs.in_flight_fee_fraction;
        // Exact in u128: both factors are at most 10^9, the product at most 10^18.
        let product = u128::from(self.honest_audit_rate().ppb())
            .saturating_mul(u128::from(self.slashing.wrong_result.ppb()));
        let scaled = u128::from(fraction.ppb()).saturating_mul(u128::from(Ratio::DENOMINATOR));
        if scaled >= product {
            let bound =
                Ratio::from_fraction(product, 1_000_000_000_000_000_000).unwrap_or(Ratio::ONE);
            return Err(ParamsError::InFlightAboveAuditRule { fraction, bound });
        }
        let capacity = fraction.mul_floor(self.services.service_allocation_min);
        if capacity < self.jobs.job_fee_max {
            return Err(ParamsError::InFlightBelowOneJob {
                capacity,
                fee_max: self.jobs.job_fee_max,
            });
        }
        Ok(())
    }

    /// An epoch is longer than an audit claim window stretched to its most (twice its seed
    /// delay and twice its length): each epoch's audit pool is kept until the end of the next,
    /// so every window opened in it closes while its pool is there.
    fn check_claim_window(&self) -> Result<(), ParamsError> {
        let longest = self.jobs.claim_window_span_max();
        // A window opened in an epoch's last block closes `longest` blocks later, in the next
        // epoch's last block at the latest, whose claims still see the pool (it is dropped
        // after them, in that block's end hook).
        if self.staking.epoch_blocks < longest {
            return Err(ParamsError::EpochWithinClaimWindow {
                epoch_blocks: self.staking.epoch_blocks,
                window: longest,
            });
        }
        Ok(())
    }

    /// `audit_rate · wrong_result · service_allocation_min > job_fee_max` (docs/market.md).
    fn check_audit_rule(&self) -> Result<(), ParamsError> {
        let expected_loss = self.honest_audit_rate().mul_floor(
            self.slashing
                .wrong_result
                .mul_floor(self.services.service_allocation_min),
        );
        if expected_loss <= self.jobs.job_fee_max {
            return Err(ParamsError::CheatingPays {
                expected_loss,
                fee_max: self.jobs.job_fee_max,
            });
        }
        Ok(())
    }
}

impl SlashingParams {
    /// Slashing's own rules: windows close before their slashes are computed, late evidence
    /// still finds its slash ahead, the split of slashed tokens is at most one.
    pub fn validate(&self) -> Result<(), ParamsError> {
        if self.slash_delay_epochs < self.window_epochs {
            return Err(ParamsError::DelayShorterThanWindow {
                delay: self.slash_delay_epochs,
                window: self.window_epochs,
            });
        }
        if self.evidence_max_age_epochs >= self.slash_delay_epochs {
            return Err(ParamsError::EvidenceOutlivesDelay {
                age: self.evidence_max_age_epochs,
                delay: self.slash_delay_epochs,
            });
        }
        // Three u64 values cannot overflow a u128: the sum is exact.
        let split = u128::from(self.whistleblower_share.ppb())
            .saturating_add(u128::from(self.harmed_party_share.ppb()))
            .saturating_add(u128::from(self.insurance_share.ppb()));
        if split > u128::from(Ratio::DENOMINATOR) {
            return Err(ParamsError::SplitAboveOne);
        }
        if self.downtime_window_blocks > DOWNTIME_WINDOW_BLOCKS_MAX {
            return Err(ParamsError::DowntimeWindowTooLong(
                DOWNTIME_WINDOW_BLOCKS_MAX,
            ));
        }
        Ok(())
    }
}

impl Params {
    /// The probability that an audit catches a cheat under the collusion assumption
    /// (docs/market.md, "Collusion" and "Audits: private sortition"), rounded down:
    ///
    /// ```text
    /// x − x²/2 − claims_span · R(k − 1) − audit_span · (R(g − 1) + R(r − 1))
    ///          − dispute_span · R(m − 1)
    /// ```
    ///
    /// with `x = audit_rate · (1 − f)`, `f` = `collusion_fraction`, `R(n) = f · (f / (1 −
    /// f))^(n − 1)` the chance of `n` counted heights in a row built by colluding proposers
    /// (`run_power`), and the windows an honest auditor's transactions must land in: `k` = `audit_claim_blocks` (its
    /// claim), `g` = [`Params::audit_seal_grace`] (its seal, after its run), `r` =
    /// `reveal_blocks` (its reveal), `m` = `dispute_move_blocks` (each of its dispute moves).
    /// The spans are [`JobsParams::claims_span`], [`Params::audit_span`] and
    /// [`Params::dispute_span`].
    ///
    /// Every operator of the pool is selected on its own, with probability `audit_rate ·
    /// weight / pool`, by a VRF nobody else can compute over the sealed job; the honest ones
    /// hold at least `1 − f` of the pool, so none of them is selected with probability at most
    /// `e^(−x)`, and `1 − e^(−x) ≥ x − x²/2`. A selected honest auditor is kept out only if one
    /// of its windows is censored: each gives it `L − LATENCY_BLOCKS` blocks (it sends once it
    /// has seen the block that calls for the transaction, which lands at best in the block
    /// after next), all of whose proposers must collude (`R(L − 1)`: proposers come from the
    /// last block's seed, which colluding proposers can steer by withholding, but nobody can
    /// read the schedule ahead, so the cheat's choice to cheat does not depend on it). A window
    /// counts only blocks with room built by their height's round-0 proposer: a full block, or
    /// one a later round's proposer built because the round-0 one was offline, knocked out or
    /// withheld, stretches it by one (a deadline) or restarts its final run (a claim window:
    /// [`crate::congestion::restarted`], so a knocked-out honest height never joins two runs of
    /// colluders into one), so honest proposers' failures, whoever times them, hand no counted
    /// height to a colluder until the cap is spent. The cheat can time when each window starts (its seal, its reveal, its own moves,
    /// the stretch of slack blocks) among at most the window's span of heights: by the union bound over the
    /// heights a window of each kind can start at, `span · R(L − 1)` for each kind.
    pub fn honest_audit_rate(&self) -> Ratio {
        let j = &self.jobs;
        let one = u128::from(Ratio::DENOMINATOR);
        let f = u128::from(j.collusion_fraction.ppb());
        // x in ppb, rounded down: a ≤ 1e9 and 1 − f ≤ 1e9, the product within u128.
        let x = u128::from(j.audit_rate.ppb())
            .saturating_mul(one.saturating_sub(f))
            .checked_div(one)
            .unwrap_or(0);
        // x²/2 in ppb, rounded up (it is subtracted).
        let square = x.saturating_mul(x).div_ceil(one.saturating_mul(2));
        // R(L − latency) in ppb, rounded up: every proposer of a window's usable blocks
        // colludes (a window with none usable is always lost: 1).
        let censored = |blocks: u64| run_power(f, blocks.saturating_sub(LATENCY_BLOCKS));
        let windows = [
            (j.claims_span(), censored(j.audit_claim_blocks)),
            (self.audit_span(), censored(self.audit_seal_grace())),
            (self.audit_span(), censored(j.reveal_blocks)),
            (
                self.dispute_span(),
                censored(self.disputes.dispute_move_blocks),
            ),
        ];
        let lost = windows.iter().fold(0u128, |sum, (span, power)| {
            sum.saturating_add(u128::from(*span).saturating_mul(*power))
        });
        let rate = x.saturating_sub(square).saturating_sub(lost);
        Ratio::from_fraction(rate, one).unwrap_or(Ratio::ZERO)
    }

    /// What grinding can take from the audit fund per job, at most (rounded up): an assignee
    /// that knows the seed its auditors' VRFs run on when it seals can grind its salt until its
    /// partners are selected, who then agree with it (copying is what they are paid for) and
    /// are paid `audit_reward` each. It knows the seed only if the proposers of its seal's block
    /// and of the `audit_seed_delay` blocks after it collude (`R(audit_seed_delay + 1)`, see
    /// [`Params::honest_audit_rate`]; a block off its schedule in between restarts the run, so
    /// a later round's colluder never chooses the seed in an honest proposer's place), at one of
    /// the [`JobsParams::opening_span`] heights the opening can fall at, and a job takes at most
    /// [`crate::jobs::AUDITS_PER_JOB_MAX`] audits: `opening_span · R(delay + 1) · 64 ·
    /// audit_reward`.
    ///
    /// And rerolls: a colluder that is the round-0 proposer of the block whose seed opens the
    /// window sees its partners' selections under that seed before it builds, and can withhold
    /// its block for the next height's seed instead (the opening moves on by one, up to
    /// `audit_seed_delay` times). Each height it so holds in a row (`R(k)`) buys one more draw,
    /// and the best of several draws is worth at most their sum: `Σ_{k ≤ delay} R(k) ·
    /// audit_rate · f · audit_reward` (a draw selects about `audit_rate · f` partners; found
    /// by the review of the stretch). Neither moves an honest operator's selection (that needs
    /// its key), so the audit rule does not count them; the fund must (`validate`).
    pub fn audit_fund_drain(&self) -> Amount {
        let j = &self.jobs;
        let one = u128::from(Ratio::DENOMINATOR);
        let p = u128::from(j.collusion_fraction.ppb());
        let power = run_power(p, j.audit_seed_delay.saturating_add(1));
        let audits = crate::jobs::AUDITS_PER_JOB_MAX as u128;
        let grinding = u128::from(j.opening_span())
            .saturating_mul(power)
            .saturating_mul(audits);
        // Extra draws, in ppb, each rounded up: partners selected per draw, rounded up.
        let draws = run_sum(p, j.audit_seed_delay);
        let rerolls = draws
            .saturating_mul(u128::from(j.audit_rate.ppb()))
            .div_ceil(one)
            .saturating_mul(p)
            .div_ceil(one);
        let drain = j
            .audit_reward
            .get()
            .saturating_mul(grinding.saturating_add(rerolls))
            .div_ceil(one);
        Amount::new(drain)
    }

    /// The shortest window [`Params::honest_audit_rate`] and [`Params::audit_fund_drain`] count
    /// as lost to a run of colluding proposers: the claim window, the auditor's seal grace, its
    /// reveal, a dispute move, and the seed delay's run (`audit_seed_delay + 1`). Later rounds
    /// stretch these windows up to a cap (the seed delay by itself, the claim window by its
    /// length), so nodes watch for bursts of later rounds half this long (docs/node.md, "Later rounds").
    pub fn shortest_censorable_window(&self) -> u64 {
        [
            self.jobs.audit_claim_blocks,
            self.audit_seal_grace(),
            self.jobs.reveal_blocks,
            self.disputes.dispute_move_blocks,
            self.jobs.audit_seed_delay.saturating_add(1),
        ]
        .into_iter()
        .min()
        .unwrap_or(0)
    }

    /// Blocks a claimed auditor has to seal once its run is done: it seals by its claim's
    /// height plus the job's `deadline_blocks` (the run: an assignee has as long) plus this,
    /// `reveal_blocks` (what any party has to send a transaction it has ready), so the seal
    /// window [`Params::honest_audit_rate`] counts is never eaten by the run.
    pub fn audit_seal_grace(&self) -> u64 {
        self.jobs.reveal_blocks
    }

    /// The most heights an auditor's seal or reveal window can start at, for a cheat that
    /// times it: its seal among [`JobsParams::seal_span`] heights; then the seed delay
    /// (stretched by at most itself) and the claim window (stretched by at most
    /// `audit_claim_blocks`), the job's deadline and the
    /// auditor's grace (stretched by at most `deadline_blocks_max`), and the assignees' reveal
    /// phase (`reveal_blocks`, stretched by at most `deadline_blocks_max`), each of which it or
    /// a partner can end anywhere in, and the block that compares the results (saturating).
    pub fn audit_span(&self) -> u64 {
        let j = &self.jobs;
        j.seal_span()
            .saturating_add(j.audit_seed_delay.saturating_mul(2))
            .saturating_add(j.audit_claim_blocks.saturating_mul(2))
            .saturating_add(j.deadline_blocks_max.saturating_mul(2))
            .saturating_add(self.audit_seal_grace())
            .saturating_add(j.reveal_blocks.saturating_add(j.deadline_blocks_max))
            .saturating_add(1)
    }

    /// The most heights one of an auditor's dispute moves can start at: [`Params::audit_span`],
    /// its own reveal window (stretched by at most `deadline_blocks_max`), then every dispute
    /// the job can hold before and during its own (`disputes_per_job_max` challenges and
    /// [`crate::jobs::AUDITS_PER_JOB_MAX`] audits, and as many suspects again with
    /// `replicas_max`), each of at most [`BISECTION_MOVES_MAX`] moves the cheat can each end
    /// anywhere in, the input phase, a challenge window, and its own stretch of at most
    /// `deadline_blocks_max` (saturating).
    pub fn dispute_span(&self) -> u64 {
        let (j, d) = (&self.jobs, &self.disputes);
        let audits = crate::jobs::AUDITS_PER_JOB_MAX as u64;
        let disputes = u64::from(d.disputes_per_job_max)
            .saturating_add(audits)
            .saturating_add(u64::from(j.replicas_max))
            .saturating_add(audits);
        let each = BISECTION_MOVES_MAX
            .saturating_mul(d.dispute_move_blocks)
            .saturating_add(d.dispute_input_blocks)
            .saturating_add(j.challenge_window_blocks)
            .saturating_add(j.deadline_blocks_max);
        self.audit_span()
            .saturating_add(j.reveal_blocks.saturating_add(j.deadline_blocks_max))
            .saturating_add(disputes.saturating_mul(each))
    }
}

/// The chance that `n` heights in a row are all decided by colluding proposers, in parts per
/// billion for a collusion share `f` in parts per billion, over-estimated (each product rounded
/// up): `f · (f / (1 − f))^(n − 1)`, not `f^n`. Proposers are drawn from the last block's seed
/// (docs/consensus.md, *A schedule nobody can read ahead*), and a colluding proposer can
/// withhold its block so that a colluding proposer of a later round decides the height with
/// its own seed: a coalition that holds a height picks among its candidate seeds the one that
/// gives the next height a colluding proposer, which takes its chance for the next height from
/// `f` to at most `1 − (1 − f)² / (1 − f(1 − f)) ≤ f / (1 − f)` (found by the review of the
/// seeded schedule). Once the power is 1 ppb rounding up keeps it there (or 0 at `f` = 0), so
/// the loop stops: no `n` a genesis file gives runs it long. At `f ≥ 1/2` it is 1.
fn run_power(f: u128, n: u64) -> u128 {
    let one = u128::from(Ratio::DENOMINATOR);
    if n == 0 {
        return one;
    }
    let Some(rest) = one.checked_sub(f).filter(|rest| *rest > f) else {
        return one;
    };
    let ratio = f.saturating_mul(one).div_ceil(rest);
    let mut power = f;
    for _ in 1..n {
        if power <= 1 {
            break;
        }
        power = power.saturating_mul(ratio).div_ceil(one);
    }
    power.min(one)
}

/// `Σ_{k = 1..=n} R(k)` in parts per billion ([`run_power`], each term rounded up): the
/// expected number of heights in a row, of at most `n`, that colluding proposers hold. Once a
/// term is 1 ppb (or 1 for `f ≥ 1/2`) every later one is the same and the rest is multiplied
/// out: a few dozen steps at the shares `validate` admits. Between 1/3 and 1/2 rounding keeps
/// the terms above 1 ppb, and it takes `n` steps.
fn run_sum(f: u128, n: u64) -> u128 {
    let mut sum = 0u128;
    for k in 1..=n {
        let power = run_power(f, k);
        if power <= 1 || power >= u128::from(Ratio::DENOMINATOR) {
            // Every term from here on equals this one.
            let rest = u128::from(n.saturating_sub(k).saturating_add(1));
            return sum.saturating_add(power.saturating_mul(rest));
        }
        sum = sum.saturating_add(power);
    }
    sum
}

impl JobsParams {
    /// The most blocks from a job's last seal to its claim window's end: the window opens
    /// `audit_seed_delay` after the seal; blocks off their schedule move its opening by
    /// `audit_seed_delay` at most, and slack blocks its end by `audit_claim_blocks` at most
    /// (saturating). An epoch must be at least this long (`validate`).
    pub fn claim_window_span_max(&self) -> u64 {
        self.audit_claim_blocks
            .saturating_add(self.audit_seed_delay)
            .saturating_mul(2)
    }

    /// The most heights a claim window's opening can fall at, for a cheat that times it: its
    /// seal among [`JobsParams::seal_span`] heights, then the opening moved on by up to
    /// `audit_seed_delay` by blocks off their schedule it or a partner causes (saturating).
    pub fn opening_span(&self) -> u64 {
        self.seal_span().saturating_add(self.audit_seed_delay)
    }

    /// The most heights the final run of a claim window (the `audit_claim_blocks` blocks in a
    /// row it ends with) can start at: [`JobsParams::opening_span`], and the end moved on by up
    /// to `audit_claim_blocks` (saturating).
    pub fn claims_span(&self) -> u64 {
        self.opening_span().saturating_add(self.audit_claim_blocks)
    }

    /// The most blocks a cheat can choose its job's last seal among, to open the claim window
    /// when the proposers it hopes for come up: `2 · deadline_blocks_max` (a deadline stretched
    /// by full blocks at most doubles) for the first assignment and for each reassignment.
    pub fn seal_span(&self) -> u64 {
        self.deadline_blocks_max
            .saturating_mul(2)
            .saturating_mul(u64::from(self.reassignments_max).saturating_add(1))
    }

    /// The market's own bounds are ordered.
    pub fn validate(&self) -> Result<(), ParamsError> {
        if self.deadline_blocks_min > self.deadline_blocks_max {
            return Err(ParamsError::DeadlineBounds);
        }
        if self.job_fee_min > self.job_fee_max {
            return Err(ParamsError::FeeBounds);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(Params::default().validate(), Ok(()));
    }

    #[test]
    fn the_shortest_censorable_window_is_the_least_of_the_windows_the_bound_counts() {
        let mut params = Params::default();
        // Claims 12, seal grace and reveal 16, moves 20, the seed's run 13.
        assert_eq!(params.shortest_censorable_window(), 12);
        params.jobs.reveal_blocks = 4;
        assert_eq!(params.shortest_censorable_window(), 4);
    }

    #[test]
    fn unbonding_shorter_than_the_slash_horizon_is_refused() {
        let mut params = Params::default();
        params.staking.unbonding_epochs = 10;
        assert!(matches!(
            params.validate(),
            Err(ParamsError::UnbondingTooShort { .. })
        ));
    }

    #[test]
    fn params_under_which_cheating_pays_are_refused() {
        let mut params = Params::default();
        params.jobs.audit_rate = Ratio::from_percent(1).unwrap();
        assert!(matches!(
            params.validate(),
            Err(ParamsError::CheatingPays { .. })
        ));
    }

    #[test]
    fn a_collusion_assumption_under_which_cheating_pays_is_refused() {
        let mut params = Params::default();
        // x = 8% · 0.75 = 0.06, but 8,000 heights · 0.25 · (1/3)^10 (claims: eleven colluding
        // proposers in a row, steered) take 0.0339 off: at 25% such runs are too likely
        // somewhere a cheat's windows can start, and a cheat expects to lose 5,591 a job, less
        // than the 10,000 it may pocket.
        params.jobs.collusion_fraction = Ratio::from_percent(25).unwrap();
        assert_eq!(params.honest_audit_rate().ppb(), 22_366_780);
        assert_eq!(
            params.validate(),
            Err(ParamsError::CheatingPays {
                expected_loss: Amount::new(5_591),
                fee_max: Amount::new(10_000),
            })
        );
        params.jobs.collusion_fraction = Ratio::from_percent(20).unwrap();
        assert_eq!(
            params.validate(),
            Ok(()),
            "0.060058757 · 10% · 2,500,000 = 15,014"
        );
    }

    #[test]
    fn the_honest_audit_rate_counts_every_window_a_cheat_can_time_less_a_block_of_latency() {
        let mut params = Params::default();
        // 2 · 1,000 blocks for each of 4 assignments.
        assert_eq!(params.jobs.seal_span(), 8_000);
        // + 2 · 12 (seed delay and its stretch) + 2 · 12 (claims and theirs) + 2 · 1,000
        // (deadline and its stretch) + 16 (grace) + 16 + 1,000 (reveals and their stretch) + 1
        // (the compare).
        assert_eq!(params.audit_span(), 11_081);
        // + 16 + 1,000 (its reveal) + (3 + 64 + 5 + 64) disputes · (64 · 20 + 100 + 20 +
        // 1,000).
        assert_eq!(params.dispute_span(), 338_497);
        // x = 8% · 0.8 = 0.064; x − x²/2 = 0.061952; less, at the collusion share of 20%
        // (slack blocks stretch the windows, so offline or knocked-out honest proposers count
        // for nothing), 8,024 · R(11) = 0.2 · (1/4)^10 (191 ppb, rounded up) for claims (their run can start
        // at 8,000 seal heights, moved on by up to 12 and 12),
        // 11,081 · R(15) (1 ppb) each for the auditor's seal grace and its reveal, 338,497 ·
        // R(19) (1 ppb) for its dispute moves.
        assert_eq!(run_power(200_000_000, 11), 191);
        assert_eq!(run_power(200_000_000, 10), 763);
        assert_eq!(run_power(200_000_000, 15), 1);
        assert_eq!(run_power(200_000_000, 19), 1);
        assert_eq!(run_power(250_000_000, 13), 471);
        // Nothing colludes at 0; a coalition of half can hold the proposers as long as it
        // likes; no run at all is certain.
        assert_eq!(run_power(0, 3), 0);
        assert_eq!(run_power(500_000_000, 40), 1_000_000_000);
        assert_eq!(run_power(200_000_000, 0), 1_000_000_000);
        let expected = 61_952_000 - 1_532_584 - 11_081 - 11_081 - 338_497;
        assert_eq!(params.honest_audit_rate().ppb(), expected);
        assert_eq!(expected, 60_058_757);
        // Runs are steered (`f / (1 − f)` a height after the first), not independent: with
        // `f^11` the claims would take 0.00002 off, not 0.0015. A window one block longer than
        // the latency alone is eleven proposers, not twelve: with the latency ignored the
        // rate would be higher.
        params.jobs.audit_claim_blocks = 13;
        assert!(params.honest_audit_rate().ppb() > expected);
        params.jobs.audit_claim_blocks = 12;
        // Ten-block moves (an old default) are censorable over 338,497 heights: the rule
        // fails.
        params.disputes.dispute_move_blocks = 10;
        assert_eq!(params.honest_audit_rate(), Ratio::ZERO);
        params.disputes.dispute_move_blocks = 20;
        // A longer span gives a cheat more windows to wait for: a lower rate.
        params.jobs.deadline_blocks_max = 2_000;
        assert!(params.honest_audit_rate().ppb() < expected);
        // Without collusion only the bound on 1 − e^(−x) is taken off:
        // 8% − 0.32%.
        params.jobs.collusion_fraction = Ratio::ZERO;
        assert_eq!(params.honest_audit_rate().ppb(), 76_800_000);
        // A window with no block past the latency can never take an honest transaction.
        params.jobs.audit_claim_blocks = 1;
        assert_eq!(params.honest_audit_rate(), Ratio::ZERO);
        // A window of any length is computed at once (the power stops at 1 ppb), and with
        // spans that long the rate is 0.
        params.jobs.collusion_fraction = Ratio::from_percent(20).unwrap();
        params.jobs.audit_claim_blocks = 10;
        params.jobs.reveal_blocks = u64::MAX;
        params.disputes.dispute_move_blocks = u64::MAX;
        assert_eq!(params.honest_audit_rate(), Ratio::ZERO);
    }

    #[test]
    fn the_audit_fund_pays_what_grinding_partners_can_draw_from_it() {
        let mut params = Params::default();
        // Grinding: 8,000 heights · R(13) at the collusion share of 20% (12 ppb, rounded up) · 64
        // audits = 0.006144 a job. Rerolls: the opening's proposer withholds for another draw
        // while colluders hold it, Σ R(k) ≈ 0.2 / (1 − 1/4) extra draws of 8% · 20% partners
        // each = 0.004266667. Both · 1,000 = 10.4, rounded up to 11: with 8% · 1,000 = 80 it is
        // 91 of the 100 the cheapest job brings.
        assert_eq!(run_power(200_000_000, 13), 12);
        assert_eq!(run_sum(200_000_000, 12), 266_666_654);
        assert_eq!(params.audit_fund_drain(), Amount::new(11));
        assert_eq!(params.validate(), Ok(()));
        // A delay of 11: runs of 12 colluding proposers drain 29 a job, and the fund would run
        // dry (80 + 29 > 100).
        params.jobs.audit_seed_delay = 11;
        assert_eq!(params.audit_fund_drain(), Amount::new(29));
        assert_eq!(
            params.validate(),
            Err(ParamsError::AuditFundInsolvent {
                income: Amount::new(100),
                expected_reward: Amount::new(109),
            })
        );
        // A seed known at the seal by three colluding proposers: 8,000 · 0.2 · (1/4)² · 64 ·
        // 1,000, and 4 of rerolls.
        params.jobs.audit_seed_delay = 2;
        assert_eq!(params.audit_fund_drain(), Amount::new(6_401_604));
        // Without collusion nobody learns the seed early.
        params.jobs.collusion_fraction = Ratio::ZERO;
        assert_eq!(params.audit_fund_drain(), Amount::ZERO);
        // The sum is computed at once for any delay: its terms stop at 1 ppb (or at 1 for a
        // coalition of half).
        assert_eq!(run_sum(0, u64::MAX), 0);
        assert_eq!(run_sum(200_000_000, 1_000) - run_sum(200_000_000, 999), 1);
        assert_eq!(run_sum(500_000_000, 3), 3_000_000_000);
    }

    #[test]
    fn an_epoch_as_long_as_the_longest_claim_window_keeps_its_pool_to_the_end() {
        let mut params = Params::default();
        // 2 · 12 + 2 · 12 = 48 (the seed delay and the window, each with its stretch): a window
        // opened in an epoch's last block closes in the next epoch's last block, whose claims
        // still see the pool.
        params.staking.epoch_blocks = 48;
        assert_eq!(params.validate(), Ok(()));
        params.staking.epoch_blocks = 47;
        assert_eq!(
            params.validate(),
            Err(ParamsError::EpochWithinClaimWindow {
                epoch_blocks: 47,
                window: 48
            })
        );
    }

    #[test]
    fn fees_in_flight_that_could_outgrow_one_audits_slash_are_refused() {
        let mut params = Params::default();
        // honest_audit_rate · wrong_result = 6.0058757% · 10% = 0.60058757%: the cap must stay
        // below it.
        params.jobs.in_flight_fee_fraction = Ratio::from_ppb(6_005_876).unwrap();
        assert!(matches!(
            params.validate(),
            Err(ParamsError::InFlightAboveAuditRule { .. })
        ));
        params.jobs.in_flight_fee_fraction = Ratio::from_ppb(6_005_875).unwrap();
        assert_eq!(params.validate(), Ok(()));
    }

    #[test]
    fn a_cap_under_which_the_smallest_allocation_cannot_take_the_largest_job_is_refused() {
        let mut params = Params::default();
        // 0.3% of 2,500,000 is 7,500, below job_fee_max 10,000.
        params.jobs.in_flight_fee_fraction = Ratio::from_ppb(3_000_000).unwrap();
        assert_eq!(
            params.validate(),
            Err(ParamsError::InFlightBelowOneJob {
                capacity: Amount::new(7_500),
                fee_max: Amount::new(10_000),
            })
        );
    }

    #[test]
    fn deadlines_below_the_floor_are_refused() {
        for set in [
            |p: &mut Params| p.jobs.deadline_blocks_min = DEADLINE_BLOCKS_FLOOR - 1,
            |p: &mut Params| p.jobs.reveal_blocks = DEADLINE_BLOCKS_FLOOR - 1,
            |p: &mut Params| p.disputes.dispute_move_blocks = DEADLINE_BLOCKS_FLOOR - 1,
        ] {
            let mut params = Params::default();
            set(&mut params);
            assert!(matches!(
                params.validate(),
                Err(ParamsError::DeadlineBelowFloor(_))
            ));
        }
    }

    #[test]
    fn the_default_bond_covers_the_defenders_worst_case_and_no_less_is_taken() {
        let mut params = Params::default();
        // 4 MiB of input is 86 chunks of 48 KiB; with 64 reveals, 150 transactions counted at
        // most 2 · 1,000 each.
        assert_eq!(params.dispute_input_chunks_max(), 86);
        assert_eq!(params.dispute_tx_cost_max(), Amount::new(2_000));
        assert_eq!(params.dispute_cost_max(), Amount::new(300_000));
        params.disputes.challenge_bond = Amount::new(299_999);
        assert_eq!(
            params.validate(),
            Err(ParamsError::BondBelowWorstCase {
                bond: Amount::new(299_999),
                worst_case: Amount::new(300_000),
            })
        );
        // The old default (100,000) with the old 64 MiB input limit: 1,366 chunks, a worst
        // case of 2,860,000, nearly 29 times the bond.
        params.disputes.challenge_bond = Amount::new(100_000);
        params.disputes.dispute_input_bytes_max = 64 << 20;
        params.disputes.dispute_input_blocks = 2_000;
        assert_eq!(
            params.validate(),
            Err(ParamsError::BondBelowWorstCase {
                bond: Amount::new(100_000),
                worst_case: Amount::new(2_860_000),
            })
        );
    }

    #[test]
    fn an_audit_fund_that_pays_out_more_than_it_takes_in_is_refused() {
        let mut params = Params::default();
        // The old defaults: 10% of a 1,000 job is 100 in, 8% · 2,000 = 160 out per job, and
        // grinding or rerolling partners could draw 21 more (`audit_fund_drain`).
        params.jobs.audit_reward = Amount::new(2_000);
        assert_eq!(
            params.validate(),
            Err(ParamsError::AuditFundInsolvent {
                income: Amount::new(100),
                expected_reward: Amount::new(181),
            })
        );
        // 8% · 1,100 = 88, and 12 drawn (11.45 rounded up): exactly solvent.
        params.jobs.audit_reward = Amount::new(1_100);
        assert_eq!(params.audit_fund_drain(), Amount::new(12));
        assert_eq!(params.validate(), Ok(()));
        params.jobs.audit_reward = Amount::new(1_101);
        assert!(params.validate().is_err());
    }

    #[test]
    fn an_input_phase_too_short_for_the_largest_input_is_refused() {
        let mut params = Params::default();
        // 86 chunks at one a block, after the floor of 3.
        params.disputes.dispute_input_blocks = 88;
        assert_eq!(
            params.validate(),
            Err(ParamsError::InputDeadlineTooShort {
                blocks: 88,
                needed: 89,
            })
        );
        params.disputes.dispute_input_blocks = 89;
        assert_eq!(params.validate(), Ok(()));
    }

    #[test]
    fn zero_dispute_limits_are_refused() {
        let mut params = Params::default();
        params.disputes.disputes_per_job_max = 0;
        assert_eq!(
            params.validate(),
            Err(ParamsError::Zero("disputes_per_job_max"))
        );
    }

    #[test]
    fn a_split_above_one_is_refused() {
        let mut params = Params::default();
        params.slashing.insurance_share = Ratio::ONE;
        assert_eq!(params.validate(), Err(ParamsError::SplitAboveOne));
    }
}

#[cfg(test)]
mod store_tests {
    use super::*;

    #[test]
    fn parameters_round_trip_through_the_state_one_key_per_module() {
        let mut params = Params::default();
        params.jobs.audit_rate = Ratio::from_percent(9).unwrap();
        params.bank.min_tx_fee = Amount::new(7);
        let mut store = Store::new();
        params.store(&mut store);
        for key in PARAMS_KEYS {
            assert!(store.contains(key.as_bytes()), "{key} is stored");
        }
        assert_eq!(Params::load(&store), Ok(params));
    }

    #[test]
    fn a_state_without_one_modules_parameters_does_not_load() {
        let mut store = Store::new();
        Params::default().store(&mut store);
        store.delete(b"jobs/params");
        assert_eq!(
            Params::load(&store),
            Err(ParamsMissing { key: "jobs/params" })
        );
    }
}
