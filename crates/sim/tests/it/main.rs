//! The simulation's targets asserted on small runs of the real ledger (DESIGN §5, STYLE 14:
//! economic claims have a simulation). One test binary (STYLE 13).

use surety_sim::config::Config;
use surety_sim::strategy::Strategy;
use surety_types::Ratio;

#[test]
fn at_the_default_parameters_no_cheat_out_earns_honest_play_and_honest_operators_lose_nothing() {
    // 5,000 jobs: at 2,000 a small group's catches are few enough that one lucky run of
    // uncaught fabrications (the grinding pair's partner: 21 cheats, none caught, about one
    // chance in four at a 6% audit rate) puts its point estimate above honest play.
    let config = Config::new(100, 5_000, 1);
    let summary = surety_sim::run(&config);
    let report = surety_sim::report::markdown(&config, &summary);
    let profitable: Vec<&str> = summary
        .profitable_cheats()
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert!(
        profitable.is_empty(),
        "cheating pays for {profitable:?}\n{report}"
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
    // Nobody knows at its seal whether or by whom it is audited.
    assert_eq!(summary.totals.partners.auditors_visible, 0, "{report}");
    assert!(summary.totals.partners.gamble > 0, "{report}");
    // Audits were claimed by the claimants' own VRFs, about `audit_rate` of the windows.
    assert!(summary.totals.audits > 0, "{report}");
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
    // Which of the strategies that skip the run (fabricating, or missing deadlines for a
    // missed deadline's 1%) comes out ahead on so few jobs is luck (a single early catch sinks
    // a small group); one must.
    assert!(
        ["tampering", "sybil family", "late"]
            .iter()
            .any(|name| profitable.contains(name)),
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
fn a_partner_grinding_its_salt_cannot_aim_it_at_its_validator() {
    // The salt is the one input of the auditors' VRFs a cheat controls, but they also run on
    // the seed of a block `audit_seed_delay` after the seal, which the cheat cannot know when
    // it seals: every grind is blind, none aims at the colluding validator, and whether anyone
    // audits stays a coin of the VRFs.
    let config = Config::new(100, 2_000, 1);
    let summary = surety_sim::run(&config);
    let report = surety_sim::report::markdown(&config, &summary);
    let t = &summary.totals;
    assert!(t.grinds > 0, "{report}");
    assert_eq!(t.grinds_blind, t.grinds, "{report}");
    assert_eq!(t.grinds_hit, 0, "{report}");
    assert!(summary.honest_lose_nothing(), "{report}");
}
