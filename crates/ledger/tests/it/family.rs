//! Family consent (docs/ledger.md, "Family consent"): an operator joins a family only with the
//! head's signature for this member on this chain. Without it a refused declaration changes
//! nothing but the fee and nonce. The attack it stops (a cheat joining an honest family to
//! drop it from its own auditors) is played in `market::blind`.

use crate::common::*;
use surety_ledger::genesis::GenesisError;
use surety_ledger::staking::{
    sign_family_consent, EditOperator, OperatorMetadata, RegisterOperator, StakingError,
};
use surety_ledger::tx::{Msg, TxError};
use surety_types::crypto::Signature;
use surety_types::{AccountId, Amount, Epoch, Ratio};

/// The family's head (an operator), a member operator, and account 5 funded to register.
fn family_chain() -> Chain {
    Chain::new(
        test_params(),
        &[
            (1, 1_000_000),
            (2, 1_000_000),
            (5, 1_000_000),
            (9, 1_000_000),
        ],
        &[(1, 100_000), (2, 100_000), (9, 100_000)],
    )
}

const HEAD: u16 = 1;
const MEMBER: u16 = 2;

/// The consents of these tests admit their member through epoch 100.
const UNTIL: Epoch = Epoch::new(100);

fn declaring(head: Option<AccountId>, consent: Option<Signature>) -> OperatorMetadata {
    OperatorMetadata {
        moniker: "member".into(),
        family: head,
        family_consent: consent,
        family_until: consent.map(|_| UNTIL),
        ..Default::default()
    }
}

/// Operator `n` declares no family, and keeps no consent.
fn assert_in_no_family(chain: &Chain, n: u16) {
    let metadata = chain.operator(n).metadata;
    assert_eq!(
        (
            metadata.family,
            metadata.family_consent,
            metadata.family_until
        ),
        (None, None, None)
    );
}

fn edit(metadata: OperatorMetadata) -> Msg {
    Msg::EditOperator(EditOperator {
        commission: None,
        metadata: Some(metadata),
    })
}

fn register(n: u16, metadata: OperatorMetadata) -> Msg {
    Msg::RegisterOperator(RegisterOperator {
        consensus_key: consensus_key(n).verification_key(),
        commission: Ratio::from_percent(10).unwrap(),
        max_commission_change: Ratio::from_percent(5).unwrap(),
        metadata,
        self_bond: Amount::new(10_000),
    })
}

/// Every consent `member` must not get in by, for a family headed by `HEAD`: none, the head's
/// for another member, the head's for another chain, and one by someone other than the head.
fn bad_consents(member: u16) -> Vec<(&'static str, Option<Signature>, StakingError)> {
    let head = account(HEAD);
    let missing = StakingError::FamilyConsentMissing { head };
    let invalid = StakingError::FamilyConsentInvalid { head };
    vec![
        ("no consent", None, missing),
        (
            "another member's consent",
            Some(sign_family_consent(&key(HEAD), CHAIN, &account(9), UNTIL)),
            invalid.clone(),
        ),
        (
            "another chain's consent",
            Some(sign_family_consent(
                &key(HEAD),
                "surety-other",
                &account(member),
                UNTIL,
            )),
            invalid.clone(),
        ),
        (
            "a consent by someone other than the head",
            Some(sign_family_consent(
                &key(member),
                CHAIN,
                &account(member),
                UNTIL,
            )),
            invalid,
        ),
    ]
}

#[test]
fn an_operator_with_its_heads_consent_joins_the_family_by_an_edit() {
    let mut chain = family_chain();
    let consent = sign_family_consent(&key(HEAD), CHAIN, &account(MEMBER), UNTIL);
    chain.submit_ok(MEMBER, edit(declaring(Some(account(HEAD)), Some(consent))));
    let metadata = chain.operator(MEMBER).metadata;
    assert_eq!(metadata.family, Some(account(HEAD)));
    assert_eq!(metadata.family_consent, Some(consent));
}

#[test]
fn an_operator_with_its_heads_consent_joins_the_family_at_registration() {
    let mut chain = family_chain();
    let consent = sign_family_consent(&key(HEAD), CHAIN, &account(5), UNTIL);
    chain.submit_ok(
        5,
        register(5, declaring(Some(account(HEAD)), Some(consent))),
    );
    assert_eq!(chain.operator(5).metadata.family, Some(account(HEAD)));
}

#[test]
fn a_head_that_runs_no_operator_can_consent() {
    let mut chain = family_chain();
    let consent = sign_family_consent(&key(23), CHAIN, &account(MEMBER), UNTIL);
    chain.submit_ok(MEMBER, edit(declaring(Some(account(23)), Some(consent))));
    assert_eq!(chain.operator(MEMBER).metadata.family, Some(account(23)));
}

#[test]
fn a_family_edit_without_the_heads_consent_for_this_member_and_chain_is_refused_and_changes_nothing(
) {
    let mut chain = family_chain();
    for (case, consent, error) in bad_consents(MEMBER) {
        let before = chain.operator(MEMBER);
        let receipt = chain.submit(MEMBER, edit(declaring(Some(account(HEAD)), consent)));
        assert_eq!(receipt.error_kind, Some(TxError::Staking(error)), "{case}");
        assert!(
            receipt.charged,
            "{case}: a refused message still pays its fee"
        );
        assert_eq!(
            chain.operator(MEMBER),
            before,
            "{case}: the record is unchanged"
        );
    }
}

#[test]
fn a_registration_naming_a_family_without_the_heads_consent_is_refused_and_registers_nothing() {
    let mut chain = family_chain();
    let balance = chain.balance(5);
    for (case, consent, error) in bad_consents(5) {
        let receipt = chain.submit(5, register(5, declaring(Some(account(HEAD)), consent)));
        assert_eq!(receipt.error_kind, Some(TxError::Staking(error)), "{case}");
        assert!(
            surety_ledger::staking::state::operator(chain.ledger.store(), &operator(5)).is_none(),
            "{case}: no operator registered"
        );
    }
    // Only the four fees (10 each) left the account: the self-bond was never taken.
    assert_eq!(chain.balance(5), Amount::new(balance.get() - 4 * 10));
}

#[test]
fn an_operator_names_itself_its_familys_head_without_consent_and_a_stray_consent_is_refused() {
    let mut chain = family_chain();
    chain.submit_ok(HEAD, edit(declaring(Some(account(HEAD)), None)));
    assert_eq!(chain.operator(HEAD).metadata.family, Some(account(HEAD)));
    let own = sign_family_consent(&key(HEAD), CHAIN, &account(HEAD), UNTIL);
    let stray = sign_family_consent(&key(HEAD), CHAIN, &account(MEMBER), UNTIL);
    for metadata in [
        declaring(Some(account(HEAD)), Some(own)),
        declaring(None, Some(stray)),
    ] {
        let before = chain.operator(HEAD);
        let receipt = chain.submit(HEAD, edit(metadata));
        assert_eq!(
            receipt.error_kind,
            Some(TxError::Staking(StakingError::FamilyConsentWithoutFamily))
        );
        assert_eq!(chain.operator(HEAD), before);
    }
}

#[test]
fn a_member_leaves_its_family_by_an_edit_without_asking_the_head() {
    let mut chain = family_chain();
    let consent = sign_family_consent(&key(HEAD), CHAIN, &account(MEMBER), UNTIL);
    chain.submit_ok(MEMBER, edit(declaring(Some(account(HEAD)), Some(consent))));
    chain.submit_ok(MEMBER, edit(declaring(None, None)));
    assert_in_no_family(&chain, MEMBER);
}

#[test]
fn a_genesis_operator_naming_a_family_without_the_heads_consent_is_refused() {
    let mut genesis = genesis(
        test_params(),
        &[(1, 1_000_000), (2, 1_000_000)],
        &[(1, 100_000), (2, 100_000)],
    );
    genesis.operators[1].metadata.family = Some(account(HEAD));
    assert!(matches!(
        surety_ledger::Ledger::from_genesis(&genesis),
        Err(GenesisError::Operator { operator, .. }) if operator == account(MEMBER)
    ));
    genesis.operators[1].metadata.family_consent = Some(sign_family_consent(
        &key(HEAD),
        CHAIN,
        &account(MEMBER),
        UNTIL,
    ));
    assert!(
        surety_ledger::Ledger::from_genesis(&genesis).is_err(),
        "half a consent"
    );
    genesis.operators[1].metadata.family_until = Some(UNTIL);
    assert!(surety_ledger::Ledger::from_genesis(&genesis).is_ok());
}

#[test]
fn a_consent_whose_last_epoch_is_past_is_refused_so_a_member_cannot_replay_it() {
    let mut chain = family_chain();
    // The head admitted the member through epoch 1 only.
    let until = Epoch::new(1);
    let consent = sign_family_consent(&key(HEAD), CHAIN, &account(MEMBER), until);
    let mut metadata = declaring(Some(account(HEAD)), Some(consent));
    metadata.family_until = Some(until);
    chain.submit_ok(MEMBER, edit(metadata.clone()));
    chain.submit_ok(MEMBER, edit(declaring(None, None)));
    // Later, once epoch 1 is over, the old consent does not let it back in.
    chain.run_to_epoch(2);
    let before = chain.operator(MEMBER);
    let receipt = chain.submit(MEMBER, edit(metadata));
    assert_eq!(
        receipt.error_kind,
        Some(TxError::Staking(StakingError::FamilyConsentExpired {
            head: account(HEAD),
            until
        }))
    );
    assert_eq!(chain.operator(MEMBER), before);
}

#[test]
fn a_membership_lapses_at_the_end_of_its_consents_last_epoch_unless_renewed() {
    let mut chain = family_chain();
    let until = Epoch::new(1);
    let join = |chain: &mut Chain, n: u16, until: Epoch| {
        let consent = sign_family_consent(&key(HEAD), CHAIN, &account(n), until);
        let mut metadata = declaring(Some(account(HEAD)), Some(consent));
        metadata.family_until = Some(until);
        chain.submit_ok(n, edit(metadata));
    };
    join(&mut chain, MEMBER, until);
    join(&mut chain, 9, until);
    // Member 9 renews before its consent runs out; MEMBER does not (its head stopped renewing).
    chain.run_to_epoch(1);
    join(&mut chain, 9, Epoch::new(3));
    let mut lapsed = Vec::new();
    while chain.epoch() < Epoch::new(2) {
        let outcome = chain.block(&[]);
        for event in &outcome.events {
            if let surety_ledger::Event::Staking(
                surety_ledger::staking::StakingEvent::FamilyLapsed { operator, head },
            ) = event
            {
                lapsed.push((outcome.height, *operator, *head));
            }
        }
    }
    // At the end of epoch 1 (heights 7..=12 at 6-block epochs): MEMBER is its own owner again,
    // from the next epoch's audit pools on.
    assert_eq!(
        lapsed,
        vec![(
            surety_types::Height::new(12),
            operator(MEMBER),
            account(HEAD)
        )]
    );
    assert_in_no_family(&chain, MEMBER);
    assert_eq!(chain.operator(9).metadata.family, Some(account(HEAD)));
    assert_eq!(chain.operator(9).metadata.family_until, Some(Epoch::new(3)));
}
