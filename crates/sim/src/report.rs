//! From tallies to the printed result: profit per job by strategy with 95% confidence
//! intervals, how often cheats were caught, honest operators' losses, the verification
//! overhead, and the targets judged PASS or FAIL.

use crate::config::Config;
use crate::strategy::Strategy;
use crate::tally::{Tally, Totals};
use crate::world::World;
use std::fmt::Write;

/// Profit per job of a set of operators: a ratio estimate with its standard error.
#[derive(Clone, Copy, Debug, Default)]
pub struct Estimate {
    pub operators: usize,
    pub jobs: u64,
    pub per_job: f64,
    pub se: f64,
}

impl Estimate {
    /// Σ profit / Σ jobs over `members`, the standard error by linearisation over operators.
    pub fn of(members: &[(f64, u64)]) -> Estimate {
        let n = members.len();
        let jobs: u64 = members.iter().map(|m| m.1).sum();
        if n == 0 || jobs == 0 {
            return Estimate {
                operators: n,
                jobs,
                per_job: f64::NAN,
                se: f64::NAN,
            };
        }
        let profit: f64 = members.iter().map(|m| m.0).sum();
        let ratio = profit / jobs as f64;
        let mean_jobs = jobs as f64 / n as f64;
        let se = if n > 1 {
            let ss: f64 = members
                .iter()
                .map(|(x, j)| ((x - ratio * *j as f64) / mean_jobs).powi(2))
                .sum();
            (ss / (n as f64 * (n as f64 - 1.0))).sqrt()
        } else {
            f64::INFINITY
        };
        Estimate {
            operators: n,
            jobs,
            per_job: ratio,
            se,
        }
    }

    /// Half-width of the 95% interval.
    pub fn ci(&self) -> f64 {
        1.96 * self.se
    }
}

/// One strategy's row.
#[derive(Clone, Debug)]
pub struct Row {
    pub name: String,
    pub strategy: Option<Strategy>,
    pub estimate: Estimate,
    /// Profit per job minus honest play's, and the half-width of its 95% interval.
    pub versus_honest: f64,
    pub versus_ci: f64,
    pub cheats: u64,
    pub caught: u64,
    pub cheat: &'static str,
    /// Whether the target "below honest play" applies to this row.
    pub judged: bool,
}

/// The judged outcome of a run.
#[derive(Clone, Debug)]
pub struct Summary {
    pub rows: Vec<Row>,
    pub honest: Estimate,
    pub honest_offences: u64,
    pub honest_slashed: u128,
    pub honest_unpaid_runs: u64,
    pub overhead: f64,
    pub totals: Totals,
    pub state_root: String,
}

impl Summary {
    /// Rows whose strategy cheated and whose profit is not below honest play. A strategy that
    /// never found a chance to cheat (a copier never on a job with another replica) played
    /// honestly: its profit says nothing about cheating, and it is not judged.
    pub fn profitable_cheats(&self) -> Vec<&Row> {
        self.rows
            .iter()
            .filter(|r| r.judged && r.cheats > 0 && r.versus_honest >= 0.0)
            .collect()
    }

    /// Rows whose strategy cheated with a profit below honest play, but whose 95% interval
    /// reaches it: a longer run decides.
    pub fn unsure_cheats(&self) -> Vec<&Row> {
        self.rows
            .iter()
            .filter(|r| {
                r.judged
                    && r.cheats > 0
                    && r.versus_honest < 0.0
                    && r.versus_honest + r.versus_ci >= 0.0
            })
            .collect()
    }

    /// Honest operators lost nothing to the ledger (no offence, no slash).
    pub fn honest_lose_nothing(&self) -> bool {
        self.honest_offences == 0 && self.honest_slashed == 0
    }

    /// The verification overhead target.
    pub fn overhead_ok(&self) -> bool {
        self.overhead <= 1.1
    }
}

fn profit(config: &Config, tally: &Tally) -> f64 {
    tally.worth_end as f64
        - tally.worth_start as f64
        - config.compute_cost as f64 * tally.inferences.runs()
}

/// Judge a finished run.
pub fn summarise(
    config: &Config,
    world: &World,
    tallies: &[Tally],
    totals: &Totals,
    state_root: String,
) -> Summary {
    let members = |pick: &dyn Fn(Strategy) -> bool| -> Vec<(f64, u64)> {
        world
            .operators
            .iter()
            .filter(|o| pick(o.strategy))
            .map(|o| (profit(config, &tallies[o.index]), tallies[o.index].jobs))
            .collect()
    };
    let count = |pick: &dyn Fn(Strategy) -> bool| -> (u64, u64) {
        world
            .operators
            .iter()
            .filter(|o| pick(o.strategy))
            .fold((0, 0), |(c, k), o| {
                (c + tallies[o.index].cheats, k + tallies[o.index].caught)
            })
    };
    let honest = Estimate::of(&members(&|s| s == Strategy::Honest));
    let row = |name: String,
               strategy: Option<Strategy>,
               pick: &dyn Fn(Strategy) -> bool,
               judged: bool,
               cheat: &'static str| {
        let estimate = Estimate::of(&members(pick));
        let (cheats, caught) = count(pick);
        Row {
            name,
            strategy,
            versus_honest: estimate.per_job - honest.per_job,
            versus_ci: 1.96 * (estimate.se.powi(2) + honest.se.powi(2)).sqrt(),
            estimate,
            cheats,
            caught,
            cheat,
            judged,
        }
    };
    let mut rows = Vec::new();
    for strategy in Strategy::ALL {
        // Proposer strategies gain nothing on their own account: the grinder is judged with
        // its partner, the censor by its victims' losses.
        let judged = !strategy.is_honest()
            && !matches!(
                strategy,
                Strategy::Grinder | Strategy::Censor | Strategy::GrindPartner
            );
        rows.push(row(
            strategy.to_string(),
            Some(strategy),
            &move |s| s == strategy,
            judged,
            strategy.cheat(),
        ));
    }
    rows.push(row(
        "grinding pair (proposer + partner)".into(),
        None,
        &|s| matches!(s, Strategy::Grinder | Strategy::GrindPartner),
        true,
        "wrong result",
    ));
    let honest_ops = world.operators.iter().filter(|o| o.strategy.is_honest());
    let (mut offences, mut slashed, mut unpaid) = (0, 0, 0);
    for o in honest_ops {
        offences += tallies[o.index].offences;
        slashed += tallies[o.index].slashed;
        unpaid += tallies[o.index].unpaid_runs;
    }
    let jobs = totals.jobs_submitted.max(1) as f64;
    Summary {
        rows,
        honest,
        honest_offences: offences,
        honest_slashed: slashed,
        honest_unpaid_runs: unpaid,
        overhead: totals.inferences.runs() / jobs,
        totals: totals.clone(),
        state_root,
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    100.0 * part as f64 / whole.max(1) as f64
}

/// The rows' names, comma separated.
fn names(rows: &[&Row]) -> String {
    rows.iter()
        .map(|r| r.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn pass(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "FAIL"
    }
}

/// The run's markdown.
pub fn markdown(config: &Config, summary: &Summary) -> String {
    let mut out = String::new();
    let p = &config.params;
    let t = &summary.totals;
    let _ = writeln!(
        out,
        "# surety-sim: {} operators in {} service{}, {} jobs, seed {}\n",
        config.operators,
        config.services,
        if config.services == 1 { "" } else { "s" },
        config.jobs,
        config.seed
    );
    let _ = writeln!(
        out,
        "Real ledger (`Ledger::apply_block`), real MLP inference (11 steps), real disputes. \
         audit_rate {:.2}%, wrong_result {:.0}%, service_allocation_min {}, fee {} per job, \
         compute cost {} per inference, {:.0}% of jobs with 2 replicas, stakes Pareto(α={}) from {} \
         capped at {}×, sybil family {:.0}% of its service's stake.\n",
        p.jobs.audit_rate.ppb() as f64 / 1e7,
        p.slashing.wrong_result.ppb() as f64 / 1e7,
        p.services.service_allocation_min.get(),
        config.fee,
        config.compute_cost,
        config.two_replica_share * 100.0,
        config.stake_alpha,
        config.stake_min,
        config.stake_cap,
        config.family_stake_share * 100.0
    );
    let _ = writeln!(
        out,
        "**Profit** of an operator = Δ(account balance + self-bond's value + unclaimed rewards) \
         from genesis to after every slash has applied − compute cost × inferences it ran. \
         There are no delegations (each pool is its operator's self-bond), so the delegators' \
         share of fees and slashes is the operator's own. **Per job** = Σ profit / Σ jobs \
         assigned to the group's operators; the 95% interval is by linearisation over operators. \
         **Caught** = offences of the strategy's kind reported by the ledger (for griefers, \
         challenges lost) / cheats played.\n"
    );
    let _ = writeln!(
        out,
        "| strategy | operators | jobs | profit per job | vs honest (95% CI) | cheat | played | caught | target |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---|---:|---:|---|");
    for row in &summary.rows {
        let e = &row.estimate;
        let caught = if row.cheats == 0 {
            "-".to_string()
        } else {
            format!("{:.0}%", 100.0 * row.caught as f64 / row.cheats as f64)
        };
        let target = if row.judged && row.versus_honest.is_nan() {
            "n/a (no jobs)".to_string()
        } else if row.judged && row.cheats == 0 {
            "n/a (never cheated)".to_string()
        } else if row.judged && row.versus_honest + row.versus_ci < 0.0 {
            "PASS".to_string()
        } else if row.judged && row.versus_honest < 0.0 {
            // Below honest play, but not at 95%: a longer run decides.
            "PASS (interval includes 0)".to_string()
        } else if row.judged {
            "FAIL".to_string()
        } else {
            "-".into()
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.0} ± {:.0} | {:+.0} ± {:.0} | {} | {} | {} | {} |",
            row.name,
            e.operators,
            e.jobs,
            e.per_job,
            e.ci(),
            row.versus_honest,
            row.versus_ci,
            row.cheat,
            row.cheats,
            caught,
            target
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Honest operators (incl. censored victims): {} offences, {} tokens slashed; {} runs \
         computed for jobs that failed without paying them.",
        summary.honest_offences, summary.honest_slashed, summary.honest_unpaid_runs
    );
    if !t.honest_offences.is_empty() {
        let _ = writeln!(
            out,
            "Offences against honest operators: {:?}",
            t.honest_offences
        );
    }
    let _ = writeln!(
        out,
        "Jobs: {} submitted, {} final, {} failed; {} audits; {} disputes ({:?}); {} referee \
         steps; {} blocks; {} hook failures; invariants checked {} times; final state root {}.",
        t.jobs_submitted,
        t.jobs_final,
        t.jobs_failed,
        t.audits,
        t.disputes,
        t.outcomes,
        t.referee_steps,
        t.blocks,
        t.hook_failures,
        t.invariant_checks,
        summary.state_root
    );
    if !t.refused.is_empty() {
        let _ = writeln!(out, "\nRefused transactions: {:?}", t.refused);
    }
    let _ = writeln!(
        out,
        "\nPrivate sortition: {} claim windows; {} claims sent (the claimant's VRF selected it), \
         {} audits claimed; {} draws selected an honest operator frozen or jailed at the time \
         (no claim: the ledger would refuse it); {} windows closed with no audit, {} with more \
         than one, {} with an honest auditor ({:.2}%).",
        t.windows,
        t.claims_sent,
        t.audits,
        t.claims_ineligible_honest,
        t.windows_unaudited,
        t.windows_multiple,
        t.windows_honest_audited,
        percent(t.windows_honest_audited, t.windows)
    );
    let _ = writeln!(
        out,
        "Censorship: {} transactions left out by censoring proposers, {} of them audit-claim \
         batches; {} claims lost (their window closed while left out).",
        t.censored_txs, t.censored_claims, t.claims_lost
    );
    let _ = writeln!(
        out,
        "Salt grinding: {} seals ground ({} salts tried, up to {} a seal), {} found a salt that \
         selects the colluding validator, {} blind (the window's seed comes after the seal), \
         {} predicted its weight wrong; of the ground jobs, {} had an honest auditor ({:.2}%).",
        t.grinds,
        t.grind_salts,
        config.grind_salts,
        t.grinds_hit,
        t.grinds_blind,
        t.grind_mispredicted,
        t.grinds_honest_audited,
        percent(t.grinds_honest_audited, t.grinds)
    );
    let partners = &t.partners;
    let _ = writeln!(
        out,
        "Partner auditors' seals by what the job's record showed: no outsider replica {} \
         (fabricated, the gamble), an outsider's replica {} (computed); an auditor or claim \
         window visible before the seal: {}.",
        partners.gamble, partners.outsider_replica, partners.auditors_visible
    );
    let _ = writeln!(
        out,
        "\nVerification overhead: {:.4} inferences per job ({:.1} runs for {} jobs: every \
         worker's run, replicas and other-weights runs included, every audit's run, and the \
         referee's steps at 1/11 of a run each; not counted: {} runs griefers made to fake \
         their claims, which they pay for).\n",
        summary.overhead,
        t.inferences.runs(),
        t.jobs_submitted,
        t.attacker_runs
    );
    let profitable = summary.profitable_cheats();
    let unsure = summary.unsure_cheats();
    let _ = writeln!(out, "## Targets\n");
    let _ = writeln!(
        out,
        "- {} every dishonest strategy's profit per job below honest play{}",
        pass(profitable.is_empty()),
        if profitable.is_empty() && unsure.is_empty() {
            " (each at 95%)".to_string()
        } else if profitable.is_empty() {
            format!(" (point estimates; at 95% not yet for: {})", names(&unsure))
        } else {
            format!(" (not below: {})", names(&profitable))
        }
    );
    let _ = writeln!(
        out,
        "- {} honest operators lose nothing (no offence, no slash)",
        pass(summary.honest_lose_nothing())
    );
    let _ = writeln!(
        out,
        "- {} verification overhead ≤ 1.1 inferences per job ({:.4})",
        pass(summary.overhead_ok()),
        summary.overhead
    );
    let _ = writeln!(out, "- {} no hook failure", pass(t.hook_failures == 0));
    out
}
