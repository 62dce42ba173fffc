//! The simulated world at genesis: operators with keys, stakes drawn from a Pareto
//! distribution and a strategy each; clients; the models registered, uploaded and each served
//! by its service's operators with their whole stake, all through the ledger's own genesis
//! code paths.

use crate::compute;
use crate::config::Config;
use crate::rng::Rng;
use crate::sortition::VrfKey;
use crate::strategy::Strategy;
use std::collections::BTreeMap;
use surety_infer::Model;
use surety_ledger::genesis::{
    Genesis, GenesisAccount, GenesisAllocation, GenesisModel, GenesisOperator,
};
use surety_ledger::models::{FileKind, Lineage, Publication};
use surety_ledger::staking::OperatorMetadata;
use surety_ledger::Ledger;
use surety_types::{AccountId, Amount, Hash, ModelId, OperatorId, Ratio, SigningKey};

/// The simulated chain's id.
pub const CHAIN: &str = "surety-sim";
/// Clients submitting jobs (spread so no account's nonce sequence gets long in one block).
pub const CLIENTS: usize = 8;
/// Spare tokens on every operator's account beside its stake: fees and challenge bonds.
pub const OPERATOR_FLOAT: u128 = 50_000_000;
/// Balance of each client.
pub const CLIENT_BALANCE: u128 = 1 << 90;

/// One simulated operator.
#[derive(Clone, Debug)]
pub struct Operator {
    pub index: usize,
    pub key: SigningKey,
    pub account: AccountId,
    pub id: OperatorId,
    pub strategy: Strategy,
    pub stake: u128,
    /// The undeclared family it belongs to (sybils), if any.
    pub family: Option<u32>,
    /// A grinder's partner (an operator index), if any.
    pub partner: Option<usize>,
    /// The service (an index into `World::models`) its whole stake is allocated to.
    pub service: usize,
}

/// Keys, accounts and strategies of a run.
pub struct World {
    pub operators: Vec<Operator>,
    /// Each operator's VRF key, expanded once (`sortition`).
    pub vrf_keys: Vec<VrfKey>,
    pub by_account: BTreeMap<AccountId, usize>,
    pub by_operator: BTreeMap<OperatorId, usize>,
    pub clients: Vec<SigningKey>,
    /// Each service's model (one architecture, distinct weights).
    pub models: Vec<Model>,
    /// Each service's other checkpoint, which other-weights operators run.
    pub other_models: Vec<Model>,
    pub model_ids: Vec<ModelId>,
    /// Operators whose transactions censors leave out.
    pub victims: Vec<usize>,
    /// Secret shared by the sybil family (so its members fabricate alike).
    pub family_secret: Hash,
}

fn key_of(seed: u64, role: u8, index: usize) -> SigningKey {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8] = role;
    bytes[9..17].copy_from_slice(&(index as u64).to_le_bytes());
    SigningKey::from_seed(bytes)
}

fn draw_stakes(config: &Config, rng: &mut Rng) -> Vec<u128> {
    (0..config.operators)
        .map(|_| {
            // Pareto: stake_min · u^(-1/alpha), capped; rounded to 1,000 tokens.
            let u = 1.0 - rng.unit();
            let multiple = u
                .powf(-1.0 / config.stake_alpha)
                .min(config.stake_cap as f64);
            let stake = (config.stake_min as f64 * multiple) as u128;
            (stake / 1_000 * 1_000).max(config.stake_min)
        })
        .collect()
}

/// Counts per dishonest strategy: (strategy, how many).
fn mix(config: &Config) -> Vec<(Strategy, usize)> {
    let n = config.operators;
    let each = ((n as f64 * config.cheater_share).round() as usize).max(2);
    let pairs = (n / 600).max(1);
    vec![
        (Strategy::Tamper, each),
        (Strategy::OtherWeights, each),
        (Strategy::LazyAuditor, each),
        (Strategy::Copier, each),
        (Strategy::Sybil, each.max(3)),
        (Strategy::Griefer, each),
        (Strategy::Equivocator, each),
        (Strategy::Late, each),
        (Strategy::GrindPartner, pairs),
        (Strategy::PartnerAuditor, config.partners),
    ]
}

impl World {
    /// Draw the world for `config`: stakes, then strategies. Censors and grinders are picked
    /// among the operators large enough to be validators (proposer slots go by stake).
    pub fn new(config: &Config) -> World {
        let mut rng = Rng::new(config.seed, 1);
        let mut stakes = draw_stakes(config, &mut rng);
        let n = config.operators;
        let mut strategies = vec![Strategy::Honest; n];
        let mut by_stake: Vec<usize> = (0..n).collect();
        by_stake.sort_by(|a, b| stakes[*b].cmp(&stakes[*a]).then(a.cmp(b)));
        let validators = (config.params.staking.max_validators as usize).min(n);
        let mut top: Vec<usize> = by_stake[..validators].to_vec();
        rng.shuffle(&mut top);
        let pairs = (n / 600).max(1);
        let censors = pairs;
        let grinders: Vec<usize> = top[..pairs].to_vec();
        for &g in &grinders {
            strategies[g] = Strategy::Grinder;
        }
        for &c in &top[pairs..pairs + censors] {
            strategies[c] = Strategy::Censor;
        }
        let mut rest: Vec<usize> = (0..n)
            .filter(|i| strategies[*i] == Strategy::Honest)
            .collect();
        rng.shuffle(&mut rest);
        let mut next = rest.into_iter();
        let mut partners = Vec::new();
        for (strategy, count) in mix(config) {
            for _ in 0..count {
                let i = next.next().expect("more operators than cheaters");
                strategies[i] = strategy;
                if strategy == Strategy::GrindPartner {
                    partners.push(i);
                }
            }
        }
        let victims: Vec<usize> = next.by_ref().take(5 * censors).collect();
        for &v in &victims {
            strategies[v] = Strategy::CensoredVictim;
        }
        let services = services_of(config, &strategies);
        scale_families(
            config,
            &[
                (Strategy::Sybil, config.family_stake_share),
                (Strategy::PartnerAuditor, config.partner_stake_share),
            ],
            &strategies,
            &services,
            &mut stakes,
        );
        let operators: Vec<Operator> = (0..n)
            .map(|index| {
                let key = key_of(config.seed, 0, index);
                let account = AccountId::from_key(&key.verification_key());
                Operator {
                    index,
                    key,
                    account,
                    id: OperatorId::from(account),
                    strategy: strategies[index],
                    stake: stakes[index],
                    family: family_of(index, strategies[index], &grinders, &partners),
                    partner: grinders
                        .iter()
                        .position(|g| *g == index)
                        .map(|k| partners[k]),
                    service: services[index],
                }
            })
            .collect();
        let count = config.services.max(1);
        let models: Vec<Model> = (0..count)
            .map(|s| compute::model_from(&compute::weights(service_weights(s))))
            .collect();
        let other_models: Vec<Model> = (0..count)
            .map(|s| compute::model_from(&compute::weights(other_weights(s))))
            .collect();
        World {
            vrf_keys: operators.iter().map(|o| VrfKey::new(&o.key)).collect(),
            by_account: operators.iter().map(|o| (o.account, o.index)).collect(),
            by_operator: operators.iter().map(|o| (o.id, o.index)).collect(),
            clients: (0..CLIENTS).map(|i| key_of(config.seed, 1, i)).collect(),
            model_ids: models.iter().map(Model::model_id).collect(),
            models,
            other_models,
            operators,
            victims,
            family_secret: Hash::of("surety.sim.family", &config.seed.to_le_bytes()),
        }
    }

    /// The genesis of the run and the model files it needs, then the ledger at height 0.
    pub fn genesis(&self, config: &Config) -> Ledger {
        let files: Vec<Vec<u8>> = (0..self.models.len())
            .map(|s| compute::weights(service_weights(s)))
            .collect();
        let publications: Vec<Publication> = self
            .models
            .iter()
            .zip(&files)
            .map(|(model, file)| {
                Publication::new(
                    model.manifest(),
                    &[(FileKind::Safetensors, file.as_slice())],
                    Lineage::default(),
                    1024,
                )
                .expect("the model publishes")
            })
            .collect();
        let publisher = AccountId::from_key(&self.clients[0].verification_key());
        let mut accounts: Vec<GenesisAccount> = self
            .operators
            .iter()
            .map(|o| GenesisAccount {
                account: o.account,
                balance: Amount::new(o.stake + OPERATOR_FLOAT),
            })
            .collect();
        accounts.extend(self.clients.iter().map(|k| GenesisAccount {
            account: AccountId::from_key(&k.verification_key()),
            balance: Amount::new(CLIENT_BALANCE),
        }));
        let genesis = Genesis {
            chain_id: CHAIN.into(),
            genesis_time_ms: 1_000,
            params: config.params.clone(),
            accounts,
            operators: self
                .operators
                .iter()
                .map(|o| GenesisOperator {
                    account: o.account,
                    consensus_key: key_of(config.seed, 2, o.index).verification_key(),
                    commission: Ratio::from_percent(10).expect("10%"),
                    max_commission_change: Ratio::from_percent(5).expect("5%"),
                    metadata: OperatorMetadata {
                        moniker: format!("sim-{}", o.index),
                        ..Default::default()
                    },
                    self_bond: Amount::new(o.stake),
                })
                .collect(),
            delegations: vec![],
            models: publications
                .iter()
                .map(|publication| GenesisModel {
                    publisher,
                    registration: publication.register.clone(),
                })
                .collect(),
            allocations: self
                .operators
                .iter()
                .map(|o| GenesisAllocation {
                    operator: o.id,
                    model: self.model_ids[o.service],
                    amount: Amount::new(o.stake),
                })
                .collect(),
        };
        let files: BTreeMap<Hash, Vec<u8>> = publications
            .iter()
            .zip(&files)
            .map(|(publication, file)| (publication.register.files[0].chunks_root, file.clone()))
            .collect();
        Ledger::from_genesis_with_files(&genesis, &files).expect("the simulated genesis is valid")
    }

    /// The operator behind an account, if it is one.
    pub fn operator_of_account(&self, account: &AccountId) -> Option<usize> {
        self.by_account.get(account).copied()
    }

    /// The index of an operator id.
    pub fn index(&self, operator: &OperatorId) -> usize {
        self.by_operator[operator]
    }
}

/// The weights of service `s`'s model (the first is the single-service run's).
fn service_weights(s: usize) -> u32 {
    if s == 0 {
        0
    } else {
        100 + s as u32
    }
}

/// The weights of service `s`'s other checkpoint.
fn other_weights(s: usize) -> u32 {
    if s == 0 {
        7
    } else {
        10_000 + s as u32
    }
}

/// Each operator's service: the colluding groups (sybils, partner auditors, grinding pairs'
/// partners) serve the first together, so they share one pool; every other strategy's members
/// are dealt across the services in turn, so each service has every strategy.
fn services_of(config: &Config, strategies: &[Strategy]) -> Vec<usize> {
    let count = config.services.max(1);
    let mut dealt: BTreeMap<Strategy, usize> = BTreeMap::new();
    strategies
        .iter()
        .map(|strategy| match strategy {
            Strategy::Sybil | Strategy::PartnerAuditor | Strategy::GrindPartner => 0,
            other => {
                let next = dealt.entry(*other).or_default();
                let service = *next % count;
                *next += 1;
                service
            }
        })
        .collect()
}

/// The partner auditors' undeclared family (apart from the sybils' 0 and the grinding pairs').
pub const PARTNER_FAMILY: u32 = 1 << 16;

/// The undeclared family of an operator: 0 for the sybils, `1 + k` for grinder `k` and its
/// partner, [`PARTNER_FAMILY`] for the partner auditors.
fn family_of(
    index: usize,
    strategy: Strategy,
    grinders: &[usize],
    partners: &[usize],
) -> Option<u32> {
    if strategy == Strategy::Sybil {
        return Some(0);
    }
    if strategy == Strategy::PartnerAuditor {
        return Some(PARTNER_FAMILY);
    }
    grinders
        .iter()
        .chain(partners)
        .position(|i| *i == index)
        .map(|k| 1 + (k % grinders.len()) as u32)
}

/// Scale the stakes of the operators playing each `(strategy, share)` so that each group holds
/// its `share` of its service's stake (the sybil family, the partner auditors: both serve the
/// first service); the others' stakes stay.
fn scale_families(
    config: &Config,
    groups: &[(Strategy, f64)],
    strategies: &[Strategy],
    services: &[usize],
    stakes: &mut [u128],
) {
    let sum_of = |stakes: &[u128], member: Strategy| -> u128 {
        (0..stakes.len())
            .filter(|i| strategies[*i] == member)
            .map(|i| stakes[i])
            .sum()
    };
    let grouped: u128 = groups.iter().map(|(s, _)| sum_of(stakes, *s)).sum();
    let service: u128 = (0..stakes.len())
        .filter(|i| services[*i] == 0)
        .map(|i| stakes[i])
        .sum();
    let others = service - grouped;
    let shares: f64 = groups.iter().map(|(_, share)| share.clamp(0.0, 0.95)).sum();
    // The total T with each group at share · T and the others unchanged: T = others / (1 − Σ).
    let total = others as f64 / (1.0 - shares.min(0.95));
    for (member, share) in groups {
        let family = sum_of(stakes, *member);
        let share = share.clamp(0.0, 0.95);
        if family == 0 || share <= 0.0 {
            continue;
        }
        let factor = total * share / family as f64;
        for i in 0..stakes.len() {
            if strategies[i] == *member {
                let scaled = (stakes[i] as f64 * factor) as u128 / 1_000 * 1_000;
                stakes[i] = scaled.max(config.stake_min);
            }
        }
    }
}
