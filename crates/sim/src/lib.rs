//! An adversarial simulation of the inference market (DESIGN §5, docs/market.md) on the real
//! ledger: thousands of staked operators, each playing a strategy from a catalogue
//! ([`strategy::Strategy`]), serve a real model; honest ones run `surety_infer` and answer
//! disputes from their real traces; every block goes through `Ledger::apply_block`, whose
//! assignments, audits, verdicts and slashes are the only ones there are. It measures what
//! each strategy earns per job against honest play, how often cheats are caught, what honest
//! operators lose, and how many inferences verification costs per job.
//!
//! It must never model the ledger: no assignment, audit selection, verdict or payment is
//! computed here, only read from the ledger's state and events (an operator computes its own
//! VRF to learn whether it may claim an audit; the ledger checks the claim). Off-ledger costs (compute) are the one
//! thing it adds, as a stated price per inference.

pub mod compute;
pub mod config;
pub mod driver;
pub mod msgs;
pub mod report;
pub mod rng;
pub mod sortition;
pub mod strategy;
pub mod tally;
pub mod world;

use config::Config;
use report::Summary;
use surety_types::Ratio;

/// Run one simulation and judge it.
pub fn run(config: &Config) -> Summary {
    let world = world::World::new(config);
    let mut driver = driver::Driver::new(config, &world);
    driver.run();
    let root = format!("{}", driver.ledger.state_root());
    report::summarise(config, &world, &driver.tallies, &driver.totals, root)
}

/// One point of the sweep.
pub struct SweepPoint {
    pub audit_rate: Ratio,
    pub family_stake_share: f64,
    /// `None` when `Params::validate` refuses the parameters (the ledger will not run them).
    pub summary: Option<Summary>,
    pub refused: Option<String>,
}

/// Audit rates (parts per billion) and family stake shares the sweep covers.
pub const SWEEP_AUDIT_PPB: [u64; 5] = [25_000_000, 40_000_000, 60_000_000, 80_000_000, 120_000_000];
pub const SWEEP_FAMILY_SHARES: [f64; 2] = [0.02, 0.3];

/// Run `base` at every sweep point (job fee cap and in-flight cap lowered to what the
/// audit rate needs, see [`Config::with_audit_rate`]).
pub fn sweep(base: &Config) -> Vec<SweepPoint> {
    let mut points = Vec::new();
    for ppb in SWEEP_AUDIT_PPB {
        for share in SWEEP_FAMILY_SHARES {
            let rate = Ratio::from_ppb(ppb).expect("a ratio");
            let mut config = base.clone().with_audit_rate(rate);
            config.family_stake_share = share;
            let (summary, refused) = match config.params.validate() {
                Ok(()) => (Some(run(&config)), None),
                Err(e) => (None, Some(e.to_string())),
            };
            points.push(SweepPoint {
                audit_rate: rate,
                family_stake_share: share,
                summary,
                refused,
            });
        }
    }
    points
}

/// The sweep's markdown table.
pub fn sweep_markdown(base: &Config, points: &[SweepPoint]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Sweep: audit rate × sybil family's stake share ({} operators, {} jobs a point; job \
         fee cap = fee {}, in-flight cap = fee / service minimum)\n",
        base.operators, base.jobs, base.fee
    );
    let _ = writeln!(
        out,
        "Profit per job against honest play (95% CI); **bold** where cheating pays.\n"
    );
    let _ = writeln!(
        out,
        "| audit rate | family stake | tampering | sybil family | grinding pair | lazy auditor | copier | sybil caught |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|");
    for point in points {
        let rate = point.audit_rate.ppb() as f64 / 1e7;
        let Some(summary) = &point.summary else {
            let _ = writeln!(
                out,
                "| {rate:.1}% | {:.0}% | refused by Params::validate: {} | | | | | |",
                point.family_stake_share * 100.0,
                point.refused.as_deref().unwrap_or("")
            );
            continue;
        };
        let cell = |name: &str| {
            summary
                .rows
                .iter()
                .find(|r| r.name == name)
                .map(|r| {
                    let text = format!("{:+.0} ± {:.0}", r.versus_honest, r.versus_ci);
                    if r.versus_honest >= 0.0 {
                        format!("**{text}**")
                    } else {
                        text
                    }
                })
                .unwrap_or_default()
        };
        let sybil = summary.rows.iter().find(|r| r.name == "sybil family");
        let caught = sybil
            .filter(|r| r.cheats > 0)
            .map(|r| format!("{:.0}%", 100.0 * r.caught as f64 / r.cheats as f64))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "| {rate:.1}% | {:.0}% | {} | {} | {} | {} | {} | {caught} |",
            point.family_stake_share * 100.0,
            cell("tampering"),
            cell("sybil family"),
            cell("grinding pair (proposer + partner)"),
            cell("lazy auditor"),
            cell("copying replica"),
        );
    }
    out
}
