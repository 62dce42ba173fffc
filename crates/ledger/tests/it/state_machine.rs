//! Reference-model state machine test (STYLE §8): random sequences of bond, delegate,
//! undelegate, redelegate, transfer, misbehave, next-epoch, claim, withdraw and unjail steps run
//! against the ledger and against a small independent model of the staking pools. After every
//! block the ledger's own invariants are checked (token conservation, shares/tokens agreement,
//! rewards coverage, slash ≤ stake at risk, frozen ⇔ slash queued), and the model checks:
//! - every delegation's shares equal the model's, computed from its own pool arithmetic;
//! - a frozen operator's stake does not leave: undelegations and redelegations from it fail,
//!   and its unbonding entries are not paid out;
//! - nonces advance exactly once per charged transaction.

use crate::common::*;
use proptest::prelude::*;
use std::collections::BTreeMap;
use surety_ledger::bank::Transfer;
use surety_ledger::rewards::ClaimRewards;
use surety_ledger::slashing::{FaultKind, Offence};
use surety_ledger::staking::{self, Delegate, Redelegate, StakingError, Undelegate};
use surety_ledger::tx::{Msg, TxError};
use surety_ledger::Event;
use surety_types::{Amount, Ratio, Shares};

const OPERATORS: [u16; 4] = [1, 2, 3, 4];
const DELEGATORS: [u16; 5] = [20, 21, 22, 23, 24];

#[derive(Clone, Debug)]
enum Step {
    Transfer {
        from: u16,
        to: u16,
        amount: u128,
    },
    Delegate {
        delegator: u16,
        operator: u16,
        amount: u128,
    },
    /// Undelegate `percent` of the delegation's shares.
    Undelegate {
        delegator: u16,
        operator: u16,
        percent: u8,
    },
    Redelegate {
        delegator: u16,
        source: u16,
        destination: u16,
        percent: u8,
    },
    Misbehave {
        operator: u16,
        kind: FaultKind,
    },
    NextEpoch,
    Claim {
        delegator: u16,
        operator: u16,
    },
    Withdraw {
        delegator: u16,
    },
    Unjail {
        operator: u16,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let operator = prop::sample::select(OPERATORS.to_vec());
    let delegator = prop::sample::select(DELEGATORS.to_vec());
    let kind = prop::sample::select(vec![
        FaultKind::Equivocation,
        FaultKind::WrongResult,
        FaultKind::MissedDeadline,
        FaultKind::Downtime,
    ]);
    prop_oneof![
        3 => (delegator.clone(), delegator.clone(), 1u128..50_000).prop_map(|(from, to, amount)| Step::Transfer { from, to, amount }),
        4 => (delegator.clone(), operator.clone(), 1u128..200_000).prop_map(|(delegator, operator, amount)| Step::Delegate { delegator, operator, amount }),
        3 => (delegator.clone(), operator.clone(), 1u8..=100).prop_map(|(delegator, operator, percent)| Step::Undelegate { delegator, operator, percent }),
        2 => (delegator.clone(), operator.clone(), operator.clone(), 1u8..=100)
            .prop_map(|(delegator, source, destination, percent)| Step::Redelegate { delegator, source, destination, percent }),
        1 => (operator.clone(), kind).prop_map(|(operator, kind)| Step::Misbehave { operator, kind }),
        3 => Just(Step::NextEpoch),
        2 => (delegator.clone(), operator.clone()).prop_map(|(delegator, operator)| Step::Claim { delegator, operator }),
        1 => delegator.prop_map(|delegator| Step::Withdraw { delegator }),
        1 => operator.prop_map(|operator| Step::Unjail { operator }),
    ]
}

/// The model: each operator's pool (tokens, shares) and each delegation's shares, kept with its
/// own arithmetic. Slash fractions come from the ledger's Slashed events (their values are
/// pinned by the scenario and unit tests); the model applies them to its own pools.
#[derive(Default)]
struct Model {
    pools: BTreeMap<u16, (u128, u128)>,
    shares: BTreeMap<(u16, u16), u128>,
    nonces: BTreeMap<u16, u64>,
}

impl Model {
    fn tokens_for(&self, operator: u16, shares: u128) -> u128 {
        let (tokens, total) = self.pools[&operator];
        (shares * tokens).checked_div(total).unwrap_or(0)
    }
}

fn index_of(operator_id: &surety_types::OperatorId) -> u16 {
    *OPERATORS
        .iter()
        .find(|&&n| operator(n) == *operator_id)
        .expect("known operator")
}

fn run(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let mut params = test_params();
    params.rewards.inflation_per_year = Ratio::from_percent(20).unwrap();
    let mut accounts: Vec<(u16, u128)> = OPERATORS.iter().map(|&n| (n, 1_000_000)).collect();
    accounts.extend(DELEGATORS.iter().map(|&n| (n, 1_000_000)));
    accounts.push((30, 1_000_000));
    let operators: Vec<(u16, u128)> = OPERATORS
        .iter()
        .map(|&n| (n, 100_000 * n as u128))
        .collect();
    let mut chain = Chain::new(params.clone(), &accounts, &operators);
    let mut model = Model::default();
    for &(n, bond) in &operators {
        model.pools.insert(n, (bond, bond));
        model.shares.insert((n, n), bond);
    }

    for step in steps {
        let signer_and_msg: Option<(u16, Msg)> = match &step {
            Step::Transfer { from, to, amount } if from != to => Some((
                *from,
                Msg::Transfer(Transfer {
                    to: account(*to),
                    amount: Amount::new(*amount),
                }),
            )),
            Step::Transfer { .. } => None,
            Step::Delegate {
                delegator,
                operator: o,
                amount,
            } => Some((
                *delegator,
                Msg::Delegate(Delegate {
                    operator: operator(*o),
                    amount: Amount::new(*amount),
                }),
            )),
            Step::Undelegate {
                delegator,
                operator: o,
                percent,
            } => {
                let held = model.shares.get(&(*delegator, *o)).copied().unwrap_or(0);
                let shares = (held * *percent as u128 / 100).max(1);
                Some((
                    *delegator,
                    Msg::Undelegate(Undelegate {
                        operator: operator(*o),
                        shares: Shares::new(shares),
                    }),
                ))
            }
            Step::Redelegate {
                delegator,
                source,
                destination,
                percent,
            } => {
                let held = model
                    .shares
                    .get(&(*delegator, *source))
                    .copied()
                    .unwrap_or(0);
                let shares = (held * *percent as u128 / 100).max(1);
                Some((
                    *delegator,
                    Msg::Redelegate(Redelegate {
                        source: operator(*source),
                        destination: operator(*destination),
                        shares: Shares::new(shares),
                    }),
                ))
            }
            Step::Claim {
                delegator,
                operator: o,
            } => Some((
                *delegator,
                Msg::ClaimRewards(ClaimRewards {
                    operator: operator(*o),
                }),
            )),
            Step::Withdraw { delegator } => Some((*delegator, Msg::WithdrawUnbonded)),
            Step::Unjail { operator: o } => Some((*o, Msg::Unjail)),
            Step::Misbehave { operator: o, kind } => {
                let offence = Offence {
                    operator: operator(*o),
                    kind: *kind,
                    height: chain.height(),
                    reporter: Some(account(30)),
                    harmed: None,
                    cap: None,
                };
                // May be refused (already penalised more in this window); either way the
                // invariants must hold after the next block.
                let _ = chain.report(offence);
                None
            }
            Step::NextEpoch => {
                let target = chain.epoch().get() + 1;
                while chain.epoch().get() < target {
                    let outcome = chain.block(&[]);
                    apply_slashes(&mut model, &chain, &outcome.events)?;
                }
                None
            }
        };
        let Some((signer, msg)) = signer_and_msg else {
            if matches!(step, Step::Misbehave { .. }) {
                let outcome = chain.block(&[]);
                apply_slashes(&mut model, &chain, &outcome.events)?;
            }
            continue;
        };

        // What the model expects, from state before the step.
        let frozen = |n: u16| chain.operator(n).is_frozen();
        let frozen_entries_before: Vec<_> =
            staking::state::unbondings_of(chain.ledger.store(), &account(signer))
                .into_iter()
                .filter(|e| {
                    staking::state::operator(chain.ledger.store(), &e.operator)
                        .is_some_and(|o| o.is_frozen())
                })
                .collect();
        let leaving_from = match &msg {
            Msg::Undelegate(u) => Some(index_of(&u.operator)),
            Msg::Redelegate(r) if r.source != r.destination => Some(index_of(&r.source)),
            _ => None,
        };
        let frozen_before = leaving_from.is_some_and(frozen);
        let outcome = chain.block(&[chain.sign(signer, msg.clone())]);
        let receipt = &outcome.receipts[0];
        if receipt.charged {
            *model.nonces.entry(signer).or_default() += 1;
        }
        prop_assert_eq!(
            chain.nonce(signer),
            model.nonces.get(&signer).copied().unwrap_or(0)
        );

        match (&msg, receipt.is_ok()) {
            (Msg::Delegate(d), true) => {
                let o = index_of(&d.operator);
                let (tokens, total) = model.pools[&o];
                let shares = if total == 0 {
                    d.amount.get()
                } else {
                    d.amount.get() * total / tokens
                };
                model
                    .pools
                    .insert(o, (tokens + d.amount.get(), total + shares));
                *model.shares.entry((signer, o)).or_default() += shares;
            }
            (Msg::Undelegate(u), true) => {
                let o = index_of(&u.operator);
                {
                    let worth = model.tokens_for(o, u.shares.get());
                    let (tokens, total) = model.pools[&o];
                    model
                        .pools
                        .insert(o, (tokens - worth, total - u.shares.get()));
                    *model.shares.get_mut(&(signer, o)).expect("held") -= u.shares.get();
                }
            }
            (Msg::Redelegate(r), true) => {
                let (s, d) = (index_of(&r.source), index_of(&r.destination));
                let worth = model.tokens_for(s, r.shares.get());
                let (tokens, total) = model.pools[&s];
                model
                    .pools
                    .insert(s, (tokens - worth, total - r.shares.get()));
                *model.shares.get_mut(&(signer, s)).expect("held") -= r.shares.get();
                let (tokens, total) = model.pools[&d];
                let shares = if total == 0 {
                    worth
                } else {
                    worth * total / tokens
                };
                model.pools.insert(d, (tokens + worth, total + shares));
                *model.shares.entry((signer, d)).or_default() += shares;
            }
            (Msg::WithdrawUnbonded, _) => {
                // Entries of frozen operators are never paid.
                let after = staking::state::unbondings_of(chain.ledger.store(), &account(signer));
                for entry in &frozen_entries_before {
                    prop_assert!(
                        after.contains(entry),
                        "a frozen operator's unbonding entry was paid out"
                    );
                }
            }
            _ => {}
        }
        if let Msg::Redelegate(r) = &msg {
            if r.source == r.destination {
                prop_assert_eq!(
                    receipt.error_kind.clone(),
                    Some(TxError::Staking(StakingError::SameOperator))
                );
            }
        }
        // Frozen stake cannot leave: the ledger refuses with the typed error.
        if frozen_before {
            let source = operator(leaving_from.expect("set with frozen_before"));
            prop_assert_eq!(
                receipt.error_kind.clone(),
                Some(TxError::Staking(StakingError::OperatorFrozen(source)))
            );
        }

        // End-of-block slashes come after the transaction.
        apply_slashes(&mut model, &chain, &outcome.events)?;

        // The model and the ledger agree on every pool and delegation.
        for &o in &OPERATORS {
            let ledger_operator = chain.operator(o);
            prop_assert_eq!(
                ledger_operator.shares.get(),
                model.pools[&o].1,
                "pool shares of operator {}",
                o
            );
            prop_assert_eq!(
                ledger_operator.tokens.get(),
                model.pools[&o].0,
                "pool tokens of operator {}",
                o
            );
            for &d in DELEGATORS.iter().chain(OPERATORS.iter()) {
                let expected = model.shares.get(&(d, o)).copied().unwrap_or(0);
                prop_assert_eq!(
                    chain.shares(d, o).get(),
                    expected,
                    "shares of {} in {}",
                    d,
                    o
                );
            }
        }
    }
    Ok(())
}

/// At a slash, check what the model can know independently and then adopt the ledger's figures:
/// the slashed pool lost at most `fraction` of its tokens and kept its shares (a slash is O(1)
/// through the exchange rate); other pools can only lose tokens and shares together (burned
/// redelegated stake) and never gain. Exact slash amounts are pinned by the scenario tests.
fn apply_slashes(model: &mut Model, chain: &Chain, events: &[Event]) -> Result<(), TestCaseError> {
    let slashed: Vec<(u16, Ratio)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Slashing(surety_ledger::slashing::SlashingEvent::Slashed {
                operator: id,
                fraction,
                ..
            }) => Some((index_of(id), *fraction)),
            _ => None,
        })
        .collect();
    if slashed.is_empty() {
        return Ok(());
    }
    for &o in &OPERATORS {
        let (tokens, shares) = model.pools[&o];
        let now = chain.operator(o);
        prop_assert!(now.tokens.get() <= tokens, "a slash never adds tokens");
        prop_assert!(now.shares.get() <= shares, "a slash never adds shares");
        if let Some((_, fraction)) = slashed.iter().find(|(n, _)| *n == o) {
            let cap = fraction.mul_ceil(Amount::new(tokens)).get();
            prop_assert!(
                tokens - now.tokens.get() <= cap + model_redelegation_slack(chain, o),
                "slash above its fraction"
            );
        }
        model.pools.insert(o, (now.tokens.get(), now.shares.get()));
        for &d in DELEGATORS.iter().chain(OPERATORS.iter()) {
            let held = chain.shares(d, o).get();
            let before = model.shares.get(&(d, o)).copied().unwrap_or(0);
            prop_assert!(held <= before, "a slash never adds shares to a delegation");
            model.shares.insert((d, o), held);
        }
    }
    Ok(())
}

/// Tokens that redelegation burns can take from a pool besides its own slash.
fn model_redelegation_slack(chain: &Chain, destination: u16) -> u128 {
    staking::state::all_redelegations(chain.ledger.store())
        .iter()
        .filter(|r| r.destination == operator(destination))
        .map(|r| r.initial.get())
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, max_shrink_iters: 200, ..ProptestConfig::default() })]
    #[test]
    fn random_histories_keep_every_invariant_and_agree_with_the_model(steps in prop::collection::vec(step(), 1..60)) {
        run(steps)?;
    }
}
