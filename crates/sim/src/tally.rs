//! What the driver counts per operator and for the whole run, from the ledger's events and
//! its own actions. Turned into the report's rows by [`crate::report`].

use crate::compute::Counter;
use std::collections::BTreeMap;

/// One operator's counts.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Jobs it was assigned to compute (reassignments included).
    pub jobs: u64,
    /// Audits it was drawn for.
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
    pub grinds: u64,
    pub grinds_changed: u64,
    pub censored_txs: u64,
    pub invariant_checks: u64,
    /// Offences reported against honest operators, by kind and circumstance.
    pub honest_offences: BTreeMap<String, u64>,
    /// What partner auditors found in state as they sealed their jobs.
    pub partners: PartnerSeals,
}

/// A partner auditor's seals by what the job's record said at the time (the driver's
/// `partner_may_fabricate`): whether the ledger shows the designated auditor before the
/// assignees seal is what the attack turns on.
#[derive(Clone, Debug, Default)]
pub struct PartnerSeals {
    /// The designated auditor was known and a partner: fabricated, safe.
    pub auditor_partner: u64,
    /// The designated auditor was known and an outsider: computed.
    pub auditor_outsider: u64,
    /// No auditor drawn yet: fabricated, the gamble.
    pub auditor_unknown: u64,
    /// An outsider held another replica: computed.
    pub outsider_replica: u64,
}

impl PartnerSeals {
    /// True when the ledger named a job's designated auditor before a partner sealed it.
    pub fn auditor_known_at_seal(&self) -> bool {
        self.auditor_partner + self.auditor_outsider > 0
    }
}
