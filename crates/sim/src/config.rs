//! The simulation's knobs, with defaults that are the ledger's own market parameters
//! (`Params::default()`); only inflation and the minimum transaction fee differ, both 0:
//! block rewards go to validators by stake, not by strategy, and would blur the comparison
//! (the cost of play is then the bonds, slashes and compute, not transaction fees).

use surety_ledger::params::Params;
use surety_types::{Amount, Ratio};

/// One simulation run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Operators (all registered at genesis, each serving one model with its whole stake).
    pub operators: usize,
    /// Models served, each by its own service (`services`: its operators and their
    /// allocations): a job's replicas and auditors come from its model's service only, so
    /// each operator evaluates its VRF for its own service's jobs. The colluding groups (the
    /// sybil family, the partner auditors, the grinding pairs' partners) all serve the first,
    /// with their stake shares of that service; every other strategy is dealt across all.
    pub services: usize,
    /// Jobs submitted in all.
    pub jobs: usize,
    /// Seeds every random choice: the same seed gives the same run.
    pub seed: u64,
    /// Jobs submitted per block.
    pub jobs_per_block: usize,
    /// Each job's fee.
    pub fee: u128,
    /// What one inference costs its operator off the ledger (power, hardware), in tokens:
    /// what a cheater saves by not computing.
    pub compute_cost: u128,
    /// Share of jobs asking for 2 replicas (the rest ask for 1).
    pub two_replica_share: f64,
    /// Smallest stake (self-bond, all allocated to the model): the service minimum by default.
    pub stake_min: u128,
    /// Pareto shape of stake sizes above `stake_min`.
    pub stake_alpha: f64,
    /// Largest stake, as a multiple of `stake_min`.
    pub stake_cap: u128,
    /// Operators per dishonest worker strategy, as a share of all operators.
    pub cheater_share: f64,
    /// The sybil family's share of all allocated stake (its members' stakes are scaled to it).
    pub family_stake_share: f64,
    /// The partner auditors' share of all allocated stake (their stakes are scaled to it): by
    /// default the ledger's own `collusion_fraction`, the most the audit rule assumes colludes.
    pub partner_stake_share: f64,
    /// How many undeclared partners play the partner-auditor attack.
    pub partners: usize,
    /// Salts a grinding partner tries per seal for one that makes its validator's VRF select
    /// it (each try costs it one VRF evaluation per colluding validator).
    pub grind_salts: usize,
    /// Each griefer's chance per block of opening a false challenge.
    pub griefing_rate: f64,
    /// Check every ledger invariant every this many blocks (and at the end).
    pub invariants_every: u64,
    /// The ledger's parameters.
    pub params: Params,
}

impl Config {
    /// The defaults for `operators` operators and `jobs` jobs.
    pub fn new(operators: usize, jobs: usize, seed: u64) -> Config {
        let mut params = Params::default();
        params.rewards.inflation_per_year = Ratio::ZERO;
        params.bank.min_tx_fee = Amount::ZERO;
        Config {
            operators,
            // About 250 operators a service: 8 for 2,000; one below 500.
            services: (operators / 250).max(1),
            jobs,
            seed,
            jobs_per_block: (operators / 20).clamp(5, 100),
            fee: 5_000,
            compute_cost: 2_500,
            two_replica_share: 0.01,
            stake_min: params.services.service_allocation_min.get(),
            stake_alpha: 1.5,
            stake_cap: 40,
            cheater_share: 0.02,
            family_stake_share: 0.02,
            partner_stake_share: params.jobs.collusion_fraction.ppb() as f64 / 1e9,
            partners: 4,
            grind_salts: 512,
            griefing_rate: 0.05,
            invariants_every: 100,
            params,
        }
    }

    /// The ledger's parameters with `audit_rate` set, the largest job fee lowered to this
    /// run's fee, and the in-flight cap lowered to the least that still lets the smallest
    /// allocation take one job: what the sweep needs to reach low audit rates that
    /// `Params::validate` would otherwise refuse outright.
    pub fn with_audit_rate(mut self, audit_rate: Ratio) -> Config {
        let jobs = &mut self.params.jobs;
        jobs.audit_rate = audit_rate;
        jobs.job_fee_max = Amount::new(self.fee);
        let min = self.params.services.service_allocation_min.get();
        // Smallest fraction f with f · min ≥ fee, in parts per billion.
        let ppb = (self.fee * 1_000_000_000).div_ceil(min);
        jobs.in_flight_fee_fraction =
            Ratio::from_ppb(ppb as u64).expect("the fee is below the service minimum");
        self
    }
}
