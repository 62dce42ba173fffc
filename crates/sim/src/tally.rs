//! What the driver counts per operator and for the whole run, from the ledger's events and
//! its own actions. Turned into the report's rows by [`crate::report`].

use crate::compute::Counter;
use std::collections::BTreeMap;

/// One operator's counts.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Jobs it was assigned to compute (reassignments included).
    pub jobs: u64,
    /// Audits it claimed (its VRF selected it and the claim landed in the window).
    pub audits: u64,
    /// Inferences it executed.
    pub inferences: Counter,
    /// Times it played its strategy's cheat.
    pub cheats: u64,
    /// Times the ledger punished a cheat of its strategy's kind.
    pub caught: u64,
    /// Offences reported against it, any kind.
    pub offences: u64,
    /// Tokens slashed from its pool.
    pub slashed: u128,
    /// Runs it computed for jobs that failed without paying it.
    pub unpaid_runs: u64,
    /// Worth (balance, self-bond, unclaimed rewards) at genesis and at the end.
    pub worth_start: u128,
    pub worth_end: u128,
}

/// Counts for the whole run.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    pub blocks: u64,
    pub jobs_submitted: u64,
    pub jobs_final: u64,
    pub jobs_failed: u64,
    pub audits: u64,
    pub disputes: u64,
    pub outcomes: BTreeMap<String, u64>,
    pub referee_steps: u64,
    /// Inferences the network's verification executed: workers' runs (replicas included),
    /// auditors' runs and the referee's steps.
    pub inferences: Counter,
    /// Runs attackers made that the network does not need (griefers faking a claim).
    pub attacker_runs: u64,
    pub hook_failures: u64,
    /// Refused transactions by (kind of transaction, reason).
    pub refused: BTreeMap<String, u64>,
    /// Seals whose salt a grinding partner ground, salts tried, and seals for which it found
    /// a salt that selects its colluding validator.
    pub grinds: u64,
    pub grind_salts: u64,
    pub grinds_hit: u64,
    /// Ground seals for which the partner could not know the claim window's pool weight (the
    /// epoch's snapshot not taken yet), and windows whose weight it predicted wrong.
    pub grinds_blind: u64,
    pub grind_mispredicted: u64,
    /// Transactions censoring proposers left out (any kind), and among them audit claims.
    pub censored_txs: u64,
    pub censored_claims: u64,
    /// Audit claims sent (their VRF selected the claimant), and claims still left out when
    /// their window closed (lost to censorship).
    pub claims_sent: u64,
    pub claims_lost: u64,
    /// Draws that selected an honest operator the ledger would refuse now (jailed, or frozen
    /// by a pending slash or an open dispute, e.g. a griefer's): its weight still counts in
    /// the window's, so the audit is lost.
    pub claims_ineligible_honest: u64,
    /// Claim windows opened, and how many claims landed in them: none, one, more.
    pub windows: u64,
    pub windows_unaudited: u64,
    pub windows_multiple: u64,
    /// Windows with at least one claim by an honest operator, over all and over ground seals'.
    pub windows_honest_audited: u64,
    pub grinds_honest_audited: u64,
    pub invariant_checks: u64,
    /// Offences reported against honest operators, by kind and circumstance.
    pub honest_offences: BTreeMap<String, u64>,
    /// What partner auditors found in state as they sealed their jobs.
    pub partners: PartnerSeals,
}

/// A partner auditor's seals by what the job's record showed at the time (the driver's
/// `partner_may_fabricate`). Who audits is decided only after every assignee sealed (private
/// sortition over the seals), so the record never names an auditor at a seal.
#[derive(Clone, Debug, Default)]
pub struct PartnerSeals {
    /// No outsider held another replica: fabricated, the gamble.
    pub gamble: u64,
    /// An outsider held another replica: computed.
    pub outsider_replica: u64,
    /// The record named an auditor or an open claim window before the seal (never expected).
    pub auditors_visible: u64,
}
