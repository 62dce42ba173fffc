//! Scenario tests: each reads as a sentence about the protocol. Every block in these tests is
//! followed by a full invariant check (see `common::Chain::block`).

use crate::common::*;
use surety_ledger::bank::{Pool, Transfer};
use surety_ledger::genesis::Genesis;
use surety_ledger::rewards::ClaimRewards;
use surety_ledger::slashing::{Evidence, FaultKind, Offence};
use surety_ledger::staking::{Delegate, Redelegate, StakingError, Undelegate};
use surety_ledger::tx::{Msg, TxError};
use surety_ledger::{Event, Ledger};
use surety_types::{Amount, Epoch, Height, Ratio, Shares};

/// Operators 1..=3 small (100k each), operator 9 large (10M) so one small operator's fault is
/// uncorrelated (x ≈ 1%); accounts 20..=40 funded.
fn standard_chain() -> Chain {
    let mut accounts: Vec<(u16, u128)> = vec![
        (1, 1_000_000),
        (2, 1_000_000),
        (3, 1_000_000),
        (9, 20_000_000),
    ];
    accounts.extend((20..=40).map(|n| (n, 1_000_000)));
    Chain::new(
        test_params(),
        &accounts,
        &[(1, 100_000), (2, 100_000), (3, 100_000), (9, 10_000_000)],
    )
}

fn transfer(to: u16, amount: u128) -> Msg {
    Msg::Transfer(Transfer {
        to: account(to),
        amount: Amount::new(amount),
    })
}

fn delegate(operator_index: u16, amount: u128) -> Msg {
    Msg::Delegate(Delegate {
        operator: operator(operator_index),
        amount: Amount::new(amount),
    })
}

fn undelegate(operator_index: u16, shares: u128) -> Msg {
    Msg::Undelegate(Undelegate {
        operator: operator(operator_index),
        shares: Shares::new(shares),
    })
}

/// An offence of `kind` by operator `n` at `height`, with nobody reporting it or harmed and no
/// cap (as the ledger's own liveness tracking reports).
fn offence(n: u16, kind: FaultKind, height: Height) -> Offence {
    Offence {
        operator: operator(n),
        kind,
        height,
        reporter: None,
        harmed: None,
        cap: None,
    }
}

fn double_sign_evidence(chain: &Chain, n: u16, height: Height) -> Msg {
    let (first, second) = chain.double_sign(n, height);
    Msg::SubmitEvidence(Box::new(Evidence::DoubleSign { first, second }))
}

fn slashed_events(events: &[Event]) -> Vec<(surety_types::OperatorId, Ratio, Amount)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Slashing(surety_ledger::slashing::SlashingEvent::Slashed {
                operator,
                fraction,
                amount,
                ..
            }) => Some((*operator, *fraction, *amount)),
            _ => None,
        })
        .collect()
}

/// Run to the epoch end at which slashes due in `apply_epoch` are applied; returns the
/// Slashed events seen on the way.
fn run_until_slashes_apply(
    chain: &mut Chain,
    apply_epoch: u64,
) -> Vec<(surety_types::OperatorId, Ratio, Amount)> {
    let mut slashed = Vec::new();
    while chain.epoch() < Epoch::new(apply_epoch) {
        let outcome = chain.block(&[]);
        slashed.extend(slashed_events(&outcome.events));
    }
    slashed
}

#[test]
fn a_transfer_moves_tokens_and_charges_the_fee() {
    let mut chain = standard_chain();
    let receipt = chain.submit_ok(20, transfer(21, 5_000));
    assert_eq!(chain.balance(20), Amount::new(1_000_000 - 5_000 - 10));
    assert_eq!(chain.balance(21), Amount::new(1_005_000));
    assert!(receipt
        .events
        .contains(&Event::Bank(surety_ledger::bank::BankEvent::Transfer {
            from: account(20),
            to: account(21),
            amount: Amount::new(5_000)
        })));
}

#[test]
fn a_replayed_transaction_is_rejected_and_changes_nothing() {
    let mut chain = standard_chain();
    let tx = chain.sign(20, transfer(21, 5_000));
    assert!(chain.block(std::slice::from_ref(&tx)).receipts[0].is_ok());
    let root = chain.ledger.state_root();
    let balance = chain.balance(20);
    let replay = chain.block(&[tx]).receipts.remove(0);
    assert_eq!(
        replay.error_kind,
        Some(TxError::Fee(surety_ledger::bank::FeeError::BadNonce {
            expected: 1,
            got: 0
        }))
    );
    assert!(!replay.charged);
    assert_eq!(chain.balance(20), balance);
    assert_eq!(chain.nonce(20), 1);
    // Only the (empty) block's own effects could move the root; with no fees and no inflation
    // there are none.
    assert_eq!(chain.ledger.state_root(), root);
}

#[test]
fn a_failed_transaction_changes_only_fee_and_nonce() {
    let mut chain = standard_chain();
    let receipt = chain.submit(20, transfer(21, 5_000_000));
    assert!(
        matches!(receipt.error_kind, Some(TxError::Bank(_))),
        "{receipt:?}"
    );
    assert!(receipt.charged);
    assert_eq!(chain.balance(20), Amount::new(1_000_000 - 10));
    assert_eq!(chain.balance(21), Amount::new(1_000_000));
    assert_eq!(chain.nonce(20), 1);
}

#[test]
fn a_forged_signature_is_rejected_and_changes_nothing() {
    let mut chain = standard_chain();
    let mut bytes = chain.sign(20, transfer(21, 5_000));
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let receipt = chain.block(&[bytes]).receipts.remove(0);
    assert_eq!(receipt.error_kind, Some(TxError::BadSignature));
    assert_eq!(chain.balance(20), Amount::new(1_000_000));
    assert_eq!(chain.nonce(20), 0);
}

#[test]
fn garbage_bytes_get_a_decode_error_not_a_panic() {
    let mut chain = standard_chain();
    let outcome = chain.block(&[vec![0xff; 40], vec![], vec![7; 70_000]]);
    for receipt in &outcome.receipts {
        assert!(
            matches!(receipt.error_kind, Some(TxError::Decode(_))),
            "{receipt:?}"
        );
    }
}

#[test]
fn a_transaction_for_another_chain_is_rejected() {
    let chain = standard_chain();
    let tx = surety_types::tx::Tx {
        chain_id: "other".into(),
        signer: account(20),
        nonce: 0,
        fee: Amount::new(10),
        msg: transfer(21, 1),
    };
    let bytes = surety_types::encoding::encode(&tx.sign(&key(20)));
    assert!(matches!(
        chain.ledger.check_stateless(&bytes),
        Err(TxError::WrongChain { .. })
    ));
}

#[test]
fn delegating_buys_shares_and_voting_power_changes_at_the_epoch_end() {
    let mut chain = standard_chain();
    chain.submit_ok(20, delegate(1, 50_000));
    assert_eq!(chain.shares(20, 1), Shares::new(50_000));
    assert_eq!(chain.operator(1).tokens, Amount::new(150_000));
    let power = |chain: &Chain| {
        surety_ledger::staking::state::active_set(chain.ledger.store())
            .iter()
            .find(|v| v.operator == operator(1))
            .map(|v| v.power)
    };
    assert_eq!(power(&chain), Some(Amount::new(100_000)));
    chain.run_to_epoch(1);
    assert_eq!(power(&chain), Some(Amount::new(150_000)));
}

#[test]
fn an_undelegation_can_be_withdrawn_only_after_the_unbonding_period() {
    let mut chain = standard_chain();
    chain.submit_ok(20, delegate(1, 50_000));
    chain.submit_ok(20, undelegate(1, 50_000));
    assert_eq!(chain.pool(Pool::Unbonding), Amount::new(50_000));
    let early = chain.submit(20, Msg::WithdrawUnbonded);
    assert_eq!(
        early.error_kind,
        Some(TxError::Staking(StakingError::NothingToWithdraw))
    );
    chain.run_to_epoch(test_params().staking.unbonding_epochs);
    let before = chain.balance(20);
    chain.submit_ok(20, Msg::WithdrawUnbonded);
    assert_eq!(chain.balance(20), Amount::new(before.get() + 50_000 - 10));
    assert_eq!(chain.pool(Pool::Unbonding), Amount::ZERO);
}

#[test]
fn a_delegator_who_unbonds_after_an_offence_is_still_slashed() {
    let mut chain = standard_chain();
    chain.submit_ok(20, delegate(1, 50_000));
    chain.submit_ok(21, delegate(1, 50_000));
    chain.submit_ok(21, undelegate(1, 50_000)); // before the offence
    let offence_height = chain.height().next();
    chain.block(&[]);
    chain.submit_ok(20, undelegate(1, 50_000)); // after the offence, before the report
    chain.submit_ok(30, double_sign_evidence(&chain, 1, offence_height));
    let apply =
        test_params().epoch_of(offence_height).get() + test_params().slashing.slash_delay_epochs;
    let slashed = run_until_slashes_apply(&mut chain, apply);
    assert_eq!(slashed.len(), 1);
    assert_eq!(
        slashed[0].1,
        test_params().slashing.equivocation,
        "x ≈ 1%: base fraction"
    );
    let entries =
        |n| surety_ledger::staking::state::unbondings_of(chain.ledger.store(), &account(n));
    assert_eq!(
        entries(20)[0].balance,
        Amount::new(47_500),
        "5% of 50,000 taken from the unbonding entry"
    );
    assert_eq!(
        entries(21)[0].balance,
        Amount::new(50_000),
        "stake that left before the offence is untouched"
    );
}

#[test]
fn redelegated_stake_stays_slashable_for_the_old_operators_offence() {
    let mut chain = standard_chain();
    chain.submit_ok(22, delegate(1, 50_000));
    let offence_height = chain.height().next();
    chain.block(&[]);
    chain.submit_ok(
        22,
        Msg::Redelegate(Redelegate {
            source: operator(1),
            destination: operator(2),
            shares: Shares::new(50_000),
        }),
    );
    assert_eq!(chain.shares(22, 2), Shares::new(50_000));
    chain.submit_ok(30, double_sign_evidence(&chain, 1, offence_height));
    let apply =
        test_params().epoch_of(offence_height).get() + test_params().slashing.slash_delay_epochs;
    run_until_slashes_apply(&mut chain, apply);
    assert_eq!(
        chain.shares(22, 2),
        Shares::new(47_500),
        "5% of the moved 50,000 burned at the new operator"
    );
    assert_eq!(chain.operator(2).tokens, Amount::new(147_500));
}

#[test]
fn a_redelegation_undelegated_at_its_destination_in_the_same_block_is_still_slashed() {
    // The escape: an offender's delegator sees the evidence coming, moves its 50,000 to
    // operator 2 and unbonds it from there in one block. Before the fix the slash found no
    // shares at operator 2 and the unbonding entry was operator 2's, so 2,500 escaped.
    let mut chain = standard_chain();
    chain.submit_ok(22, delegate(1, 50_000));
    let offence_height = chain.height().next();
    chain.block(&[]);
    let moves = [
        Msg::Redelegate(Redelegate {
            source: operator(1),
            destination: operator(2),
            shares: Shares::new(50_000),
        }),
        undelegate(2, 50_000),
    ];
    let nonce = chain.nonce(22);
    let outcome = chain.block(&[
        chain.sign_with_nonce(22, nonce, moves[0].clone()),
        chain.sign_with_nonce(22, nonce + 1, moves[1].clone()),
    ]);
    assert!(
        outcome.receipts.iter().all(|r| r.is_ok()),
        "both moves land in one block: {:?}",
        outcome.receipts
    );
    assert_eq!(chain.shares(22, 2), Shares::new(0));
    let unbonding_pool = chain.pool(Pool::Unbonding);
    chain.submit_ok(30, double_sign_evidence(&chain, 1, offence_height));
    let apply =
        test_params().epoch_of(offence_height).get() + test_params().slashing.slash_delay_epochs;
    let slashed = run_until_slashes_apply(&mut chain, apply);
    assert_eq!(slashed.len(), 1);
    let entries = surety_ledger::staking::state::unbondings_of(chain.ledger.store(), &account(22));
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].operator, operator(2));
    assert_eq!(
        entries[0].balance,
        Amount::new(47_500),
        "5% of the moved 50,000 taken from the unbonding entry at the destination"
    );
    assert_eq!(
        chain.pool(Pool::Unbonding),
        Amount::new(unbonding_pool.get() - 2_500),
        "the cut left the unbonding pool"
    );
    assert_eq!(
        chain.operator(2).tokens,
        Amount::new(100_000),
        "operator 2's own stake untouched"
    );
}

#[test]
fn a_chained_redelegation_is_refused() {
    let mut chain = standard_chain();
    chain.submit_ok(22, delegate(1, 50_000));
    chain.submit_ok(
        22,
        Msg::Redelegate(Redelegate {
            source: operator(1),
            destination: operator(2),
            shares: Shares::new(50_000),
        }),
    );
    let hop = chain.submit(
        22,
        Msg::Redelegate(Redelegate {
            source: operator(2),
            destination: operator(3),
            shares: Shares::new(10_000),
        }),
    );
    assert_eq!(
        hop.error_kind,
        Some(TxError::Staking(StakingError::ChainedRedelegation(
            operator(2)
        )))
    );
}

#[test]
fn a_double_signing_operator_is_frozen_and_jailed_at_once_and_slashed_after_the_delay() {
    let mut chain = standard_chain();
    chain.submit_ok(20, delegate(1, 50_000));
    let offence_height = chain.height();
    let reporter_before = chain.balance(30);
    chain.submit_ok(30, double_sign_evidence(&chain, 1, offence_height));
    let op = chain.operator(1);
    assert!(op.jailed && op.tombstoned && op.is_frozen());
    assert!(
        !chain.active_set().contains(&operator(1)),
        "dropped from the active set at once"
    );
    // Frozen: stake can neither leave nor join.
    let leave = chain.submit(20, undelegate(1, 10_000));
    assert_eq!(
        leave.error_kind,
        Some(TxError::Staking(StakingError::OperatorFrozen(operator(1))))
    );
    let join = chain.submit(21, delegate(1, 10_000));
    assert_eq!(
        join.error_kind,
        Some(TxError::Staking(StakingError::Tombstoned(operator(1))))
    );
    // Nothing is taken before the delay.
    let apply =
        test_params().epoch_of(offence_height).get() + test_params().slashing.slash_delay_epochs;
    let tokens_before = chain.operator(1).tokens;
    assert_eq!(tokens_before, Amount::new(150_000));
    let slashed = run_until_slashes_apply(&mut chain, apply);
    assert_eq!(
        slashed,
        vec![(
            operator(1),
            test_params().slashing.equivocation,
            Amount::new(7_500)
        )]
    );
    assert_eq!(chain.operator(1).tokens, Amount::new(142_500));
    assert!(!chain.operator(1).is_frozen());
    // Whistleblower: 10% of 7,500 (minus the fees it paid since).
    assert_eq!(
        chain.balance(30),
        Amount::new(reporter_before.get() - 10 + 750)
    );
    // Tombstoned operators never unjail.
    let unjail = chain.submit(1, Msg::Unjail);
    assert_eq!(
        unjail.error_kind,
        Some(TxError::Staking(StakingError::Tombstoned(operator(1))))
    );
    // The delegator's 50,000 shares are now worth 5% less: O(1) slash through the exchange rate.
    assert_eq!(
        chain.operator(1).tokens_for(chain.shares(20, 1)),
        Amount::new(47_500)
    );
}

#[test]
fn slashed_tokens_are_split_between_whistleblower_insurance_and_burn() {
    let mut chain = standard_chain();
    let offence_height = chain.height();
    chain.submit_ok(30, double_sign_evidence(&chain, 1, offence_height));
    let burned_before = chain.pool(Pool::Burned);
    run_until_slashes_apply(&mut chain, test_params().slashing.slash_delay_epochs);
    // 5% of 100,000 = 5,000: 10% whistleblower, 20% insurance, no harmed party, 70% burned.
    assert_eq!(chain.pool(Pool::Insurance), Amount::new(1_000));
    assert_eq!(
        chain.pool(Pool::Burned),
        Amount::new(burned_before.get() + 3_500)
    );
}

#[test]
fn duplicate_evidence_is_refused() {
    let mut chain = standard_chain();
    let offence_height = chain.height();
    chain.submit_ok(30, double_sign_evidence(&chain, 1, offence_height));
    let again = chain.submit(31, double_sign_evidence(&chain, 1, offence_height));
    assert!(
        matches!(again.error_kind, Some(TxError::Slashing(_))),
        "{again:?}"
    );
}

#[test]
fn within_one_window_only_the_largest_penalty_applies() {
    let mut chain = standard_chain();
    let offence = |kind| Offence {
        operator: operator(1),
        kind,
        height: Height::new(1),
        reporter: None,
        harmed: None,
        cap: None,
    };
    chain.block(&[]);
    chain.report(offence(FaultKind::MissedDeadline)).unwrap();
    chain.report(offence(FaultKind::WrongResult)).unwrap();
    // A smaller one after a larger one is refused outright.
    assert!(chain.report(offence(FaultKind::Downtime)).is_err());
    chain.block(&[]);
    let slashed = run_until_slashes_apply(&mut chain, test_params().slashing.slash_delay_epochs);
    assert_eq!(
        slashed,
        vec![(
            operator(1),
            test_params().slashing.wrong_result,
            Amount::new(10_000)
        )],
        "10%, not 1% + 10%"
    );
}

#[test]
fn many_operators_failing_together_lose_more_than_one_alone() {
    // Ten equal operators.
    let accounts: Vec<(u16, u128)> = (1..=10)
        .map(|n| (n, 1_000_000))
        .chain([(30, 1_000_000)])
        .collect();
    let operators: Vec<(u16, u128)> = (1..=10).map(|n| (n, 100_000)).collect();
    let fraction_when = |faulty: &[u16]| {
        let mut chain = Chain::new(test_params(), &accounts, &operators);
        let height = chain.height();
        for &n in faulty {
            chain.submit_ok(30, double_sign_evidence(&chain, n, height));
        }
        let slashed =
            run_until_slashes_apply(&mut chain, test_params().slashing.slash_delay_epochs);
        assert_eq!(slashed.len(), faulty.len());
        slashed[0].1
    };
    let alone = fraction_when(&[1]);
    let together = fraction_when(&[1, 2, 3]);
    assert_eq!(
        alone,
        Ratio::from_ppb(90_000_000).unwrap(),
        "x = 10%: 9·0.01 = 9%"
    );
    assert_eq!(
        together,
        Ratio::from_ppb(810_000_000).unwrap(),
        "x = 30%: 9·0.09 = 81%"
    );
}

#[test]
fn an_operator_split_into_many_identities_gets_the_same_correlated_fraction() {
    // One operator with 300k among 1M total, versus three operators with 100k each.
    let run = |operators: &[(u16, u128)], faulty: &[u16]| {
        let mut accounts: Vec<(u16, u128)> =
            operators.iter().map(|&(n, _)| (n, 1_000_000)).collect();
        accounts.push((30, 1_000_000));
        let mut chain = Chain::new(test_params(), &accounts, operators);
        let height = chain.height();
        for &n in faulty {
            chain.submit_ok(30, double_sign_evidence(&chain, n, height));
        }
        run_until_slashes_apply(&mut chain, test_params().slashing.slash_delay_epochs)
    };
    let whole = run(&[(1, 300_000), (9, 700_000)], &[1]);
    let split = run(
        &[(1, 100_000), (2, 100_000), (3, 100_000), (9, 700_000)],
        &[1, 2, 3],
    );
    assert_eq!(whole.len(), 1);
    assert_eq!(split.len(), 3);
    for (_, fraction, _) in &split {
        assert_eq!(*fraction, whole[0].1);
    }
    let split_total: u128 = split.iter().map(|(_, _, amount)| amount.get()).sum();
    assert_eq!(split_total, whole[0].2.get(), "same total slashed");
}

#[test]
fn rewards_follow_stake_and_commission_and_claims_are_exact() {
    let accounts = [
        (1, 1_000_000),
        (2, 1_000_000),
        (20, 1_000_000),
        (40, 1_000_000),
    ];
    let mut chain = Chain::new(test_params(), &accounts, &[(1, 100_000), (2, 300_000)]);
    chain.submit_ok(20, delegate(1, 100_000));
    chain.run_to_epoch(1); // powers now 200k and 300k
    let owed = |chain: &Chain| {
        surety_ledger::staking::accumulator::pending(
            chain.ledger.store(),
            &operator(1),
            &account(20),
        )
    };
    // One block whose only fee income is 10 transfers: 100 tokens.
    let transfers: Vec<Vec<u8>> = (0..10)
        .map(|i| chain.sign_with_nonce(40, chain.nonce(40) + i, transfer(2, 1)))
        .collect();
    let (operator_balance, owed_before) = (chain.balance(1), owed(&chain));
    chain.block(&transfers);
    // op1 earns floor(100 · 200/500) = 40: commission 10% = 4 to its account; 36 to its pool,
    // half of which (18) is the delegator's.
    assert_eq!(chain.balance(1), Amount::new(operator_balance.get() + 4));
    let owed_after = owed(&chain);
    assert_eq!(owed_after.get() - owed_before.get(), 18);
    let before = chain.balance(20);
    chain.submit_ok(
        20,
        Msg::ClaimRewards(ClaimRewards {
            operator: operator(1),
        }),
    );
    assert_eq!(
        chain.balance(20),
        Amount::new(before.get() + owed_after.get() - 10),
        "the claim pays exactly what was owed"
    );
    // What is owed now is only the claim block's own fee: floor(10 · 200/500) = 4, no
    // commission (floor 0.4), half to the delegator.
    assert_eq!(owed(&chain), Amount::new(2));
}

#[test]
fn rewards_stay_exact_per_share_across_a_slash() {
    let accounts = [
        (1, 1_000_000),
        (2, 10_000_000),
        (20, 1_000_000),
        (30, 1_000_000),
        (40, 1_000_000),
    ];
    let mut chain = Chain::new(test_params(), &accounts, &[(1, 100_000), (2, 9_000_000)]);
    chain.submit_ok(20, delegate(1, 100_000));
    let height = chain.height();
    chain
        .report(offence(1, FaultKind::Downtime, height))
        .unwrap();
    chain.block(&[]);
    run_until_slashes_apply(&mut chain, test_params().slashing.slash_delay_epochs + 1);
    assert_eq!(
        chain.operator(1).tokens,
        Amount::new(199_800),
        "0.1% slashed (downtime, which jails)"
    );
    // Unjail and earn again: both delegators still hold equal shares and must earn equally.
    chain.submit_ok(1, Msg::Unjail);
    chain.run_to_epoch(chain.epoch().get() + 1);
    assert!(chain.active_set().contains(&operator(1)));
    let settle = |chain: &mut Chain| {
        let a = chain.sign(
            20,
            Msg::ClaimRewards(ClaimRewards {
                operator: operator(1),
            }),
        );
        let b = chain.sign(
            1,
            Msg::ClaimRewards(ClaimRewards {
                operator: operator(1),
            }),
        );
        chain.block(&[a, b]);
    };
    settle(&mut chain);
    let transfers: Vec<Vec<u8>> = (0..100)
        .map(|i| chain.sign_with_nonce(40, chain.nonce(40) + i, transfer(30, 1)))
        .collect();
    chain.block(&transfers);
    let owed = |n| {
        surety_ledger::staking::accumulator::pending(
            chain.ledger.store(),
            &operator(1),
            &account(n),
        )
    };
    assert!(owed(20) > Amount::ZERO);
    assert_eq!(
        owed(20),
        owed(1),
        "equal shares earn equally after the slash"
    );
}

#[test]
fn a_validator_that_misses_too_many_blocks_is_jailed_for_downtime() {
    let mut chain = standard_chain();
    let window = test_params().slashing.downtime_window_blocks;
    for _ in 0..window {
        chain.absent = Some(vec![]);
        chain.block(&[]);
    }
    let mut reported = false;
    for _ in 0..window {
        chain.absent = Some(vec![operator(1)]);
        let outcome = chain.block(&[]);
        if outcome.events.iter().any(|e| {
            matches!(
                e,
                Event::Slashing(surety_ledger::slashing::SlashingEvent::OffenceReported {
                    kind: FaultKind::Downtime,
                    ..
                })
            )
        }) {
            reported = true;
            break;
        }
    }
    assert!(reported, "downtime reported within a window of misses");
    assert!(chain.operator(1).jailed && !chain.operator(1).tombstoned);
    assert!(!chain.active_set().contains(&operator(1)));
    assert!(
        chain.operator(2).jailed.eq(&false),
        "validators that signed are untouched"
    );
}

#[test]
fn a_jailed_operator_may_unjail_after_its_slash_and_jail_time() {
    let mut chain = standard_chain();
    chain
        .report(offence(1, FaultKind::Downtime, Height::new(0)))
        .unwrap();
    chain.block(&[]);
    chain.run_to_epoch(test_params().slashing.jail_epochs);
    let frozen = chain.submit(1, Msg::Unjail);
    assert!(
        matches!(
            frozen.error_kind,
            Some(TxError::Staking(StakingError::OperatorFrozen(_)))
        ),
        "{frozen:?}"
    );
    run_until_slashes_apply(&mut chain, test_params().slashing.slash_delay_epochs);
    chain.submit_ok(1, Msg::Unjail);
    chain.run_to_epoch(chain.epoch().get() + 1);
    assert!(chain.active_set().contains(&operator(1)));
}

#[test]
fn genesis_reads_from_toml_and_json_and_refuses_bad_files() {
    let genesis = genesis(test_params(), &[(1, 1_000_000)], &[(1, 100_000)]);
    let from_json = Genesis::from_json(&genesis.to_json()).unwrap();
    assert_eq!(from_json, genesis);
    let toml_text = toml::to_string(&genesis).unwrap();
    assert_eq!(Genesis::from_toml(&toml_text).unwrap(), genesis);
    assert!(Genesis::from_json("{").is_err());
    assert!(Genesis::from_json(&genesis.to_json().replace("\"chain_id\"", "\"chain\"")).is_err());
    let mut broke = genesis.clone();
    broke.operators[0].self_bond = Amount::new(5_000_000);
    assert!(
        Ledger::from_genesis(&broke).is_err(),
        "self-bond above the balance"
    );
    let mut twice = genesis.clone();
    twice.accounts.push(twice.accounts[0].clone());
    assert!(Ledger::from_genesis(&twice).is_err());
}

#[test]
fn an_account_balance_is_proven_against_the_state_root() {
    let mut chain = standard_chain();
    chain.submit_ok(20, transfer(21, 1));
    let root = chain.ledger.state_root();
    let key = surety_ledger::bank::state::account_key(&account(21));
    let (value, proof) = chain.ledger.prove(&key);
    let value = value.expect("account exists");
    assert_eq!(proof.verify(&root, &key, Some(&value)), Ok(()));
    let absent = surety_ledger::bank::state::account_key(&account(999));
    let (none, exclusion) = chain.ledger.prove(&absent);
    assert!(none.is_none());
    assert_eq!(exclusion.verify(&root, &absent, None), Ok(()));
    assert!(exclusion.verify(&root, &absent, Some(&value)).is_err());
}

#[test]
fn blocks_with_a_wrong_height_or_epoch_are_refused_whole() {
    let mut chain = standard_chain();
    let root = chain.ledger.state_root();
    let mut ctx = chain.context();
    ctx.height = Height::new(5);
    assert!(chain.ledger.apply_block::<Vec<u8>>(&ctx, &[]).is_err());
    let mut ctx = chain.context();
    ctx.epoch = Epoch::new(3);
    assert!(chain.ledger.apply_block::<Vec<u8>>(&ctx, &[]).is_err());
    assert_eq!(chain.ledger.state_root(), root);
    assert_eq!(chain.height(), Height::new(0));
}

#[test]
fn a_ledger_restored_from_its_entries_has_the_same_root_and_goes_on_identically() {
    let mut chain = standard_chain();
    chain.submit_ok(20, delegate(1, 50_000));
    chain.submit_ok(20, undelegate(1, 10_000));
    chain.run_blocks(7);
    let entries: Vec<(Vec<u8>, Vec<u8>)> = chain
        .ledger
        .store()
        .committed_entries()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let restored = Ledger::restore(
        entries.clone(),
        chain.height(),
        chain.ledger.timestamp_ms(),
        chain.ledger.state_root(),
    )
    .unwrap();
    assert_eq!(restored.state_root(), chain.ledger.state_root());
    assert_eq!(restored.params(), chain.ledger.params());
    let mut twin = Chain {
        ledger: restored,
        time_ms: chain.time_ms,
        absent: None,
        off_schedule: false,
    };
    let tx = chain.sign(21, transfer(22, 5));
    let a = chain.block(std::slice::from_ref(&tx));
    let b = twin.block(&[tx]);
    assert_eq!(a.state_root, b.state_root);
    // Tampered state is refused.
    let mut tampered = entries;
    tampered[0].1.push(0);
    assert!(Ledger::restore(tampered, Height::new(8), 0, a.state_root).is_err());
}

/// A validator already slashed for a larger fault in the window that then misses blocks: the
/// downtime report is "already penalised". Before hook items were isolated, that error failed
/// the begin-block hook, so no block could ever apply again.
#[test]
fn downtime_after_a_larger_fault_in_the_window_does_not_halt_the_chain() {
    let mut chain = standard_chain();
    let window = test_params().slashing.downtime_window_blocks;
    for _ in 0..window {
        chain.absent = Some(vec![]);
        chain.block(&[]);
    }
    let height = chain.height();
    chain
        .report(offence(1, FaultKind::WrongResult, height))
        .expect("the larger fault is reported");
    let start = chain.height();
    for _ in 0..window + 2 {
        chain.absent = Some(vec![operator(1)]);
        // `block` expects every block to apply.
        chain.block(&[]);
    }
    assert_eq!(chain.height().get(), start.get() + window + 2);
    assert!(chain.operator(1).jailed);
}

/// The review's griefing: missed deadlines used the correlated rule, so 30% of stake late
/// together (a spam burst, a censoring proposer) lost most of its pools and was jailed out of
/// consensus. A liveness fault now costs its small base fraction, whoever else was late, and
/// keeps the validator in the set.
#[test]
fn two_thirds_of_stake_missing_deadlines_together_lose_only_the_liveness_fraction() {
    let accounts: Vec<(u16, u128)> = (1..=3).map(|n| (n, 1_000_000)).collect();
    let mut chain = Chain::new(
        test_params(),
        &accounts,
        &[(1, 100_000), (2, 100_000), (3, 100_000)],
    );
    chain.block(&[]);
    let height = chain.height();
    for n in [1, 2] {
        chain
            .report(offence(n, FaultKind::MissedDeadline, height))
            .unwrap();
    }
    chain.block(&[]);
    let mut slashed =
        run_until_slashes_apply(&mut chain, test_params().slashing.slash_delay_epochs);
    slashed.sort();
    let base = test_params().slashing.missed_deadline;
    let mut expected = vec![
        (operator(1), base, Amount::new(1_000)),
        (operator(2), base, Amount::new(1_000)),
    ];
    expected.sort();
    assert_eq!(
        slashed, expected,
        "1% each, not the correlated 100% that 2/3 of stake would cost a safety fault"
    );
    let set = chain.active_set();
    assert!(
        [1, 2, 3].iter().all(|n| set.contains(&operator(*n))),
        "nobody left consensus: {set:?}"
    );
}

/// A liveness fault escalates only with the operator's own repetition: again in the next
/// window, it costs twice the base.
#[test]
fn a_repeated_liveness_fault_costs_more_each_window() {
    let mut chain = standard_chain();
    let params = test_params();
    let report = |chain: &mut Chain| {
        let height = chain.height();
        chain
            .report(offence(1, FaultKind::MissedDeadline, height))
            .unwrap();
        chain.block(&[]);
    };
    report(&mut chain);
    let first = run_until_slashes_apply(&mut chain, params.slashing.slash_delay_epochs);
    chain.run_to_epoch(chain.epoch().get() + params.slashing.window_epochs);
    report(&mut chain);
    let apply = chain.epoch().get() + params.slashing.slash_delay_epochs + 1;
    let second = run_until_slashes_apply(&mut chain, apply);
    let base = params.slashing.missed_deadline;
    assert_eq!(first, vec![(operator(1), base, Amount::new(1_000))]);
    let twice = Ratio::from_ppb(base.ppb() * 2).unwrap();
    assert_eq!(
        second,
        vec![(operator(1), twice, Amount::new(1_980))],
        "2% of 99,000"
    );
}

/// The review's boundary split: two halves of a coordinated equivocation one epoch apart but in
/// two fixed windows each counted as a minority (1/6 of stake: 9·(1/6)² = 25%). With a sliding
/// window each counts the other: 1/3 of stake together loses everything.
#[test]
fn a_coordinated_fault_split_across_a_window_boundary_is_correlated_in_full() {
    let accounts: Vec<(u16, u128)> = (1..=3)
        .map(|n| (n, 1_000_000))
        .chain([(30, 1_000_000)])
        .collect();
    let mut chain = Chain::new(
        test_params(),
        &accounts,
        &[(1, 100_000), (2, 100_000), (3, 400_000)],
    );
    let params = test_params();
    let window_end = params.slashing.window_epochs * params.staking.epoch_blocks;
    // The last block of window 0, then the first of window 1.
    chain.run_blocks(window_end + 1);
    chain.submit_ok(30, double_sign_evidence(&chain, 1, Height::new(window_end)));
    chain.submit_ok(
        30,
        double_sign_evidence(&chain, 2, Height::new(window_end + 1)),
    );
    let apply = params.slashing.slash_delay_epochs + params.slashing.window_epochs + 1;
    let mut slashed = run_until_slashes_apply(&mut chain, apply);
    slashed.sort();
    let mut expected = vec![
        (operator(1), Ratio::ONE, Amount::new(100_000)),
        (operator(2), Ratio::ONE, Amount::new(100_000)),
    ];
    expected.sort();
    assert_eq!(
        slashed, expected,
        "two sixths together are a third: 100% each"
    );
}

/// The review's free in-flight cheats: within a window a second proven wrong result was
/// "already penalised", so every result cheated before the first verdict cost one slash. Now
/// each proven wrong result adds its fraction.
#[test]
fn every_proven_wrong_result_in_a_window_adds_to_the_slash() {
    let mut chain = standard_chain();
    chain.block(&[]);
    for _ in 0..3 {
        let height = chain.height();
        chain
            .report(offence(1, FaultKind::WrongResult, height))
            .unwrap();
        chain.block(&[]);
    }
    let slashed = run_until_slashes_apply(&mut chain, test_params().slashing.slash_delay_epochs);
    let thrice = Ratio::from_ppb(test_params().slashing.wrong_result.ppb() * 3).unwrap();
    assert_eq!(
        slashed,
        vec![(operator(1), thrice, Amount::new(30_000))],
        "3 × 10% of 100,000"
    );
}
