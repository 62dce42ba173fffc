//! The simulation's targets asserted on small runs of the real ledger (DESIGN §5, STYLE 14:
//! economic claims have a simulation). One test binary (STYLE 13).

use surety_sim::config::Config;
use surety_sim::strategy::Strategy;
use surety_types::Ratio;

/// The one strategy expected to out-earn honest play on a ledger that names a job's designated
/// auditor before its assignees seal: the partner-auditor attack of the adversarial review
/// (docs/market.md, "The audit game", Open). Not a target met: a finding reproduced. Once the
/// ledger draws the auditor after the seals, the partners find no auditor at seal time, the
/// expectation below becomes "nothing pays", and this test holds the fix to it.
const OPEN_FINDING: &str = "partner auditors";

#[test]
fn at_the_default_parameters_no_cheat_out_earns_honest_play_and_honest_operators_lose_nothing() {
    let summary = surety_sim::run(&Config::new(100, 2_000, 1));
    let report = surety_sim::report::markdown(&Config::new(100, 2_000, 1), &summary);
    let profitable: Vec<&str> = summary
        .profitable_cheats()
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    let expected: Vec<&str> = if summary.totals.partners.auditor_known_at_seal() {
        vec![OPEN_FINDING]
    } else {
        vec![]
    };
    assert_eq!(
        profitable,
        expected,
        "cheating pays for {profitable:?} (auditor known at seal time: {})\n{report}",
        summary.totals.partners.auditor_known_at_seal()
    );
    assert!(summary.honest_lose_nothing(), "{report}");
    assert!(summary.overhead_ok(), "{report}");
    assert_eq!(summary.totals.hook_failures, 0, "{report}");
    // The attacks were played for real, and disputes went to the referee.
    for strategy in [
        Strategy::Tamper,
        Strategy::OtherWeights,
        Strategy::Sybil,
        Strategy::Griefer,
        Strategy::Equivocator,
        Strategy::Late,
    ] {
        let row = summary
            .rows
            .iter()
            .find(|r| r.strategy == Some(strategy))
            .expect("a row per strategy");
        assert!(
            row.cheats > 0 && row.caught > 0,
            "{strategy} not played or never caught\n{report}"
        );
    }
    let partners = summary
        .rows
        .iter()
        .find(|r| r.strategy == Some(Strategy::PartnerAuditor))
        .expect("a row for the partner auditors");
    assert!(partners.cheats > 0, "the partners never cheated\n{report}");
    assert!(summary.totals.referee_steps > 0, "{report}");
    assert_eq!(
        summary.totals.jobs_final + summary.totals.jobs_failed,
        summary.totals.jobs_submitted,
        "every job ends"
    );
}

#[test]
fn when_compute_costs_far_more_than_the_expected_slash_fabricating_pays_and_the_target_fails() {
    // Every stake at the service minimum: cheating saves 200,000 a job against an expected
    // slash of about 8% · 10% · 2,500,000 = 20,000. The target must see it.
    let mut config = Config::new(60, 1_000, 3);
    config.compute_cost = 200_000;
    config.stake_cap = 1;
    let summary = surety_sim::run(&config);
    let profitable: Vec<&str> = summary
        .profitable_cheats()
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    // Which of the two fabricating strategies comes out ahead on so few jobs is luck (a
    // single early catch sinks a small group); one must.
    assert!(
        profitable.contains(&"tampering") || profitable.contains(&"sybil family"),
        "{profitable:?}"
    );
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let config = Config::new(40, 300, 7);
    let first = surety_sim::run(&config);
    let second = surety_sim::run(&config);
    assert_eq!(first.state_root, second.state_root);
    assert_eq!(
        surety_sim::report::markdown(&config, &first),
        surety_sim::report::markdown(&config, &second)
    );
}

#[test]
fn an_audit_rate_the_ledger_refuses_is_reported_and_not_run() {
    let config = Config::new(40, 300, 1).with_audit_rate(Ratio::from_percent(1).unwrap());
    assert!(config.params.validate().is_err());
}

#[test]
fn partners_who_cannot_see_their_auditor_at_seal_time_gamble_and_lose() {
    // What the partners know once the ledger draws the auditor after the seals, emulated:
    // they ignore the auditor in state, so they fabricate every job no outsider replicates
    // and are caught whenever an outsider's VRF selects it to audit.
    let mut config = Config::new(100, 2_000, 1);
    config.partners_blind = true;
    let summary = surety_sim::run(&config);
    let report = surety_sim::report::markdown(&config, &summary);
    let seals = &summary.totals.partners;
    assert!(
        !seals.auditor_known_at_seal() && seals.auditor_unknown > 0,
        "{report}"
    );
    let partners = summary
        .rows
        .iter()
        .find(|r| r.strategy == Some(Strategy::PartnerAuditor))
        .expect("a row for the partner auditors");
    assert!(
        partners.caught > 0 && partners.versus_honest < 0.0,
        "blind partners were not caught or still out-earned honest play\n{report}"
    );
    assert!(summary.profitable_cheats().is_empty(), "{report}");
}
