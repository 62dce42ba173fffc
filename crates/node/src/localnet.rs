//! Local networks on 127.0.0.1: generated keys, a genesis with the validators as operators
//! (and, for development, funded demo accounts and extra operators), and one node config per
//! validator. `surety dev` (one validator) and `surety localnet` (N validators) use it, and so
//! do the multi-validator tests.

use std::path::{Path, PathBuf};

use surety_ledger::genesis::{
    Genesis, GenesisAccount, GenesisAllocation, GenesisModel, GenesisOperator,
};
use surety_ledger::models::RegisterModel;
use surety_ledger::params::Params;
use surety_ledger::staking::OperatorMetadata;
use surety_types::{AccountId, Amount, Ratio, SigningKey};

use crate::node::{save_key, NodeConfig, NodeError, P2p, Rpc, Timeouts};

/// Demo accounts funded at genesis, by key name.
pub const DEMO_ACCOUNTS: [&str; 3] = ["alice", "bob", "carol"];
pub const DEMO_BALANCE: Amount = Amount::new(1_000_000_000_000);
pub const VALIDATOR_SELF_BOND: Amount = Amount::new(10_000_000_000);

#[derive(Clone, Debug)]
pub struct LocalnetOptions {
    pub chain_id: String,
    pub validators: usize,
    /// Operators registered at genesis that run no node (outside the validator set when
    /// `params.staking.max_validators` equals `validators`).
    pub extra_operators: usize,
    pub demo_accounts: bool,
    pub p2p_base_port: u16,
    /// RPC port of validator 0; the others count up. 0 lets each node pick a free port.
    pub rpc_base_port: u16,
    pub params: Params,
    pub timeouts: Timeouts,
    pub genesis_time_ms: u64,
    /// More accounts funded at genesis (benchmarks and tests).
    pub extra_accounts: Vec<GenesisAccount>,
    /// Models active from genesis (published by validator 0's account).
    pub models: Vec<LocalnetModel>,
    /// Stake every operator allocates at genesis to every model's service (zero: none).
    pub service_allocation: Amount,
}

/// A genesis model and where its files are on this machine (in registration order).
#[derive(Clone, Debug)]
pub struct LocalnetModel {
    pub registration: RegisterModel,
    pub files: Vec<PathBuf>,
}

impl LocalnetOptions {
    pub fn new(validators: usize) -> LocalnetOptions {
        let mut params = Params::default();
        params.staking.max_validators = u32::try_from(validators).unwrap_or(u32::MAX);
        LocalnetOptions {
            chain_id: "surety-localnet".into(),
            validators,
            extra_operators: 0,
            demo_accounts: true,
            p2p_base_port: 27_000,
            rpc_base_port: 26_657,
            params,
            timeouts: Timeouts::default(),
            genesis_time_ms: 0,
            extra_accounts: Vec::new(),
            models: Vec::new(),
            service_allocation: Amount::ZERO,
        }
    }
}

/// What `create` wrote.
#[derive(Clone, Debug)]
pub struct Localnet {
    pub dir: PathBuf,
    pub genesis: Genesis,
    /// Account key files (validators' operator accounts and demo accounts), for `surety tx`.
    pub keys_dir: PathBuf,
    /// One config file per validator, in order.
    pub config_files: Vec<PathBuf>,
    pub configs: Vec<NodeConfig>,
    /// Validators' consensus keys, in order.
    pub consensus_keys: Vec<SigningKey>,
    /// Validators' operator account keys, in order.
    pub account_keys: Vec<SigningKey>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> NodeError + '_ {
    move |error| NodeError::Io {
        file: path.display().to_string(),
        error,
    }
}

/// Write a fresh local network into `dir`, which must not hold one already. `new_key` makes
/// every key (random for real use, seeded in tests).
pub fn create(
    dir: &Path,
    options: &LocalnetOptions,
    mut new_key: impl FnMut() -> SigningKey,
) -> Result<Localnet, NodeError> {
    let genesis_file = dir.join("genesis.json");
    if genesis_file.exists() {
        return Err(NodeError::Config {
            file: genesis_file.display().to_string(),
            reason: "a network already exists here".into(),
        });
    }
    let keys_dir = dir.join("keys");
    std::fs::create_dir_all(&keys_dir).map_err(io(&keys_dir))?;
    let parties = operators(&keys_dir, options, &mut new_key)?;
    let mut accounts = parties.accounts;
    if options.demo_accounts {
        accounts.extend(demo_accounts(&keys_dir, &mut new_key)?);
    }
    accounts.extend(options.extra_accounts.iter().cloned());
    let mut genesis = Genesis {
        chain_id: options.chain_id.clone(),
        genesis_time_ms: options.genesis_time_ms,
        params: options.params.clone(),
        accounts,
        operators: parties.operators,
        delegations: vec![],
        models: Vec::new(),
        allocations: Vec::new(),
    };
    add_models(&mut genesis, options)?;
    std::fs::write(&genesis_file, genesis.to_json()).map_err(io(&genesis_file))?;
    let model_files: Vec<PathBuf> = options
        .models
        .iter()
        .flat_map(|m| m.files.iter())
        .map(|file| std::path::absolute(file).unwrap_or_else(|_| file.clone()))
        .collect();
    let mut config_files = Vec::new();
    let mut configs = Vec::new();
    for (i, consensus_key) in parties.consensus_keys.iter().enumerate() {
        let node_dir = dir.join(format!("v{i}"));
        std::fs::create_dir_all(&node_dir).map_err(io(&node_dir))?;
        let consensus_file = node_dir.join("consensus-key.json");
        save_key(&consensus_file, consensus_key).map_err(io(&consensus_file))?;
        let file = node_dir.join("config.toml");
        let config = node_config(options, i, &model_files);
        std::fs::write(&file, config.to_toml()).map_err(io(&file))?;
        // Hand back the config as `load` reads it: paths resolved against its directory.
        configs.push(NodeConfig::load(&file)?);
        config_files.push(file);
    }
    Ok(Localnet {
        dir: dir.to_path_buf(),
        genesis,
        keys_dir,
        config_files,
        configs,
        consensus_keys: parties.consensus_keys,
        account_keys: parties.account_keys,
    })
}

/// The genesis accounts and operators of the validators and extra operators, and the
/// validators' keys.
struct Parties {
    accounts: Vec<GenesisAccount>,
    operators: Vec<GenesisOperator>,
    consensus_keys: Vec<SigningKey>,
    account_keys: Vec<SigningKey>,
}

/// Make and save every operator's account key; validators come first and bond more.
fn operators(
    keys_dir: &Path,
    options: &LocalnetOptions,
    new_key: &mut impl FnMut() -> SigningKey,
) -> Result<Parties, NodeError> {
    let mut parties = Parties {
        accounts: Vec::new(),
        operators: Vec::new(),
        consensus_keys: Vec::new(),
        account_keys: Vec::new(),
    };
    for i in 0..options.validators + options.extra_operators {
        let account_key = new_key();
        let consensus_key = new_key();
        let validator = i < options.validators;
        let name = if validator {
            format!("validator-{i}")
        } else {
            format!("operator-{}", i - options.validators)
        };
        let file = keys_dir.join(format!("{name}.json"));
        save_key(&file, &account_key).map_err(io(&file))?;
        let account = AccountId::from_key(&account_key.verification_key());
        // Validators bond more than extra operators, so they are the top of the set.
        let self_bond = if validator {
            VALIDATOR_SELF_BOND
        } else {
            VALIDATOR_SELF_BOND.checked_div(10).expect("10 is not zero")
        };
        parties.accounts.push(GenesisAccount {
            account,
            balance: self_bond
                .checked_mul(2)
                .expect("a localnet bond is far below the maximum"),
        });
        parties.operators.push(GenesisOperator {
            account,
            consensus_key: consensus_key.verification_key(),
            commission: Ratio::from_percent(5).expect("5% is a ratio"),
            max_commission_change: Ratio::from_percent(1).expect("1% is a ratio"),
            metadata: OperatorMetadata {
                moniker: name,
                ..Default::default()
            },
            self_bond,
        });
        if validator {
            parties.consensus_keys.push(consensus_key);
            parties.account_keys.push(account_key);
        }
    }
    Ok(parties)
}

/// Make and save the funded demo accounts' keys.
fn demo_accounts(
    keys_dir: &Path,
    new_key: &mut impl FnMut() -> SigningKey,
) -> Result<Vec<GenesisAccount>, NodeError> {
    let mut accounts = Vec::new();
    for name in DEMO_ACCOUNTS {
        let key = new_key();
        let file = keys_dir.join(format!("{name}.json"));
        save_key(&file, &key).map_err(io(&file))?;
        accounts.push(GenesisAccount {
            account: AccountId::from_key(&key.verification_key()),
            balance: DEMO_BALANCE,
        });
    }
    Ok(accounts)
}

/// Register the options' models at genesis (published by the first operator) and allocate
/// every operator's stake to them.
fn add_models(genesis: &mut Genesis, options: &LocalnetOptions) -> Result<(), NodeError> {
    let publisher = genesis.operators[0].account;
    let operator_ids: Vec<AccountId> = genesis.operators.iter().map(|o| o.account).collect();
    for model in &options.models {
        let id = surety_ledger::models::decode_manifest(&model.registration.manifest)
            .map_err(|e| NodeError::Config {
                file: "localnet models".into(),
                reason: e.to_string(),
            })?
            .model_id();
        genesis.models.push(GenesisModel {
            publisher,
            registration: model.registration.clone(),
        });
        if !options.service_allocation.is_zero() {
            for operator in &operator_ids {
                genesis.allocations.push(GenesisAllocation {
                    operator: (*operator).into(),
                    model: id,
                    amount: options.service_allocation,
                });
            }
        }
    }
    Ok(())
}

/// Validator `i`'s config: every other validator a peer, RPC gossip to them on fixed ports.
fn node_config(options: &LocalnetOptions, i: usize, model_files: &[PathBuf]) -> NodeConfig {
    let p2p = |i: usize| format!("/ip4/127.0.0.1/tcp/{}", options.p2p_base_port as usize + i);
    let rpc_port = |i: usize| {
        if options.rpc_base_port == 0 {
            0
        } else {
            options.rpc_base_port + i as u16
        }
    };
    NodeConfig {
        moniker: format!("validator-{i}"),
        home: PathBuf::from("data"),
        genesis: PathBuf::from("../genesis.json"),
        consensus_key: PathBuf::from("consensus-key.json"),
        account_key: Some(PathBuf::from(format!("../keys/validator-{i}.json"))),
        p2p: P2p {
            listen: p2p(i),
            peers: (0..options.validators)
                .filter(|j| *j != i)
                .map(p2p)
                .collect(),
        },
        rpc: Rpc {
            listen: ([127, 0, 0, 1], rpc_port(i)).into(),
            gossip_to: if options.rpc_base_port == 0 {
                vec![]
            } else {
                (0..options.validators)
                    .filter(|j| *j != i)
                    .map(|j| format!("http://127.0.0.1:{}", rpc_port(j)))
                    .collect()
            },
        },
        consensus: options.timeouts.clone(),
        worker: crate::node::WorkerSettings::default(),
        model_files: model_files.to_vec(),
    }
}
