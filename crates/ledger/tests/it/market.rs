//! The inference market end to end on the ledger (DESIGN §5): a real model registered and
//! uploaded by transactions, operators serving it, jobs computed by the real engine, and the
//! ways a result can go wrong — tampered, computed with other weights, late, double-signed,
//! falsely challenged — each proven and punished by the ledger. Every block is followed by a
//! full invariant check (`common::Chain::block`).

use crate::common::*;
use std::collections::BTreeMap;
use surety_infer::models::mlp::MlpConfig;
use surety_infer::safetensors_loader::{load_safetensors, save_safetensors_f32};
use surety_infer::{Activation, Architecture, Executor, Model, Tensor, Trace};
use surety_ledger::bank::Pool;
use surety_ledger::disputes::{
    Challenge, DisputesError, Outcome, Phase, ProvideStepInput, RevealStep,
};
use surety_ledger::jobs::{
    self, AuditOutcome, CommitResult, JobInput, JobStatus, JobsError, ResultStatement, Reveal,
    RevealResults, Seal, SealResults, SubmitJob,
};
use surety_ledger::models::msg::{chunk_hash, FileKind, Lineage, ModelFile};
use surety_ledger::models::{RegisterModel, UploadModelChunk};
use surety_ledger::params::Params;
use surety_ledger::services::Allocate;
use surety_ledger::slashing::{Evidence, FaultKind};
use surety_ledger::tx::{Msg, TxError};
use surety_ledger::{disputes, Event};
use surety_types::merkle::MerkleTree;
use surety_types::{Amount, Epoch, Hash, Height, JobId, ModelId, OperatorId, Ratio};

mod blind;
mod griefing;
mod pruning;

const PUBLISHER: u16 = 20;
const CLIENT: u16 = 21;
const CHALLENGER: u16 = 22;
const ALLOCATION: u128 = 50_000;
const FEE: u128 = 2_000;
/// Widths of the test model: 6 linear layers with ReLU between, 11 steps.
const WIDTHS: [u64; 7] = [8, 16, 16, 16, 16, 16, 4];

/// Audits are likely (`audit_rate` 100%: each operator of a job's pool is selected with
/// probability its share of it, and a test that names an [`AUDITOR`] chooses its assignees'
/// salts so that one is); no undeclared collusion is assumed (`collusion_fraction` 0), and a
/// wrong result costs 20%, so the audit rule holds: (1 − 1/2) · 20% · 50,000 = 5,000 of
/// expected slash against a fee of at most 4,000 (the rule's `x − x²/2` at x = 1).
fn market_params() -> Params {
    let mut params = test_params();
    params.services.service_allocation_min = Amount::new(ALLOCATION);
    // The audit fund stays solvent at audit rate 100% (`Params::validate`): 10% of the
    // smallest fee pays one reward.
    params.jobs.job_fee_min = Amount::new(FEE);
    params.jobs.audit_reward = Amount::new(FEE / 10);
    params.jobs.job_fee_max = Amount::new(4_000);
    params.jobs.audit_rate = Ratio::ONE;
    params.slashing.wrong_result = Ratio::from_percent(20).unwrap();
    params.jobs.challenge_window_blocks = 4;
    params.jobs.reveal_blocks = 4;
    params.jobs.collusion_fraction = Ratio::ZERO;
    params.jobs.deadline_blocks_min = 3;
    params.disputes.dispute_move_blocks = 3;
    params.disputes.challenge_bond = Amount::new(30_000);
    // The test model's activations are tens of bytes: one chunk, one block for it after the
    // deadline floor (`Params::validate`).
    params.disputes.dispute_input_bytes_max = 48 * 1024;
    params.disputes.dispute_input_blocks = 4;
    params.jobs.job_input_bytes_max = 4_096;
    // Below honest_audit_rate · wrong_result = 10%: 4,500 in flight at the 50,000 allocation.
    params.jobs.in_flight_fee_fraction = Ratio::from_percent(9).unwrap();
    params
}

/// Deterministic weights for the test MLP; `variant` gives another checkpoint.
fn weights(variant: u32) -> Vec<u8> {
    weights_of(&WIDTHS, variant)
}

/// Deterministic weights for an MLP of `widths`.
fn weights_of(widths: &[u64], variant: u32) -> Vec<u8> {
    let mut state = 0x9e37_79b9u32.wrapping_add(variant);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state % 2000) as f32 / 1000.0 - 1.0
    };
    let mut tensors = Vec::new();
    for (i, pair) in widths.windows(2).enumerate() {
        let (inp, out) = (pair[0] as usize, pair[1] as usize);
        let weight: Vec<f32> = (0..inp * out).map(|_| next() * 0.5).collect();
        let bias: Vec<f32> = (0..out).map(|_| next() * 0.1).collect();
        tensors.push((format!("layers.{i}.weight"), vec![out, inp], weight));
        tensors.push((format!("layers.{i}.bias"), vec![out], bias));
    }
    let refs: Vec<(&str, Vec<usize>, Vec<f32>)> = tensors
        .iter()
        .map(|(name, shape, values)| (name.as_str(), shape.clone(), values.clone()))
        .collect();
    save_safetensors_f32(&refs).unwrap()
}

fn model_from(bytes: &[u8]) -> Model {
    model_of(&WIDTHS, bytes)
}

fn model_of(widths: &[u64], bytes: &[u8]) -> Model {
    let config = MlpConfig {
        widths: widths.to_vec(),
    };
    Model::new(
        "market-test-mlp",
        Architecture::Mlp(config),
        load_safetensors(bytes).unwrap(),
        None,
    )
    .unwrap()
}

/// The registration and chunk uploads of a model file, as a publisher makes them.
fn publish(model: &Model, file: &[u8], chunk_bytes: usize) -> (RegisterModel, Vec<Msg>) {
    let chunks: Vec<&[u8]> = file.chunks(chunk_bytes).collect();
    let leaves: Vec<[u8; 32]> = chunks.iter().map(|c| chunk_hash(c).0).collect();
    let tree = MerkleTree::from_leaves(&leaves);
    let register = RegisterModel {
        manifest: surety_types::encoding::encode(model.manifest()),
        files: vec![ModelFile {
            kind: FileKind::Safetensors,
            bytes: file.len() as u64,
            chunk_bytes: chunk_bytes as u32,
            chunks_root: tree.root(),
        }],
        lineage: Lineage::default(),
    };
    let id = model.model_id();
    let uploads = chunks
        .iter()
        .enumerate()
        .map(|(index, chunk)| {
            Msg::UploadModelChunk(Box::new(UploadModelChunk {
                model: id,
                file: 0,
                index: index as u32,
                bytes: chunk.to_vec(),
                proof: tree.proof(index).unwrap(),
            }))
        })
        .collect();
    (register, uploads)
}

struct Market {
    chain: Chain,
    model: Model,
    id: ModelId,
}

/// Operators 1..=4 (200k each) and a large operator 9 (10M) so faults are uncorrelated;
/// the model registered and uploaded by transactions; operators 1..=4 serve it.
fn market() -> Market {
    market_with(market_params())
}

/// [`market`] with other parameters.
fn market_with(params: Params) -> Market {
    market_from(&market_genesis(params), &[1, 2, 3, 4])
}

/// The genesis of [`market`]: operators 1..=4 and 9, accounts 20..=23.
fn market_genesis(params: Params) -> surety_ledger::genesis::Genesis {
    let mut accounts: Vec<(u16, u128)> = (1..=4).map(|n| (n, 1_000_000)).collect();
    accounts.push((9, 20_000_000));
    accounts.extend((20..=23).map(|n| (n, 1_000_000)));
    let operators: Vec<(u16, u128)> = vec![
        (1, 200_000),
        (2, 200_000),
        (3, 200_000),
        (4, 200_000),
        (9, 10_000_000),
    ];
    genesis(params, &accounts, &operators)
}

/// A market from `genesis`, its model registered and uploaded, served by `servers`.
fn market_from(genesis: &surety_ledger::genesis::Genesis, servers: &[u16]) -> Market {
    market_of(genesis, servers, &WIDTHS)
}

/// [`market_from`] with an MLP of `widths`.
fn market_of(genesis: &surety_ledger::genesis::Genesis, servers: &[u16], widths: &[u64]) -> Market {
    let mut chain = Chain::from_genesis(genesis);
    let file = weights_of(widths, 0);
    let model = model_of(widths, &file);
    let id = model.model_id();
    let (register, uploads) = publish(&model, &file, 1024);
    chain.submit_ok(PUBLISHER, Msg::RegisterModel(Box::new(register)));
    let mut nonce = chain.nonce(PUBLISHER);
    let txs: Vec<Vec<u8>> = uploads
        .into_iter()
        .map(|msg| {
            let tx = chain.sign_with_nonce(PUBLISHER, nonce, msg);
            nonce += 1;
            tx
        })
        .collect();
    let outcome = chain.block(&txs);
    assert!(outcome.receipts.iter().all(|r| r.is_ok()));
    assert!(chain.ledger.model(&id).is_ok(), "model is active");
    for &n in servers {
        chain.submit_ok(
            n,
            Msg::Allocate(Allocate {
                model: id,
                amount: Amount::new(ALLOCATION),
            }),
        );
    }
    // Audit claims are weighed against the pool taken at an epoch's start: begin the tests in
    // an epoch whose pool has every server.
    let epoch = chain.epoch();
    while chain.epoch() == epoch {
        chain.block(&[]);
    }
    Market { chain, model, id }
}

fn input(seed: f32) -> Activation {
    let mut activation = Activation::new();
    let values: Vec<f32> = (0..8).map(|i| (i as f32 * 0.25 - 1.0) * seed).collect();
    activation.set("input", Tensor::f32(vec![1, 8], values));
    activation
}

fn job_of(receipt: &surety_ledger::Receipt) -> JobId {
    receipt
        .events
        .iter()
        .find_map(|e| match e {
            Event::Jobs(surety_ledger::jobs::JobsEvent::JobSubmitted { job, .. }) => Some(*job),
            _ => None,
        })
        .expect("a JobSubmitted event")
}

impl Market {
    fn submit(&mut self, replicas: u32) -> JobId {
        let receipt = self.chain.submit_ok(
            CLIENT,
            Msg::SubmitJob(Box::new(SubmitJob {
                model: self.id,
                input: JobInput::Activation(input(1.5).to_bytes()),
                max_fee: Amount::new(FEE),
                deadline_blocks: 5,
                replicas,
            })),
        );
        let job = job_of(&receipt);
        // Assigned at the next block, with its seed.
        self.chain.block(&[]);
        job
    }

    /// A job of two replicas, assigned: its id and its two assignees, in assignment order.
    fn submit_pair(&mut self) -> (JobId, u16, u16) {
        let job = self.submit(2);
        let replicas = self.assignees(&job);
        let (first, second) = (
            Market::index_of(&replicas[0]),
            Market::index_of(&replicas[1]),
        );
        (job, first, second)
    }

    fn job(&self, id: &JobId) -> jobs::Job {
        jobs::state::job(self.chain.ledger.store(), id).expect("job exists")
    }

    fn assignees(&self, id: &JobId) -> Vec<OperatorId> {
        self.job(id)
            .live_assignments()
            .map(|a| a.operator)
            .collect()
    }

    fn index_of(operator: &OperatorId) -> u16 {
        [1, 2, 3, 4, 9]
            .into_iter()
            .find(|n| crate::common::operator(*n) == *operator)
            .expect("a test operator")
    }

    /// The job's first auditor, claimed once every assignee has sealed (a test names it
    /// [`AUDITOR`] before that).
    fn auditor(&self, id: &JobId) -> u16 {
        Market::index_of(
            &self
                .job(id)
                .audits
                .first()
                .expect("audits are claimed only once every assignee has sealed")
                .auditor,
        )
    }

    fn is_auditor(&self, id: &JobId, n: u16) -> bool {
        self.job(id).audit_of(&operator(n)).is_some()
    }

    /// The test operators that may claim `id`'s audit once its window is open, with their
    /// pool weights, and the weight claims are weighed against: from the job's window once it
    /// is open, else as the ledger will compute it when the window opens in the next block.
    fn audit_pool(&self, id: &JobId) -> (Vec<(u16, Amount)>, Amount, Epoch) {
        let store = self.chain.ledger.store();
        let job = self.job(id);
        let epoch = match &job.audit_window {
            Some(window) => window.epoch,
            None => self
                .chain
                .ledger
                .params()
                .epoch_of(Height::new(self.chain.height().get() + 1)),
        };
        let entries: Vec<(u16, Amount, surety_types::AccountId)> =
            if jobs::pool::total(store, epoch, &self.id).is_some() {
                [1, 2, 3, 4, 9]
                    .into_iter()
                    .filter_map(|n| {
                        let entry = jobs::pool::entry(store, epoch, &self.id, &operator(n))?;
                        Some((n, entry.weight, entry.owner))
                    })
                    .collect()
            } else {
                surety_ledger::services::audit_pool(store, &self.id)
                    .into_iter()
                    .map(|(op, weight, family)| {
                        (
                            Market::index_of(&op),
                            weight,
                            jobs::pool::owner_of(&op, family),
                        )
                    })
                    .collect()
            };
        let excluded: Vec<surety_types::AccountId> = match &job.audit_window {
            Some(window) => window.excluded.clone(),
            None => job
                .assignments
                .iter()
                .flat_map(|a| {
                    let family = surety_ledger::staking::state::operator(store, &a.operator)
                        .and_then(|o| o.metadata.family);
                    let owner = entries
                        .iter()
                        .find(|(n, _, _)| operator(*n) == a.operator)
                        .map(|(_, _, owner)| *owner);
                    [Some(a.operator.account()), family, owner]
                })
                .flatten()
                .collect(),
        };
        // The ledger takes a claim only from an operator neither jailed nor tombstoned; one
        // with a slash pending may be jailed by the time its claim lands, so tests leave it out.
        let can_claim = |n: u16| {
            surety_ledger::staking::state::operator(store, &operator(n))
                .is_some_and(|o| !o.jailed && !o.tombstoned && o.pending_slashes == 0)
        };
        let outside: Vec<(u16, Amount)> = entries
            .into_iter()
            .filter(|(n, _, owner)| {
                !excluded.contains(&operator(*n).account()) && !excluded.contains(owner)
            })
            .map(|(n, weight, _)| (n, weight))
            .collect();
        let weight = match &job.audit_window {
            Some(window) => window.weight,
            None => outside
                .iter()
                .fold(Amount::ZERO, |sum, (_, w)| sum.saturating_add(*w)),
        };
        let candidates = outside.into_iter().filter(|(n, _)| can_claim(*n)).collect();
        (candidates, weight, epoch)
    }

    /// The candidates of `id` whose VRF over `seals` and `seed` selects them, in index order.
    fn selected_for(&self, id: &JobId, seals: &Hash, seed: &Hash) -> Vec<u16> {
        let (candidates, weight, _) = self.audit_pool(id);
        let rate = self.chain.ledger.params().jobs.audit_rate;
        let alpha = jobs::audit_alpha(CHAIN, id, seals, seed);
        candidates
            .into_iter()
            .filter(|(n, w)| {
                let draw = key(*n).vrf_prove(&alpha).verify(&operator(*n).0, &alpha);
                jobs::is_selected(rate, *w, weight, draw.unwrap().draw())
            })
            .map(|(n, _)| n)
            .collect()
    }

    /// The candidates of `id`'s open claim window that its VRF selects.
    fn selected(&self, id: &JobId) -> Vec<u16> {
        let window = self.job(id).audit_window.expect("a claim window");
        let seed = window.seed.expect("an open claim window");
        self.selected_for(id, &window.seals, &seed)
    }

    /// Open the claim windows of `ids` (every assignee sealed; one opening height for all):
    /// empty blocks up to the opening block, whose time (and so whose seed, in the test chain)
    /// is chosen so that `wanted` holds for every job's selection; the opening block carries
    /// `txs`. (The test stands in for chance: on a real chain the seed is the proposer's VRF.)
    fn open_windows_with(
        &mut self,
        ids: &[JobId],
        wanted: impl Fn(&JobId, &[u16]) -> bool,
        txs: &[Vec<u8>],
    ) -> surety_ledger::BlockOutcome {
        let windows: Vec<jobs::AuditWindow> = ids
            .iter()
            .map(|id| self.job(id).audit_window.expect("every assignee sealed"))
            .collect();
        let at = windows[0].draw_at;
        assert!(windows.iter().all(|w| w.draw_at == at && w.seed.is_none()));
        while self.chain.height().get() + 1 < at.get() {
            self.chain.block(&[]);
        }
        let start = self.chain.time_ms;
        for shift in 0u64..100_000 {
            self.chain.time_ms = start + shift;
            let seed = Hash::of("seed", &(self.chain.time_ms + 1_000).to_le_bytes());
            let all = ids
                .iter()
                .zip(&windows)
                .all(|(id, window)| wanted(id, &self.selected_for(id, &window.seals, &seed)));
            if all {
                let outcome = self.chain.block(txs);
                for id in ids {
                    assert_eq!(self.job(id).audit_window.unwrap().seed, Some(seed));
                }
                return outcome;
            }
        }
        panic!("no seed in 100,000 selects as wanted for {ids:?}");
    }

    /// [`Market::open_windows_with`]: an empty opening block, every job with an auditor.
    fn open_windows(&mut self, ids: &[JobId]) {
        self.open_windows_with(ids, |_, selected| !selected.is_empty(), &[]);
    }

    /// `id`'s claim window is open: the first test operator its VRF selects claims the audit,
    /// in a block of its own. Its index.
    fn claim_auditor(&mut self, id: &JobId) -> u16 {
        self.claim_auditors(&[*id])[0]
    }

    /// For each of `ids` (its claim window opened with [`Market::open_windows`] if not open
    /// yet), the first test operator its VRF selects claims the audit, all in one block (one
    /// batch per operator). Their indices.
    fn claim_auditors(&mut self, ids: &[JobId]) -> Vec<u16> {
        let closed: Vec<JobId> = ids
            .iter()
            .copied()
            .filter(|id| {
                self.job(id)
                    .audit_window
                    .expect("the claim window comes once every assignee has sealed")
                    .seed
                    .is_none()
            })
            .collect();
        if !closed.is_empty() {
            self.open_windows(&closed);
        }
        let mut by_operator: BTreeMap<u16, Vec<jobs::AuditClaim>> = BTreeMap::new();
        let mut chosen = Vec::new();
        for id in ids {
            let n = *self
                .selected(id)
                .first()
                .unwrap_or_else(|| panic!("no operator's VRF selects an auditor for {id}"));
            by_operator.entry(n).or_default().push(jobs::AuditClaim {
                job: *id,
                proof: audit_proof(self, n, id),
            });
            chosen.push(n);
        }
        let txs: Vec<Vec<u8>> = by_operator
            .into_iter()
            .map(|(n, claims)| {
                self.chain.sign(
                    n,
                    Msg::ClaimAudits(Box::new(jobs::ClaimAudits {
                        operator: operator(n),
                        claims,
                    })),
                )
            })
            .collect();
        let outcome = self.chain.block(&txs);
        assert!(
            outcome.receipts.iter().all(|r| r.is_ok()),
            "{:?}",
            outcome.receipts
        );
        assert_eq!(refused(&events(&outcome)), vec![], "a claim was refused");
        chosen
    }

    /// Empty blocks until `id`'s claim window is over and it reveals (every claimed auditor
    /// sealed).
    fn until_revealing(&mut self, id: &JobId) {
        for _ in 0..16 {
            if self.job(id).status != JobStatus::Assigned {
                return;
            }
            self.chain.block(&[]);
        }
        panic!("{id} is still sealing after 16 blocks: {:?}", self.job(id));
    }

    /// `parties` with [`AUDITOR`] replaced by each job's claimed auditor.
    fn resolve<'e>(
        &self,
        parties: &[(u16, JobId, &'e Execution)],
    ) -> Vec<(u16, JobId, &'e Execution)> {
        parties
            .iter()
            .map(|(n, job, execution)| {
                let n = if *n == AUDITOR { self.auditor(job) } else { *n };
                (n, *job, *execution)
            })
            .collect()
    }

    /// One transaction per operator in `parties` (operator, job, execution), each carrying one
    /// item per job: a batch. Every transaction must apply whole (no item refused).
    fn batch_block(
        &mut self,
        parties: &[(u16, JobId, &Execution)],
        item: impl Fn(&Market, u16, Vec<(JobId, &Execution)>) -> Msg,
    ) -> surety_ledger::BlockOutcome {
        self.batch_rounds_block(&[parties.to_vec()], item)
    }

    /// [`Market::batch_block`] in rounds: each round's transactions (one per operator, its
    /// nonce after its earlier rounds' ones) follow the earlier rounds' in the same block.
    fn batch_rounds_block(
        &mut self,
        rounds: &[Vec<(u16, JobId, &Execution)>],
        item: impl Fn(&Market, u16, Vec<(JobId, &Execution)>) -> Msg,
    ) -> surety_ledger::BlockOutcome {
        let mut nonces: BTreeMap<u16, u64> = BTreeMap::new();
        let mut txs: Vec<Vec<u8>> = Vec::new();
        for parties in rounds {
            let mut by_operator: BTreeMap<u16, Vec<(JobId, &Execution)>> = BTreeMap::new();
            for (n, job, execution) in parties {
                by_operator.entry(*n).or_default().push((*job, *execution));
            }
            for (n, items) in by_operator {
                let nonce = *nonces.entry(n).or_insert_with(|| self.chain.nonce(n));
                txs.push(self.chain.sign_with_nonce(n, nonce, item(self, n, items)));
                nonces.insert(n, nonce + 1);
            }
        }
        let outcome = self.chain.block(&txs);
        assert!(
            outcome.receipts.iter().all(|r| r.is_ok()),
            "{:?}",
            outcome.receipts
        );
        assert_eq!(refused(&events(&outcome)), vec![], "an item was refused");
        outcome
    }

    /// Every party seals its execution: the assignees in one block; then, if [`AUDITOR`] is
    /// among `parties`, the claim windows open (with seeds that select an auditor for each
    /// such job, [`Market::open_windows`]), a block where the first operator its VRF selects
    /// claims each job's audit, a block where those auditors seal, and empty blocks until the
    /// claim windows are over and the jobs reveal. The last sealing block's outcome.
    fn seal_block(&mut self, parties: &[(u16, JobId, &Execution)]) -> surety_ledger::BlockOutcome {
        let (auditors, assignees): (Vec<_>, Vec<_>) =
            parties.iter().copied().partition(|(n, _, _)| *n == AUDITOR);
        let mut outcome = if assignees.is_empty() {
            None
        } else {
            Some(self.batch_block(&assignees, Market::seal_items))
        };
        if !auditors.is_empty() {
            let ids: Vec<JobId> = auditors.iter().map(|(_, job, _)| *job).collect();
            self.claim_auditors(&ids);
            let auditors = self.resolve(&auditors);
            outcome = Some(self.batch_block(&auditors, Market::seal_items));
            for (_, job, _) in &auditors {
                self.until_revealing(job);
            }
        }
        outcome.expect("parties to seal")
    }

    fn seal_items(_: &Market, n: u16, items: Vec<(JobId, &Execution)>) -> Msg {
        Msg::SealResults(Box::new(SealResults {
            operator: operator(n),
            seals: items
                .iter()
                .map(|(job, execution)| seal(n, job, execution))
                .collect(),
        }))
    }

    /// Every party opens its seal, in one block: the assignees first, then each job's auditor,
    /// which the ledger takes only once the assignees' results are compared.
    fn reveal_block(
        &mut self,
        parties: &[(u16, JobId, &Execution)],
    ) -> surety_ledger::BlockOutcome {
        let (auditors, workers): (Vec<_>, Vec<_>) = self
            .resolve(parties)
            .into_iter()
            .partition(|(n, job, _)| self.is_auditor(job, *n));
        self.batch_rounds_block(&[workers, auditors], |_, n, items| {
            Msg::RevealResults(Box::new(RevealResults {
                operator: operator(n),
                reveals: items
                    .iter()
                    .map(|(job, execution)| reveal(n, job, execution))
                    .collect(),
            }))
        })
    }

    /// The blind commit of `parties` (operator, job, execution; a job's auditor named
    /// [`AUDITOR`]) over any number of jobs: the assignees seal in one block, the auditors once
    /// claimed, then everyone reveals in one block. The reveal block's outcome.
    fn seal_and_reveal_all(
        &mut self,
        parties: &[(u16, JobId, &Execution)],
    ) -> surety_ledger::BlockOutcome {
        self.seal_block(parties);
        for (_, job, _) in parties {
            self.until_revealing(job);
            assert!(
                matches!(self.job(job).status, JobStatus::Revealing { .. }),
                "every party of {job} sealed: {:?}",
                self.job(job).status
            );
        }
        self.reveal_block(parties)
    }

    /// [`Market::seal_and_reveal_all`] for one job and its parties (operator, execution).
    fn seal_and_reveal(
        &mut self,
        job: &JobId,
        parties: &[(u16, &Execution)],
    ) -> surety_ledger::BlockOutcome {
        let parties: Vec<(u16, JobId, &Execution)> =
            parties.iter().map(|(n, e)| (*n, *job, *e)).collect();
        self.seal_and_reveal_all(&parties)
    }
}

/// Stands for a job's auditor in a list of parties: it selects itself only once every assignee
/// has sealed, so a test cannot name it before (`Market::seal_block` resolves it).
const AUDITOR: u16 = 0;

/// A run of the model on a job's input: the output, its trace, and every activation (the
/// input first), which a party needs to play a dispute.
struct Execution {
    output: Activation,
    trace: Trace,
    activations: Vec<Activation>,
}

fn execute(model: &Model, job: &jobs::Job) -> Execution {
    let executor = Executor::new(1).unwrap();
    let input = Activation::from_bytes(&job.input).unwrap();
    let run = model.run(&executor, input.clone()).unwrap();
    let mut activations = vec![input.clone()];
    for last in 0..model.program().len() {
        activations.push(
            model
                .activation_after(&executor, input.clone(), last)
                .unwrap(),
        );
    }
    Execution {
        output: run.output,
        trace: run.trace,
        activations,
    }
}

/// An execution whose output was altered after the fact, with its trace re-rooted to match.
fn tamper(honest: &Execution) -> Execution {
    let mut output = honest.output.clone();
    let (shape, values) = output.f32("logits").unwrap();
    let mut values = values.to_vec();
    values[0] += 1.0;
    output.set("logits", Tensor::f32(shape.to_vec(), values));
    let mut hashes = honest.trace.step_hashes.clone();
    *hashes.last_mut().unwrap() = output.hash();
    let mut activations = honest.activations.clone();
    *activations.last_mut().unwrap() = output.clone();
    Execution {
        output,
        trace: Trace::from_step_hashes(hashes),
        activations,
    }
}

/// The statement operator `n` signs for `job` when its run is `execution`.
fn statement(job: &JobId, execution: &Execution) -> ResultStatement {
    ResultStatement {
        chain_id: CHAIN.into(),
        job: *job,
        output_hash: execution.output.hash(),
        trace_root: execution.trace.root(),
        steps: execution.trace.len() as u64,
    }
}

/// Operator `n`'s signed result for `job`, with its output and the output's proof.
fn commit_result(n: u16, job: &JobId, execution: &Execution) -> CommitResult {
    let steps = execution.trace.len();
    CommitResult {
        result: statement(job, execution).sign(&key(n)),
        output: execution.output.to_bytes(),
        output_proof: execution.trace.proof(steps - 1).unwrap(),
    }
}

/// The salt operator `n` seals its result for `job` with: deterministic, one per (n, job).
fn salt(n: u16, job: &JobId) -> [u8; 32] {
    Hash::of_parts("test.seal-salt", &[&n.to_le_bytes(), &job.0]).0
}

/// Operator `n`'s seal of `execution` for `job`.
fn seal(n: u16, job: &JobId, execution: &Execution) -> Seal {
    Seal {
        job: *job,
        commitment: jobs::seal_commitment(&operator(n), &statement(job, execution), &salt(n, job)),
    }
}

/// One seal from operator `n` for `job`.
fn seal_msg(n: u16, job: &JobId, execution: &Execution) -> Msg {
    Msg::SealResults(Box::new(SealResults {
        operator: operator(n),
        seals: vec![seal(n, job, execution)],
    }))
}

/// Operator `n`'s VRF proof over `job`'s sealed state and window seed (its claim window must
/// be open): what selects an auditor.
fn audit_proof(market: &Market, n: u16, job: &JobId) -> surety_types::vrf::VrfProof {
    let window = market.job(job).audit_window.expect("a claim window");
    let seed = window.seed.expect("an open claim window");
    key(n).vrf_prove(&jobs::audit_alpha(CHAIN, job, &window.seals, &seed))
}

/// Operator `n` claims `job`'s audit with its VRF proof.
fn claim_msg_with(n: u16, job: &JobId, proof: surety_types::vrf::VrfProof) -> Msg {
    Msg::ClaimAudits(Box::new(jobs::ClaimAudits {
        operator: operator(n),
        claims: vec![jobs::AuditClaim { job: *job, proof }],
    }))
}

/// Operator `n`'s claim of `job`'s audit, its claim window open.
fn claim_msg(market: &Market, n: u16, job: &JobId) -> Msg {
    claim_msg_with(n, job, audit_proof(market, n, job))
}

/// Operator `n` opens its seal of `execution` for `job`.
fn reveal(n: u16, job: &JobId, execution: &Execution) -> Reveal {
    Reveal {
        job: *job,
        salt: salt(n, job),
        result: commit_result(n, job, execution),
    }
}

/// One reveal from operator `n` for `job`.
fn reveal_msg(n: u16, job: &JobId, execution: &Execution) -> Msg {
    Msg::RevealResults(Box::new(RevealResults {
        operator: operator(n),
        reveals: vec![reveal(n, job, execution)],
    }))
}

/// Items of a batch refused (`ItemRefused`), with their errors.
fn refused(events: &[Event]) -> Vec<(JobId, OperatorId, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Jobs(jobs::JobsEvent::ItemRefused {
                job,
                operator,
                error,
            }) => Some((*job, *operator, error.clone())),
            _ => None,
        })
        .collect()
}

/// Operators reported for `kind` in `events`.
fn reported(events: &[Event], kind: FaultKind) -> Vec<OperatorId> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Slashing(surety_ledger::slashing::SlashingEvent::OffenceReported {
                operator,
                kind: k,
                ..
            }) if *k == kind => Some(*operator),
            _ => None,
        })
        .collect()
}

fn events(outcome: &surety_ledger::BlockOutcome) -> Vec<Event> {
    let mut all: Vec<Event> = outcome
        .receipts
        .iter()
        .flat_map(|r| r.events.clone())
        .collect();
    all.extend(outcome.events.clone());
    all
}

/// Play the bisection for both parties honestly to their own traces until the step is
/// isolated; returns the number of reveal transactions sent.
fn bisect(
    market: &mut Market,
    dispute: u64,
    defendant: (u16, &Execution),
    challenger: (u16, &Execution),
) -> u64 {
    let mut reveals = 0;
    loop {
        let record = disputes::state::dispute(market.chain.ledger.store(), dispute).unwrap();
        let Phase::Bisect { index, .. } = record.phase else {
            return reveals;
        };
        let mut txs = Vec::new();
        for (n, execution) in [defendant, challenger] {
            txs.push(market.chain.sign(
                n,
                Msg::RevealStep(Box::new(RevealStep {
                    dispute,
                    index,
                    step_hash: execution.trace.step_hashes[index as usize],
                    proof: execution.trace.proof(index as usize).unwrap(),
                })),
            ));
        }
        let outcome = market.chain.block(&txs);
        assert!(outcome.receipts.iter().all(|r| r.is_ok()), "{outcome:?}");
        reveals += 2;
    }
}

/// Upload the activation before the isolated step, as `uploader` (in chunks of 100 bytes).
fn provide_input(
    market: &mut Market,
    dispute: u64,
    uploader: u16,
    execution: &Execution,
) -> Vec<Event> {
    let record = disputes::state::dispute(market.chain.ledger.store(), dispute).unwrap();
    let step = record.isolated_step().expect("isolated");
    let bytes = execution.activations[step as usize].to_bytes();
    let mut all = Vec::new();
    for (index, chunk) in bytes.chunks(100).enumerate() {
        let receipt = market.chain.submit(
            uploader,
            Msg::ProvideStepInput(Box::new(ProvideStepInput {
                dispute,
                total: bytes.len() as u64,
                offset: (index * 100) as u64,
                bytes: chunk.to_vec(),
            })),
        );
        assert!(receipt.is_ok(), "{:?}", receipt.error);
        all.extend(receipt.events);
    }
    all
}

/// A job its worker computed honestly, challenged by `CHALLENGER` with a fabricated trace.
struct Challenged {
    job: JobId,
    worker: u16,
    auditor: u16,
    honest: Execution,
    fabricated: Execution,
    dispute: u64,
}

fn falsely_challenged(market: &mut Market) -> Challenged {
    let job = market.submit(1);
    let worker = Market::index_of(&market.assignees(&job)[0]);
    let honest = execute(&market.model, &market.job(&job));
    // The worker and its auditor agree: the result is challengeable, its audit done.
    market.seal_and_reveal(&job, &[(worker, &honest), (AUDITOR, &honest)]);
    let auditor = market.auditor(&job);
    assert_eq!(
        market.job(&job).audits[0].clone().outcome,
        AuditOutcome::Agreed
    );
    let fabricated = tamper(&honest);
    let steps = honest.trace.len();
    market.chain.submit_ok(
        CHALLENGER,
        Msg::Challenge(Box::new(Challenge {
            job,
            operator: crate::common::operator(worker),
            output_hash: fabricated.output.hash(),
            trace_root: fabricated.trace.root(),
            output_proof: fabricated.trace.proof(steps - 1).unwrap(),
        })),
    );
    let dispute = dispute_of(market, &job);
    Challenged {
        job,
        worker,
        auditor,
        honest,
        fabricated,
        dispute,
    }
}

/// A one-replica job whose assignee tampered with its output and whose auditor disputed it,
/// bisected down to the referee's input phase.
struct Bisected {
    job: JobId,
    liar: u16,
    auditor: u16,
    honest: Execution,
    dispute: u64,
}

fn tampered_and_bisected(market: &mut Market) -> Bisected {
    let job = market.submit(1);
    let liar = Market::index_of(&market.assignees(&job)[0]);
    let honest = execute(&market.model, &market.job(&job));
    let tampered = tamper(&honest);
    market.seal_and_reveal(&job, &[(liar, &tampered), (AUDITOR, &honest)]);
    let auditor = market.auditor(&job);
    let dispute = dispute_of(market, &job);
    bisect(market, dispute, (liar, &tampered), (auditor, &honest));
    Bisected {
        job,
        liar,
        auditor,
        honest,
        dispute,
    }
}

/// The leaf index the dispute's current bisection move asks for.
fn bisect_index(market: &Market, dispute: u64) -> u64 {
    match disputes::state::dispute(market.chain.ledger.store(), dispute)
        .unwrap()
        .phase
    {
        Phase::Bisect { index, .. } => index,
        other => panic!("{other:?}"),
    }
}

fn run_until_final(market: &mut Market, job: &JobId) {
    for _ in 0..20 {
        if !matches!(
            market.job(job).status,
            JobStatus::Challengeable { .. } | JobStatus::Assigned | JobStatus::Revealing { .. }
        ) {
            break;
        }
        market.chain.block(&[]);
    }
}

fn dispute_of(market: &Market, job: &JobId) -> u64 {
    match market.job(job).status {
        JobStatus::Disputed { dispute } => dispute,
        other => panic!("job is not disputed: {other:?}"),
    }
}

#[test]
fn an_honest_job_is_audited_made_final_and_pays_operator_delegators_and_audit_fund() {
    let mut market = market();
    let job = market.submit(1);
    let worker = Market::index_of(&market.assignees(&job)[0]);
    let execution = execute(&market.model, &market.job(&job));
    // The auditor was designated with the worker, and is audited with certainty: both seal,
    // then both reveal, and the auditor agrees.
    market.seal_and_reveal(&job, &[(worker, &execution), (AUDITOR, &execution)]);
    let auditor = market.auditor(&job);
    assert_ne!(auditor, worker);
    assert_eq!(
        market.job(&job).audits[0].clone().outcome,
        AuditOutcome::Agreed
    );
    let balance = market.chain.balance(worker);
    run_until_final(&mut market, &job);
    assert!(market.job(&job).is_final());
    assert_eq!(market.chain.pool(Pool::JobEscrow), Amount::ZERO);
    // 10% of the fee to the audit fund, which then paid the auditor's reward (capped by
    // the fund); the worker's 90% pays its 10% commission to its account.
    let to_operator = FEE - FEE / 10;
    assert_eq!(
        market.chain.balance(worker),
        balance.checked_add(Amount::new(to_operator / 10)).unwrap()
    );
    assert_eq!(market.chain.pool(Pool::AuditFund), Amount::ZERO);
}

#[test]
fn a_tampered_output_is_caught_by_audit_lost_in_log_steps_moves_and_slashed() {
    let mut market = market();
    let job = market.submit(1);
    let liar = Market::index_of(&market.assignees(&job)[0]);
    let honest = execute(&market.model, &market.job(&job));
    let tampered = tamper(&honest);
    let client_balance = market.chain.balance(CLIENT);
    market.seal_and_reveal(&job, &[(liar, &tampered), (AUDITOR, &honest)]);
    let auditor = market.auditor(&job);
    let dispute = dispute_of(&market, &job);
    let reveals = bisect(&mut market, dispute, (liar, &tampered), (auditor, &honest));
    let steps = market.model.program().len() as u64;
    let rounds = 64 - (steps - 1).leading_zeros() as u64;
    assert!(reveals <= 2 * rounds, "{reveals} reveals for {steps} steps");
    let record = disputes::state::dispute(market.chain.ledger.store(), dispute).unwrap();
    assert_eq!(record.isolated_step(), Some(steps - 1));
    // The honest auditor hands the referee the agreed input; the ledger runs one step.
    let events = provide_input(&mut market, dispute, auditor, &honest);
    assert!(events.contains(&Event::Disputes(
        surety_ledger::disputes::DisputesEvent::DisputeResolved {
            dispute,
            outcome: Outcome::ChallengerRight
        }
    )));
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Slashing(surety_ledger::slashing::SlashingEvent::OffenceReported { operator, kind: FaultKind::WrongResult, .. })
            if *operator == crate::common::operator(liar)
    )));
    let liar_record = market.chain.operator(liar);
    assert!(liar_record.jailed && liar_record.is_frozen());
    assert!(matches!(market.job(&job).status, JobStatus::Failed { .. }));
    // Refunded at once.
    assert_eq!(
        market.chain.balance(CLIENT),
        client_balance.checked_add(Amount::new(FEE)).unwrap()
    );
    // The slash applies after the delay and takes 10% of the allocation, not of the stake;
    // the auditor, who reported, gets the whistleblower share.
    let auditor_balance = market.chain.balance(auditor);
    let apply =
        market.chain.epoch().get() + market.chain.ledger.params().slashing.slash_delay_epochs;
    let mut slashed = None;
    while market.chain.epoch() < Epoch::new(apply + 1) && slashed.is_none() {
        let outcome = market.chain.block(&[]);
        slashed = outcome.events.iter().find_map(|e| match e {
            Event::Slashing(surety_ledger::slashing::SlashingEvent::Slashed {
                operator,
                amount,
                ..
            }) if *operator == crate::common::operator(liar) => Some(*amount),
            _ => None,
        });
    }
    assert_eq!(slashed, Some(Amount::new(ALLOCATION / 5)));
    assert_eq!(
        market.chain.operator(liar).tokens,
        Amount::new(200_000 - ALLOCATION / 5)
    );
    assert_eq!(
        market.chain.balance(auditor),
        auditor_balance
            .checked_add(Amount::new(ALLOCATION / 5 / 10))
            .unwrap()
    );
}

#[test]
fn an_operator_serving_other_weights_is_caught_at_the_first_step_that_reads_them() {
    let mut market = market();
    let job = market.submit(1);
    let cheat = Market::index_of(&market.assignees(&job)[0]);
    let other_model = model_from(&weights(7));
    let honest = execute(&market.model, &market.job(&job));
    let other = execute(&other_model, &market.job(&job));
    market.seal_and_reveal(&job, &[(cheat, &other), (AUDITOR, &honest)]);
    let auditor = market.auditor(&job);
    let dispute = dispute_of(&market, &job);
    bisect(&mut market, dispute, (cheat, &other), (auditor, &honest));
    // Step 0 (the first linear layer) already differs: its input is the job input, which
    // the ledger holds, so the referee runs at the end of the block after the one that
    // isolated it, without an upload.
    let record = disputes::state::dispute(market.chain.ledger.store(), dispute).unwrap();
    assert!(matches!(record.phase, Phase::AwaitInput { .. }));
    market.chain.block(&[]);
    let record = disputes::state::dispute(market.chain.ledger.store(), dispute).unwrap();
    assert_eq!(record.isolated_step(), Some(0));
    assert!(matches!(
        record.phase,
        Phase::Resolved {
            outcome: Outcome::ChallengerRight,
            ..
        }
    ));
    assert!(market.chain.operator(cheat).jailed);
}

#[test]
fn a_silent_defendant_loses_when_the_input_never_comes() {
    let mut market = market();
    let Bisected { liar, dispute, .. } = tampered_and_bisected(&mut market);
    market
        .chain
        .run_blocks(market.chain.ledger.params().disputes.dispute_input_blocks);
    let record = disputes::state::dispute(market.chain.ledger.store(), dispute).unwrap();
    assert!(matches!(
        record.phase,
        Phase::Resolved {
            outcome: Outcome::Timeout { ref silent },
            ..
        } if silent == &vec![disputes::Party::Defendant]
    ));
    assert!(market.chain.operator(liar).jailed);
}

/// A dispute whose due item fails cannot be left open: nothing would move it again, and its
/// job, the client's escrow and both parties' holds would wait for ever. Here the liar's result
/// is broken on purpose (a committed height in the future, so its offence cannot be reported,
/// as a bug could make it), and the defendant's timeout cannot settle: the dispute is voided
/// with no verdict, both holds are released, the job fails with the client refunded, and the
/// chain goes on.
#[test]
fn a_dispute_the_ledger_cannot_settle_is_voided_its_holds_released_and_the_client_refunded() {
    let mut market = market();
    let client_before = market.chain.balance(CLIENT);
    let Bisected {
        job,
        liar,
        auditor,
        dispute,
        ..
    } = tampered_and_bisected(&mut market);
    assert_eq!(market.chain.operator(liar).dispute_holds, 1);
    assert_eq!(market.chain.operator(auditor).dispute_holds, 1);
    let store = market.chain.ledger.store_mut();
    let mut record = jobs::state::job(store, &job).unwrap();
    for assignment in record.assignments.iter_mut() {
        if let Some(result) = assignment.result.as_mut() {
            result.committed = Height::new(u64::MAX);
        }
    }
    store.put(surety_ledger::store::key("jobs/job", &[&job.0]), &record);
    let mut failed = Vec::new();
    let mut voided = false;
    for _ in 0..market.chain.ledger.params().disputes.dispute_input_blocks + 2 {
        let events = market.chain.block_allowing_failed_items(&[]).events;
        failed.extend(
            events
                .iter()
                .filter(|e| matches!(e, Event::Hook(_)))
                .cloned(),
        );
        voided |= events.iter().any(|e| {
            matches!(
                e,
                Event::Disputes(disputes::DisputesEvent::DisputeResolved {
                    dispute: d,
                    outcome: Outcome::Void,
                }) if *d == dispute
            )
        });
    }
    // One failed item, reported; the fallback itself did not fail.
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(voided);
    let record = disputes::state::dispute(market.chain.ledger.store(), dispute).unwrap();
    assert!(matches!(
        record.phase,
        Phase::Resolved {
            outcome: Outcome::Void,
            ..
        }
    ));
    // Nobody was slashed, both are free to move their stake, and the client has its fee back
    // (it paid the transaction fee of its submission only).
    for party in [liar, auditor] {
        let operator = market.chain.operator(party);
        assert_eq!(operator.dispute_holds, 0);
        assert_eq!(operator.pending_slashes, 0);
    }
    assert!(matches!(market.job(&job).status, JobStatus::Failed { .. }));
    assert_eq!(
        market.chain.balance(CLIENT),
        client_before.saturating_sub(Amount::new(10))
    );
    // The chain goes on: a new job is taken and final.
    let next = market.submit(1);
    let worker = Market::index_of(&market.assignees(&next)[0]);
    let honest = execute(&market.model, &market.job(&next));
    market.seal_and_reveal(&next, &[(worker, &honest), (AUDITOR, &honest)]);
    run_until_final(&mut market, &next);
}

/// A one-step model's disputes are all at step 0, whose referee needs no input upload. The
/// review of the void fallback found that one opened in a block's end hook (here by the
/// results' compare at the reveal deadline, after a replica withheld its reveal) was scheduled
/// for the height the court had already passed in that hook, and stayed open for ever: its
/// job `Disputed`, its parties frozen, the wrong result never slashed. It is judged in the
/// next block.
#[test]
fn a_step_zero_dispute_opened_in_the_end_hook_is_judged_in_the_next_block() {
    let mut market = market_of(&market_genesis(market_params()), &[1, 2, 3, 4], &[8, 4]);
    assert_eq!(market.model.program().len(), 1);
    let job = market.submit(3);
    let assignees: Vec<u16> = market
        .assignees(&job)
        .iter()
        .map(Market::index_of)
        .collect();
    let (honest_one, liar, silent) = (assignees[0], assignees[1], assignees[2]);
    let honest = execute(&market.model, &market.job(&job));
    let tampered = tamper(&honest);
    market.seal_block(&[
        (honest_one, job, &honest),
        (liar, job, &tampered),
        (silent, job, &honest),
    ]);
    market.until_revealing(&job);
    market.reveal_block(&[(honest_one, job, &honest), (liar, job, &tampered)]);
    let mut opened = None;
    for _ in 0..20 {
        market.chain.block(&[]);
        if let JobStatus::Disputed { dispute } = market.job(&job).status {
            opened.get_or_insert(dispute);
        }
        let resolved = opened.is_some_and(|d| {
            !disputes::state::dispute(market.chain.ledger.store(), d)
                .unwrap()
                .is_open()
        });
        if resolved {
            break;
        }
    }
    let dispute = opened.expect("the compare at the reveal deadline opened a dispute");
    let record = disputes::state::dispute(market.chain.ledger.store(), dispute).unwrap();
    assert_eq!(record.isolated_step(), Some(0));
    let Phase::Resolved { outcome, .. } = record.phase else {
        panic!("dispute {dispute} is still open: {:?}", record.phase);
    };
    assert!(
        matches!(outcome, Outcome::ChallengerRight | Outcome::DefendantRight),
        "{outcome:?}"
    );
    // The liar is slashed; the honest replica is free again.
    assert!(market.chain.operator(liar).pending_slashes > 0);
    assert_eq!(market.chain.operator(honest_one).dispute_holds, 0);
    assert_eq!(market.chain.operator(liar).dispute_holds, 0);
    assert!(!matches!(
        market.job(&job).status,
        JobStatus::Disputed { .. }
    ));
}

#[test]
fn a_false_challenger_loses_its_bond_and_the_result_stands() {
    let mut market = market();
    let balance = market.chain.balance(CHALLENGER);
    let insurance = market.chain.pool(Pool::Insurance);
    let Challenged {
        job,
        worker,
        honest,
        fabricated,
        dispute,
        ..
    } = falsely_challenged(&mut market);
    let bond = market.chain.ledger.params().disputes.challenge_bond;
    assert_eq!(market.chain.pool(Pool::DisputeBonds), bond);
    bisect(
        &mut market,
        dispute,
        (worker, &honest),
        (CHALLENGER, &fabricated),
    );
    let events = provide_input(&mut market, dispute, worker, &honest);
    assert!(events.contains(&Event::Disputes(
        surety_ledger::disputes::DisputesEvent::DisputeResolved {
            dispute,
            outcome: Outcome::DefendantRight
        }
    )));
    assert_eq!(market.chain.pool(Pool::DisputeBonds), Amount::ZERO);
    // Loser pays: the defendant's recorded costs from the bond, the rest to insurance
    // (tests/it/griefing.rs plays it with the numbers).
    let costs = disputes::state::dispute(market.chain.ledger.store(), dispute)
        .unwrap()
        .costs
        .defendant;
    assert_eq!(
        market.chain.pool(Pool::Insurance),
        insurance
            .checked_add(bond)
            .unwrap()
            .checked_sub(costs)
            .unwrap()
    );
    // The bond and the transaction fees are gone.
    assert!(market.chain.balance(CHALLENGER) < balance.checked_sub(bond).unwrap());
    assert!(!market.chain.operator(worker).jailed);
    run_until_final(&mut market, &job);
    assert!(market.job(&job).is_final());
}

#[test]
fn a_challenger_silent_in_the_bisection_loses() {
    let mut market = market();
    let Challenged {
        worker,
        honest,
        dispute,
        ..
    } = falsely_challenged(&mut market);
    // Only the defendant answers the first move.
    let index = bisect_index(&market, dispute);
    market.chain.submit_ok(
        worker,
        Msg::RevealStep(Box::new(RevealStep {
            dispute,
            index,
            step_hash: honest.trace.step_hashes[index as usize],
            proof: honest.trace.proof(index as usize).unwrap(),
        })),
    );
    market
        .chain
        .run_blocks(market.chain.ledger.params().disputes.dispute_move_blocks);
    let record = disputes::state::dispute(market.chain.ledger.store(), dispute).unwrap();
    assert!(matches!(
        record.phase,
        Phase::Resolved {
            outcome: Outcome::Timeout { ref silent },
            ..
        } if silent == &vec![disputes::Party::Challenger]
    ));
    assert_eq!(market.chain.pool(Pool::DisputeBonds), Amount::ZERO);
}

#[test]
fn a_reveal_that_does_not_match_the_party_s_own_root_is_refused() {
    let mut market = market();
    let Challenged {
        fabricated,
        dispute,
        ..
    } = falsely_challenged(&mut market);
    let index = bisect_index(&market, dispute);
    // The challenger tries to claim a leaf that is not in its committed trace.
    let receipt = market.chain.submit(
        CHALLENGER,
        Msg::RevealStep(Box::new(RevealStep {
            dispute,
            index,
            step_hash: Hash::of("made up", b""),
            proof: fabricated.trace.proof(index as usize).unwrap(),
        })),
    );
    assert!(matches!(
        receipt.error_kind,
        Some(TxError::Disputes(DisputesError::BadProof { .. }))
    ));
}

#[test]
fn a_late_operator_is_penalised_and_the_job_reassigned() {
    let mut market = market();
    let job = market.submit(1);
    let late = market.assignees(&job)[0];
    // The worker never seals; no auditor is drawn while it owes its seal.
    let execution = execute(&market.model, &market.job(&job));
    let mut missed = Vec::new();
    for _ in 0..6 {
        missed.extend(events(&market.chain.block(&[])));
        assert!(market.job(&job).audits.is_empty());
    }
    assert_eq!(
        reported(&missed, FaultKind::MissedDeadline),
        vec![late],
        "the late worker is reported"
    );
    // A market fault is not a consensus one: the late operator keeps validating, frozen (no
    // stake moves, no new work) until its small slash applies.
    let record = market.chain.operator(Market::index_of(&late));
    assert!(!record.jailed && record.is_frozen());
    assert!(market.chain.active_set().contains(&late));
    let record = market.job(&job);
    assert_eq!(record.reassignments, 1);
    let now = market.assignees(&job);
    assert_eq!(now.len(), 1);
    assert_ne!(now[0], late);
    assert_eq!(record.status, JobStatus::Assigned);
    // The new operator seals, its auditor is drawn (neither it nor the late one) and seals,
    // then both reveal: the auditor agrees.
    let worker = Market::index_of(&now[0]);
    market.seal_and_reveal(&job, &[(worker, &execution), (AUDITOR, &execution)]);
    let auditor = operator(market.auditor(&job));
    assert!(auditor != now[0] && auditor != late, "nor is the auditor");
    assert_eq!(
        market.job(&job).audits[0].clone().outcome,
        AuditOutcome::Agreed
    );
    run_until_final(&mut market, &job);
    assert!(market.job(&job).is_final());
}

#[test]
fn replicas_that_disagree_open_a_dispute_and_the_wrong_one_is_slashed() {
    let mut market = market();
    let job = market.submit(2);
    let assignees = market.assignees(&job);
    assert_eq!(assignees.len(), 2);
    let (first, second) = (
        Market::index_of(&assignees[0]),
        Market::index_of(&assignees[1]),
    );
    let honest = execute(&market.model, &market.job(&job));
    let tampered = tamper(&honest);
    // The auditor, designated outside both, seals and reveals with them and agrees with the
    // first replica.
    market.seal_and_reveal(
        &job,
        &[(first, &honest), (second, &tampered), (AUDITOR, &honest)],
    );
    let auditor = market.auditor(&job);
    assert!(![first, second].contains(&auditor));
    let dispute = dispute_of(&market, &job);
    assert_eq!(
        market.job(&job).audits[0].clone().outcome,
        AuditOutcome::Agreed
    );
    bisect(&mut market, dispute, (first, &honest), (second, &tampered));
    let events = provide_input(&mut market, dispute, first, &honest);
    assert!(events.contains(&Event::Disputes(
        surety_ledger::disputes::DisputesEvent::DisputeResolved {
            dispute,
            outcome: Outcome::DefendantRight
        }
    )));
    assert!(market.chain.operator(second).jailed);
    assert!(!market.chain.operator(first).jailed);
    run_until_final(&mut market, &job);
    assert!(market.job(&job).is_final());
    assert_eq!(market.assignees(&job), vec![crate::common::operator(first)]);
}

#[test]
fn two_different_signed_results_are_equivocation_evidence() {
    let mut market = market();
    let job = market.submit(1);
    let worker = Market::index_of(&market.assignees(&job)[0]);
    let honest = execute(&market.model, &market.job(&job));
    let tampered = tamper(&honest);
    let sign = |execution: &Execution| {
        ResultStatement {
            chain_id: CHAIN.into(),
            job,
            output_hash: execution.output.hash(),
            trace_root: execution.trace.root(),
            steps: execution.trace.len() as u64,
        }
        .sign(&key(worker))
    };
    let receipt = market.chain.submit_ok(
        CHALLENGER,
        Msg::SubmitEvidence(Box::new(Evidence::ResultEquivocation {
            first: sign(&honest),
            second: sign(&tampered),
        })),
    );
    assert!(receipt.events.iter().any(|e| matches!(
        e,
        Event::Slashing(surety_ledger::slashing::SlashingEvent::OffenceReported {
            kind: FaultKind::Equivocation,
            ..
        })
    )));
    assert!(market.chain.operator(worker).tombstoned);
    // After the delay it is slashed 5% (equivocation) of its allocation, not of its stake.
    let apply =
        market.chain.epoch().get() + market.chain.ledger.params().slashing.slash_delay_epochs;
    let mut slashed = None;
    while market.chain.epoch() < Epoch::new(apply + 1) && slashed.is_none() {
        let outcome = market.chain.block(&[]);
        slashed = outcome.events.iter().find_map(|e| match e {
            Event::Slashing(surety_ledger::slashing::SlashingEvent::Slashed {
                operator,
                amount,
                ..
            }) if *operator == crate::common::operator(worker) => Some(*amount),
            _ => None,
        });
    }
    assert_eq!(slashed, Some(Amount::new(ALLOCATION * 5 / 100)));
    // The same statement twice proves nothing.
    let receipt = market.chain.submit(
        CHALLENGER,
        Msg::SubmitEvidence(Box::new(Evidence::ResultEquivocation {
            first: sign(&honest),
            second: sign(&honest),
        })),
    );
    assert!(!receipt.is_ok());
}

#[test]
fn malformed_and_oversized_jobs_are_refused_with_clear_errors() {
    let mut market = market();
    let base = SubmitJob {
        model: market.id,
        input: JobInput::Activation(input(1.0).to_bytes()),
        max_fee: Amount::new(FEE),
        deadline_blocks: 5,
        replicas: 1,
    };
    type Case = (SubmitJob, fn(&JobsError) -> bool);
    let cases: Vec<Case> = vec![
        (
            SubmitJob {
                max_fee: Amount::new(1),
                ..base.clone()
            },
            |e| matches!(e, JobsError::FeeOutOfRange { .. }),
        ),
        (
            SubmitJob {
                replicas: 99,
                ..base.clone()
            },
            |e| matches!(e, JobsError::Replicas { .. }),
        ),
        (
            SubmitJob {
                deadline_blocks: 1,
                ..base.clone()
            },
            |e| matches!(e, JobsError::Deadline { .. }),
        ),
        (
            SubmitJob {
                input: JobInput::Activation(vec![0; 5_000]),
                ..base.clone()
            },
            |e| matches!(e, JobsError::InputTooLarge { .. }),
        ),
        (
            SubmitJob {
                input: JobInput::Activation(vec![1, 2, 3]),
                ..base.clone()
            },
            |e| matches!(e, JobsError::BadInput(_)),
        ),
        (
            SubmitJob {
                input: JobInput::Text("hello".into()),
                ..base.clone()
            },
            |e| matches!(e, JobsError::NotTextModel(_)),
        ),
        (
            SubmitJob {
                model: ModelId([7; 32]),
                ..base.clone()
            },
            |e| matches!(e, JobsError::Models(_)),
        ),
        (
            SubmitJob {
                replicas: 5,
                ..base.clone()
            },
            |e| matches!(e, JobsError::NotEnoughOperators { .. }),
        ),
    ];
    for (msg, expected) in cases {
        let balance = market.chain.balance(CLIENT);
        let receipt = market
            .chain
            .submit(CLIENT, Msg::SubmitJob(Box::new(msg.clone())));
        match &receipt.error_kind {
            Some(TxError::Jobs(error)) => assert!(expected(error), "{msg:?}: {error}"),
            other => panic!("{msg:?}: {other:?}"),
        }
        // Only the transaction fee was charged: nothing escrowed.
        assert_eq!(
            market.chain.balance(CLIENT),
            balance.checked_sub(Amount::new(10)).unwrap()
        );
    }
    assert_eq!(market.chain.pool(Pool::JobEscrow), Amount::ZERO);
    // Wrong input width, well-formed activation.
    let mut wide = Activation::new();
    wide.set("input", Tensor::f32(vec![1, 9], vec![0.0; 9]));
    let receipt = market.chain.submit(
        CLIENT,
        Msg::SubmitJob(Box::new(SubmitJob {
            input: JobInput::Activation(wide.to_bytes()),
            ..base
        })),
    );
    assert!(matches!(
        receipt.error_kind,
        Some(TxError::Jobs(JobsError::BadInput(_)))
    ));
}

#[test]
fn a_result_from_an_operator_not_assigned_is_refused() {
    let mut market = market();
    let job = market.submit(1);
    let worker = Market::index_of(&market.assignees(&job)[0]);
    let honest = execute(&market.model, &market.job(&job));
    // Before the seals nobody but the assignee works on the job: the auditor is not drawn.
    let outsider = (1..=4).find(|n| *n != worker).unwrap();
    let receipt = market
        .chain
        .submit(outsider, seal_msg(outsider, &job, &honest));
    assert!(matches!(
        receipt.error_kind,
        Some(TxError::Jobs(JobsError::NotAssigned { .. }))
    ));
    // Nor is its reveal taken once the job's parties have sealed.
    market.seal_block(&[(worker, job, &honest), (AUDITOR, job, &honest)]);
    let auditor = market.auditor(&job);
    let other = (1..=4).find(|n| *n != worker && *n != auditor).unwrap();
    let receipt = market.chain.submit(other, reveal_msg(other, &job, &honest));
    assert!(matches!(
        receipt.error_kind,
        Some(TxError::Jobs(JobsError::NotAssigned { .. }))
    ));
}

#[test]
fn a_job_refused_by_its_shape_in_a_block_charges_nothing() {
    let mut market = market();
    let balance = market.chain.balance(CLIENT);
    let nonce = market.chain.nonce(CLIENT);
    let receipt = market.chain.submit(
        CLIENT,
        Msg::SubmitJob(Box::new(SubmitJob {
            model: market.id,
            input: JobInput::Activation(input(1.0).to_bytes()),
            max_fee: Amount::new(FEE),
            deadline_blocks: 5,
            replicas: 0,
        })),
    );
    assert!(matches!(receipt.error_kind, Some(TxError::Jobs(_))));
    assert!(!receipt.charged);
    assert_eq!(market.chain.balance(CLIENT), balance);
    assert_eq!(market.chain.nonce(CLIENT), nonce);
}

/// Hostile transactions against a live market: every kind of market message, taken from a
/// real history (a job, its result, a challenge and its bisection, a model and its chunks, an
/// allocation, equivocation evidence),
/// mutated byte by byte, truncated or extended, then re-signed when it still decodes (so it
/// reaches execution) or sent as mangled signed bytes when it does not. Whatever arrives, the
/// block applies, the bad transactions fail with typed errors, and every invariant holds after
/// every block (`Chain::block` checks them). A panic anywhere fails the test.
mod hostile_transactions {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    struct Mutation {
        seed: usize,
        /// (position mod length, new byte)
        writes: Vec<(usize, u8)>,
        /// Cut to (length mod this) if some; then append these bytes.
        cut: Option<usize>,
        append: Vec<u8>,
        signer: u16,
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        (
            any::<usize>(),
            prop::collection::vec((any::<usize>(), any::<u8>()), 0..4),
            prop::option::weighted(0.1, any::<usize>()),
            prop::option::weighted(0.1, prop::collection::vec(any::<u8>(), 1..3))
                .prop_map(Option::unwrap_or_default),
            prop_oneof![
                Just(1u16),
                Just(2),
                Just(CLIENT),
                Just(CHALLENGER),
                Just(PUBLISHER)
            ],
        )
            .prop_map(|(seed, writes, cut, append, signer)| Mutation {
                seed,
                writes,
                cut,
                append,
                signer,
            })
    }

    fn mutate(mut bytes: Vec<u8>, mutation: &Mutation) -> Vec<u8> {
        if !bytes.is_empty() {
            for &(position, value) in &mutation.writes {
                let at = position % bytes.len();
                bytes[at] = value;
            }
        }
        if let Some(cut) = mutation.cut {
            bytes.truncate(cut % (bytes.len() + 1));
        }
        bytes.extend_from_slice(&mutation.append);
        bytes
    }

    /// A market with a falsely challenged job in bisection, and one real message of every kind
    /// the market takes.
    fn scene() -> (Market, Vec<Msg>) {
        let mut market = market();
        let challenged = falsely_challenged(&mut market);
        let record =
            disputes::state::dispute(market.chain.ledger.store(), challenged.dispute).unwrap();
        let Phase::Bisect { index, .. } = record.phase else {
            panic!("the dispute starts in bisection");
        };
        let other = weights(7);
        let (register, uploads) = publish(&model_from(&other), &other, 256);
        let honest = &challenged.honest;
        let statement = |execution: &Execution| {
            ResultStatement {
                chain_id: CHAIN.into(),
                job: challenged.job,
                output_hash: execution.output.hash(),
                trace_root: execution.trace.root(),
                steps: execution.trace.len() as u64,
            }
            .sign(&key(challenged.worker))
        };
        let step_input = honest.activations[index as usize].to_bytes();
        let seeds = vec![
            Msg::SubmitJob(Box::new(SubmitJob {
                model: market.id,
                input: JobInput::Activation(input(0.5).to_bytes()),
                max_fee: Amount::new(FEE),
                deadline_blocks: 5,
                replicas: 1,
            })),
            seal_msg(challenged.worker, &challenged.job, honest),
            reveal_msg(challenged.worker, &challenged.job, honest),
            reveal_msg(challenged.auditor, &challenged.job, honest),
            Msg::Challenge(Box::new(Challenge {
                job: challenged.job,
                operator: crate::common::operator(challenged.worker),
                output_hash: challenged.fabricated.output.hash(),
                trace_root: challenged.fabricated.trace.root(),
                output_proof: challenged
                    .fabricated
                    .trace
                    .proof(honest.trace.len() - 1)
                    .unwrap(),
            })),
            Msg::RevealStep(Box::new(RevealStep {
                dispute: challenged.dispute,
                index,
                step_hash: honest.trace.step_hashes[index as usize],
                proof: honest.trace.proof(index as usize).unwrap(),
            })),
            Msg::ProvideStepInput(Box::new(ProvideStepInput {
                dispute: challenged.dispute,
                total: step_input.len() as u64,
                offset: 0,
                bytes: step_input[..step_input.len().min(100)].to_vec(),
            })),
            Msg::RegisterModel(Box::new(register)),
            uploads[0].clone(),
            Msg::Allocate(Allocate {
                model: market.id,
                amount: Amount::new(ALLOCATION),
            }),
            Msg::SubmitEvidence(Box::new(Evidence::ResultEquivocation {
                first: statement(honest),
                second: statement(&challenged.fabricated),
            })),
        ];
        (market, seeds)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, max_shrink_iters: 100, ..ProptestConfig::default() })]

        #[test]
        fn mutated_market_transactions_fail_cleanly_and_keep_every_invariant(
            mutations in prop::collection::vec(mutation(), 1..16)
        ) {
            let (mut market, seeds) = scene();
            for mutation in &mutations {
                let seed = &seeds[mutation.seed % seeds.len()];
                let bytes = mutate(surety_types::encoding::encode(seed), mutation);
                let tx = match borsh::from_slice::<Msg>(&bytes) {
                    // Still a message: signed properly, so that it reaches execution.
                    Ok(msg) => market.chain.sign(mutation.signer, msg),
                    // Not one: the mangled bytes go out as a signed transaction's payload.
                    Err(_) => {
                        let signed = market.chain.sign(mutation.signer, seed.clone());
                        mutate(signed, mutation)
                    }
                };
                // Admission may refuse it; the block must take it either way.
                let _ = market.chain.ledger.check_stateless(&tx);
                let outcome = market.chain.block(&[tx]);
                prop_assert_eq!(outcome.receipts.len(), 1);
                let receipt = &outcome.receipts[0];
                prop_assert_eq!(receipt.error.is_some(), receipt.error_kind.is_some());
            }
        }
    }
}

/// Hash of every committed entry except the parameters' (whose keys moved when they went per
/// module: `ledger/params` then, `<module>/params` now), so two ledger versions can be shown to
/// hold the same state.
fn digest_without_params(ledger: &surety_ledger::Ledger) -> Hash {
    let mut bytes = Vec::new();
    for (key, value) in ledger.store().committed_entries() {
        if key.as_slice() == b"ledger/params" || key.ends_with(b"/params") {
            continue;
        }
        bytes.extend_from_slice(&(key.len() as u64).to_be_bytes());
        bytes.extend_from_slice(key);
        bytes.extend_from_slice(&(value.len() as u64).to_be_bytes());
        bytes.extend_from_slice(value);
    }
    Hash::of("test.state-digest", &bytes)
}

/// A market history (an honest job made final; a tampered one caught by audit, disputed and
/// slashed; a false challenge lost; then epochs run until the slash applies) ends in roots
/// pinned here, so a refactor can show it changed no state. The digests without the
/// parameters were the same before parameters moved into per-module keys.
#[test]
fn a_market_history_reaches_pinned_state_roots() {
    let mut market = market();
    let mut roots = vec![market.chain.ledger.state_root()];
    let mut digests = vec![digest_without_params(&market.chain.ledger)];
    let job = market.submit(1);
    let worker = Market::index_of(&market.assignees(&job)[0]);
    let honest = execute(&market.model, &market.job(&job));
    market.seal_and_reveal(&job, &[(worker, &honest), (AUDITOR, &honest)]);
    run_until_final(&mut market, &job);
    roots.push(market.chain.ledger.state_root());
    digests.push(digest_without_params(&market.chain.ledger));
    let job = market.submit(1);
    let liar = Market::index_of(&market.assignees(&job)[0]);
    let honest = execute(&market.model, &market.job(&job));
    let tampered = tamper(&honest);
    market.seal_and_reveal(&job, &[(liar, &tampered), (AUDITOR, &honest)]);
    let auditor = market.auditor(&job);
    let dispute = dispute_of(&market, &job);
    bisect(&mut market, dispute, (liar, &tampered), (auditor, &honest));
    provide_input(&mut market, dispute, auditor, &honest);
    roots.push(market.chain.ledger.state_root());
    digests.push(digest_without_params(&market.chain.ledger));
    let Challenged {
        job,
        worker,
        honest,
        fabricated,
        dispute,
        ..
    } = falsely_challenged(&mut market);
    bisect(
        &mut market,
        dispute,
        (worker, &honest),
        (CHALLENGER, &fabricated),
    );
    provide_input(&mut market, dispute, worker, &honest);
    run_until_final(&mut market, &job);
    market.chain.run_blocks(30);
    roots.push(market.chain.ledger.state_root());
    digests.push(digest_without_params(&market.chain.ledger));
    let hex = |hashes: &[Hash]| hashes.iter().map(|h| h.to_string()).collect::<Vec<_>>();
    println!("roots {:?}", hex(&roots));
    println!("digests without params {:?}", hex(&digests));
    assert_eq!(hex(&digests), PINNED_DIGESTS);
    assert_eq!(hex(&roots), PINNED_ROOTS);
}

/// Measured on the ledger before and after parameters moved into per-module keys: equal
/// (state format 3). State format 4 changed them: every operator record gained
/// `dispute_holds` (the freeze of a dispute's parties). State formats 5 and 6 changed all but the
/// genesis digest: assignments, audits and disputes gained `stretch` (deadlines that stretch
/// while blocks are full), `jobs/in_flight/<operator>` holds each operator's fees in flight,
/// closed jobs are queued to be pruned (`jobs/prune/...`), disputes are indexed by job
/// (`disputes/by-job/...`), and the 30 blocks at the end prune both jobs closed before them.
/// State format 7 (blind results) changed all four. The genesis digest only by the operators'
/// metadata gaining `family`: with that field left out of the encoding it was still
/// `c9c654e3…` (checked when re-pinning). The other three also because the history itself
/// changed: every party seals in one block and reveals in the next, the auditor is designated
/// at assignment (with the block seed of that block) rather than drawn after the commit,
/// assignments and audits hold seals, audits their VRF selection, and jobs pass through
/// `Revealing`. The griefing merge (loser pays, #13) then changed the last two, re-pinned
/// when its tests were ported (the first two, taken before any dispute, stayed): dispute
/// records gained both sides' original outputs (`defendant_output`, `challenger_output`)
/// and their `costs`, and the false challenger's bond now pays the honest defendant's costs
/// (50) before the rest goes to the insurance pool. Suspects (#13) changed none of them: no
/// result in this history shares a losing output under another root. The auditor revealing
/// after the assignees (only once their results are compared) changed the middle two: in
/// each reveal block the worker's reveal goes first and the auditor's after it, so the audit
/// is taken only after the compare, which gives the auditor its own reveal deadline (the
/// compare's height + `reveal_blocks`) and schedules the job for it; the first (genesis) and
/// the last (after the 30 blocks, both jobs pruned) did not move. State format 8 (the auditor
/// drawn only once every assignee has sealed, with the seed of a block at least three
/// later) moved the last three: the auditor is designated in a later block, with another
/// seed, its seal comes in a block of its own, and every later height moved. Family consent
/// moved all four, only by every operator record's metadata gaining `family_consent` (one
/// byte, `None`, here): with that field left out of the encoding (`#[borsh(skip)]`) the
/// four were still `ac0bb8fd…`, `88d51f3a…`, `b187d4da…` and `cb09cf2f…` (checked when
/// re-pinning). State format 9 (private sortition) moved all four: the test market now runs
/// to the start of an epoch before its first job (so every server is in the epoch's audit
/// pool), which puts the pool (`jobs/pool/...`) in the first digest and moves every later
/// height; jobs hold a claim window and a list of audits instead of one designated audit;
/// the auditor claims in a block of its own and the reveals wait for the window's end; and a
/// wrong result now costs 20% in the test market (so the audit rule holds at `audit_rate`
/// 100% with `x − x²/2`), so the slash is twice what it was. Then the last three moved again:
/// frozen operators stay in an epoch's audit pool (the third is taken during a dispute whose
/// parties are frozen across an epoch's end), and the claim window opens with the seed of a
/// block after the last seal (`audit_seed_delay`, tests: 1; windows hold `draw_at` and
/// `seed`), so claims land a block later and the test chain's block times (its seeds) are
/// chosen to select an auditor. The audit bound with a block of latency per window moved the
/// middle two: claim windows are two blocks in the tests (one left past the latency), so the
/// reveals wait a block longer, and a claimed auditor's seal deadline has the grace of
/// `deadline_blocks_min` after the job's own; the first (genesis) and the last (both jobs
/// pruned) did not move. State format 10 moved all four, only by every operator record's
/// metadata gaining `family_until` (one byte, `None`, here): with that field left out of the
/// encoding the four were still `f34e2d24…`, `cb383d03…`, `02c84b00…` and `cbe4ffc7…` (checked
/// when re-pinning; the audit pools now taken after the epoch's slashes changed nothing here).
/// The auditor's seal grace becoming `reveal_blocks` (tests: 4, was `deadline_blocks_min`, 3)
/// then moved the middle two.
/// The claim window's opening stretching by a cap of its own (state format 12) moved all four:
/// the tests' epochs are 6 blocks now, not 5 (an epoch holds both caps twice over), which moves
/// every epoch boundary of the history, the market's setup blocks included; and claim windows
/// lost `stretch` (they restart after a slack block, from heights: the middle two).
const PINNED_DIGESTS: [&str; 4] = [
    "e1513af58af8f8284ff51f750d770437fb8cd2600c6e2f4ab78e154c9a419396",
    "a43bd7484c10c4cf90eaa7aa0977f6acfa83e25e6a56606f7ce25d6a3b0a1048",
    "9d7b6116685336659702ed9e03da7c494625945e603f13faaf7b3894021008dc",
    "e8360e462c0edef10e96d743fb7613d873dd9d5b328b4fa8f421011ab8f9d720",
];
/// The roots of state format 7: the above, and the jobs parameters in `jobs/params`, where
/// `reveal_blocks` (tests: 4) took the place of `audit_deadline_blocks` (4) and
/// `collusion_fraction` (tests: 0) is new, and `job_fee_min` and `audit_reward` (tests: 2,000
/// and 200, the audit fund's solvency). With `family` and `collusion_fraction` left out of
/// the encoding the genesis root was still format 6's `247b3b0d…`. The griefing merge (#13)
/// moved all four again, genesis included: `disputes/params` gained `dispute_input_blocks`,
/// `disputes_per_job_max` and `tx_cost_fee_multiple_max` (tests: 4, 3 and 2), and the last two
/// roots moved with their digests. The auditor revealing after the assignees moved the
/// middle two with their digests; the auditor drawn after the seals (format 8) the last three
/// (genesis holds no new parameter). Family consent moved all four with their digests (the
/// operators' `family_consent`; with it left out of the encoding they were still
/// `7eecc77f…`, `de994265…`, `75652e7f…` and `07df6c02…`). Private sortition (format 9) moved
/// all four with their digests, and `jobs/params` gained `audit_claim_blocks` and
/// `audit_seed_delay` (tests: 1 and 1), `slashing/params` holds `wrong_result` 20%. The audit
/// bound's block of latency moved all four: `audit_claim_blocks` is 2 in the tests, and the
/// middle two moved with their digests. State format 10 (`family_until`) moved all four with
/// their digests, and the seal grace the middle two again. State format 11 moved all four and
/// none of the digests: `jobs/params` gained `proposer_offline_margin` (tests: 0). State format
/// 12 moved all four: `jobs/params` lost it again (later rounds stretch the windows instead),
/// and the tests' epochs are 6 blocks (the digests, above).
const PINNED_ROOTS: [&str; 4] = [
    "077e9ab21d852be2c882e1699f41c86bf10eb0f2a2ff0cc0309df0e19aa26a5f",
    "ec5e44f076114baf38362bf1f9ad8513b1f12fba4c992c38bc3c680721ce1aad",
    "7a66545b2352b124b848f9f1a6d3a31075c7cf3f15f6e26fcaaabac774ae01fc",
    "55ad73faf7ea72c13f252c4e474f61c075cdf990aadbeedddf80fabccf874bae",
];

/// Submit a job with its own deadline (blocks each operator has to commit).
fn submit_with_deadline(market: &mut Market, replicas: u32, deadline_blocks: u64) -> JobId {
    let receipt = market.chain.submit_ok(
        CLIENT,
        Msg::SubmitJob(Box::new(SubmitJob {
            model: market.id,
            input: JobInput::Activation(input(1.5).to_bytes()),
            max_fee: Amount::new(FEE),
            deadline_blocks,
            replicas,
        })),
    );
    let job = job_of(&receipt);
    market.chain.block(&[]);
    job
}

/// The review's halt: a job with a long reveal window, two colluding replicas (one reveals at
/// once, the other far later with another output) and a silent defendant. The dispute resolves
/// more than `evidence_max_age_epochs` after the defendant's result; its offence used to be
/// refused as too old inside the end-block hook, which failed every block from then on.
#[test]
fn a_dispute_that_outlasts_the_evidence_age_does_not_halt_the_chain() {
    let mut params = market_params();
    let age_blocks = (params.slashing.evidence_max_age_epochs + 1) * params.staking.epoch_blocks;
    params.jobs.reveal_blocks = age_blocks + 10;
    let mut market = market_with(params.clone());
    let (job, first, second) = market.submit_pair();
    let honest = execute(&market.model, &market.job(&job));
    let tampered = tamper(&honest);
    market.seal_block(&[
        (first, job, &honest),
        (second, job, &tampered),
        (AUDITOR, job, &honest),
    ]);
    let auditor = market.auditor(&job);
    // The auditor reveals after both replicas (once their results are compared): with the
    // second, far later, in its block.
    market.reveal_block(&[(first, job, &honest)]);
    let committed = market.chain.height();
    market.chain.run_blocks(age_blocks);
    let client = market.chain.balance(CLIENT);
    market.reveal_block(&[(second, job, &tampered), (auditor, job, &honest)]);
    let dispute = dispute_of(&market, &job);
    // Nobody answers: both lose by timeout, `dispute_move_blocks` later. Every block applies
    // (`Chain::block` expects it).
    let mut reported = Vec::new();
    let mut resolved = false;
    let mut failed = false;
    let mut slashed = Vec::new();
    for _ in 0..=params.disputes.dispute_move_blocks {
        let outcome = market.chain.block(&[]);
        for event in &outcome.events {
            match event {
                Event::Slashing(surety_ledger::slashing::SlashingEvent::Slashed {
                    amount, ..
                }) => slashed.push(*amount),
                Event::Slashing(surety_ledger::slashing::SlashingEvent::OffenceReported {
                    operator,
                    offence_height,
                    ..
                }) => reported.push((*operator, *offence_height)),
                Event::Disputes(surety_ledger::disputes::DisputesEvent::DisputeResolved {
                    dispute: id,
                    ..
                }) => resolved |= *id == dispute,
                Event::Jobs(jobs::JobsEvent::JobFailed { job: id, .. }) => failed |= *id == job,
                _ => {}
            }
        }
    }
    // The evidence age is long over, so the failed job (and its dispute) may already be
    // pruned: the events say what became of them.
    assert!(resolved, "the dispute resolved by timeout");
    let oldest = surety_ledger::slashing::oldest_reportable(
        &params,
        &market
            .chain
            .ledger
            .next_context(0, crate::common::operator(1), Hash([0; 32])),
    );
    let defendant = reported
        .iter()
        .find(|(operator, _)| *operator == crate::common::operator(first))
        .expect("the silent defendant is reported");
    assert!(
        defendant.1 > committed && defendant.1 <= oldest,
        "its offence is dated at the oldest reportable height, not refused: {defendant:?}"
    );
    assert!(failed, "the job failed");
    // Refunded; and the defendant's offence, dated that far back, may be slashed already: the
    // client, harmed, takes its share of that slash too.
    let harmed: u128 = slashed
        .iter()
        .map(|amount| params.slashing.harmed_party_share.mul_floor(*amount).get())
        .sum();
    println!("slashed in the window: {slashed:?}");
    assert_eq!(
        market.chain.balance(CLIENT),
        client.checked_add(Amount::new(FEE + harmed)).unwrap()
    );
    assert_eq!(market.chain.pool(Pool::JobEscrow), Amount::ZERO);
}

/// The review's double refund: an auditor's disagreeing result while another dispute over the
/// job was open used to open a second dispute and overwrite its status, so two verdicts could
/// each settle the escrow. Now it waits: its dispute opens when the first one settles, and the
/// escrow is paid out once. (The audit is compared with the results, before anyone may
/// challenge: the dispute it waits behind is the replicas' own.)
#[test]
fn an_audit_that_disagrees_during_a_dispute_waits_its_turn_and_the_escrow_is_paid_once() {
    let mut market = market();
    let (job, worker, other) = market.submit_pair();
    let honest = execute(&market.model, &market.job(&job));
    let fabricated = tamper(&honest);
    market.seal_and_reveal(
        &job,
        &[
            (worker, &honest),
            (other, &fabricated),
            (AUDITOR, &fabricated),
        ],
    );
    let auditor = market.auditor(&job);
    let dispute = dispute_of(&market, &job);
    assert_eq!(
        market.job(&job).audits[0].clone().outcome,
        AuditOutcome::Deferred
    );
    bisect(
        &mut market,
        dispute,
        (worker, &honest),
        (other, &fabricated),
    );
    provide_input(&mut market, dispute, worker, &honest);
    let second = dispute_of(&market, &job);
    assert_ne!(
        second, dispute,
        "the auditor's dispute opened after the first settled"
    );
    assert_eq!(
        market.job(&job).audits[0].clone().outcome,
        AuditOutcome::Disputed { dispute: second }
    );
    bisect(
        &mut market,
        second,
        (worker, &honest),
        (auditor, &fabricated),
    );
    let events = provide_input(&mut market, second, worker, &honest);
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Slashing(surety_ledger::slashing::SlashingEvent::OffenceReported {
            operator,
            kind: FaultKind::WrongResult,
            ..
        }) if *operator == crate::common::operator(auditor)
    )));
    let client = market.chain.balance(CLIENT);
    run_until_final(&mut market, &job);
    assert!(market.job(&job).is_final());
    assert_eq!(
        market.chain.balance(CLIENT),
        client,
        "no refund of a final job"
    );
    assert_eq!(market.chain.pool(Pool::JobEscrow), Amount::ZERO);
}

/// The review's slash escape: a defendant that sees its dispute open redelegates and then
/// undelegates before the verdict. Its stake is frozen from the moment the dispute opens, it
/// gets no new work meanwhile, and the freeze lifts when it is found right.
#[test]
fn a_defendant_cannot_move_its_stake_or_take_work_while_its_dispute_is_open() {
    let mut market = market();
    let Challenged {
        job,
        worker,
        honest,
        fabricated,
        dispute,
        ..
    } = falsely_challenged(&mut market);
    let destination = (1..=4).find(|n| *n != worker).unwrap();
    let shares = market.chain.shares(worker, worker);
    let nonce = market.chain.nonce(worker);
    // One block (the dispute's moves have deadlines): redelegate, undelegate, and a job that
    // needs every operator.
    let txs = vec![
        market.chain.sign_with_nonce(
            worker,
            nonce,
            Msg::Redelegate(surety_ledger::staking::Redelegate {
                source: crate::common::operator(worker),
                destination: crate::common::operator(destination),
                shares,
            }),
        ),
        market.chain.sign_with_nonce(
            worker,
            nonce + 1,
            Msg::Undelegate(surety_ledger::staking::Undelegate {
                operator: crate::common::operator(worker),
                shares,
            }),
        ),
        market.chain.sign(
            CLIENT,
            Msg::SubmitJob(Box::new(SubmitJob {
                model: market.id,
                input: JobInput::Activation(input(2.5).to_bytes()),
                max_fee: Amount::new(FEE),
                deadline_blocks: 5,
                replicas: 4,
            })),
        ),
    ];
    let receipts = market.chain.block(&txs).receipts;
    let frozen = |receipt: &surety_ledger::Receipt| {
        matches!(
            receipt.error_kind,
            Some(TxError::Staking(
                surety_ledger::staking::StakingError::OperatorFrozen(_)
            ))
        )
    };
    assert!(
        frozen(&receipts[0]),
        "redelegation refused: {:?}",
        receipts[0]
    );
    assert!(
        frozen(&receipts[1]),
        "undelegation refused: {:?}",
        receipts[1]
    );
    // Four replicas need every operator; the frozen defendant is not eligible.
    assert!(
        matches!(
            receipts[2].error_kind,
            Some(TxError::Jobs(JobsError::NotEnoughOperators {
                eligible: 3,
                ..
            }))
        ),
        "{:?}",
        receipts[2]
    );
    bisect(
        &mut market,
        dispute,
        (worker, &honest),
        (CHALLENGER, &fabricated),
    );
    provide_input(&mut market, dispute, worker, &honest);
    assert!(
        !market.chain.operator(worker).is_frozen(),
        "found right: released"
    );
    run_until_final(&mut market, &job);
    assert!(market.job(&job).is_final());
}

/// A job that pays `fee`, from `CLIENT` at `nonce`, signed for a block of several.
fn job_tx(market: &Market, nonce: u64, fee: u128) -> Vec<u8> {
    market.chain.sign_with_nonce(
        CLIENT,
        nonce,
        Msg::SubmitJob(Box::new(SubmitJob {
            model: market.id,
            input: JobInput::Activation(input(1.5).to_bytes()),
            max_fee: Amount::new(fee),
            deadline_blocks: 5,
            replicas: 1,
        })),
    )
}

#[test]
fn an_operator_holding_its_cap_of_fees_in_flight_is_not_drawn_until_one_of_its_jobs_ends() {
    // The attack: an operator takes on as much work as it can, commits a wrong output for all
    // of it at once, and hopes the first proof comes after the last commit. With 4 operators
    // at a 50,000 allocation and a 9% cap, each holds at most 4,500 of fees in flight: two
    // jobs of 2,000. Cheating on both gains at most 4,000; one audit's proof (audit rate 100%
    // here, 10% wrong_result) costs 5,000 of its allocation. So 8 jobs are taken and the 9th
    // finds nobody with room and is refunded.
    let mut market = market();
    let cap = Ratio::from_percent(9)
        .unwrap()
        .mul_floor(Amount::new(ALLOCATION));
    assert_eq!(cap, Amount::new(4_500));
    let nonce = market.chain.nonce(CLIENT);
    let txs: Vec<Vec<u8>> = (0..9).map(|i| job_tx(&market, nonce + i, FEE)).collect();
    let client_before = market.chain.balance(CLIENT);
    let submitted = market.chain.block(&txs);
    let ids: Vec<JobId> = submitted.receipts.iter().map(job_of).collect();
    let drawn = market.chain.block(&[]);
    let assigned: Vec<&JobId> = ids
        .iter()
        .filter(|id| market.job(id).status == JobStatus::Assigned)
        .collect();
    assert_eq!(assigned.len(), 8, "two jobs per operator");
    let refused: Vec<&JobId> = ids
        .iter()
        .filter(|id| matches!(market.job(id).status, JobStatus::Failed { .. }))
        .collect();
    assert_eq!(refused.len(), 1, "the ninth finds no operator with room");
    assert!(events(&drawn).iter().any(|e| matches!(
        e,
        Event::Jobs(jobs::JobsEvent::JobFailed { reason, .. }) if reason.contains("eligible")
    )));
    assert_eq!(
        market.chain.balance(CLIENT),
        Amount::new(client_before.get() - 9 * 10 - 8 * FEE),
        "the refused job's fee is back; only the transaction fees and 8 jobs are paid"
    );
    for n in 1..=4u16 {
        let held = jobs::state::in_flight(market.chain.ledger.store(), &operator(n));
        assert_eq!(held, Amount::new(2 * FEE), "operator {n} holds two jobs");
        let gain = held;
        let one_proof = Ratio::ONE.mul_floor(
            Ratio::from_percent(10)
                .unwrap()
                .mul_floor(Amount::new(ALLOCATION)),
        );
        assert!(
            gain < one_proof,
            "cheating on all of it gains {gain}, one audit costs {one_proof}"
        );
    }
    // Every operator finishes its jobs: their shares leave the fees in flight, and the same
    // operators take a second round of 8.
    let executions: Vec<(JobId, u16, Execution)> = assigned
        .iter()
        .map(|id| {
            let worker = Market::index_of(&market.assignees(id)[0]);
            (**id, worker, execute(&market.model, &market.job(id)))
        })
        .collect();
    // Every worker seals in one block (one batch per operator, over all its jobs), every
    // auditor once drawn, and all reveal together.
    let parties: Vec<(u16, JobId, &Execution)> = executions
        .iter()
        .flat_map(|(id, worker, execution)| [(*worker, *id, execution), (AUDITOR, *id, execution)])
        .collect();
    market.seal_and_reveal_all(&parties);
    for (id, _, _) in &executions {
        assert_eq!(
            market.job(id).audits[0].clone().outcome,
            AuditOutcome::Agreed
        );
    }
    for (id, _, _) in &executions {
        run_until_final(&mut market, id);
        assert!(market.job(id).is_final());
    }
    assert!(jobs::state::all_in_flight(market.chain.ledger.store()).is_empty());
    let nonce = market.chain.nonce(CLIENT);
    let txs: Vec<Vec<u8>> = (0..8).map(|i| job_tx(&market, nonce + i, FEE)).collect();
    let submitted = market.chain.block(&txs);
    market.chain.block(&[]);
    for receipt in &submitted.receipts {
        assert_eq!(market.job(&job_of(receipt)).status, JobStatus::Assigned);
    }
}

/// `count` transactions of 64,000 bytes of text from `spammer`: each fails (the model takes
/// no text) but is charged, and together they leave no room for one more transaction.
fn full_block(market: &Market, spammer: u16, count: u64) -> Vec<Vec<u8>> {
    let nonce = market.chain.nonce(spammer);
    (0..count)
        .map(|i| {
            market.chain.sign_with_nonce(
                spammer,
                nonce + i,
                Msg::SubmitJob(Box::new(SubmitJob {
                    model: market.id,
                    input: JobInput::Text("x".repeat(64_000)),
                    max_fee: Amount::new(FEE),
                    deadline_blocks: 5,
                    replicas: 1,
                })),
            )
        })
        .collect()
}

#[test]
fn a_deadline_stretches_while_blocks_are_full_so_a_crowded_out_commit_is_not_punished() {
    // The attack: flood the chain so that an honest operator's commit cannot be included
    // before its deadline, and have it slashed and replaced for being late. Blocks the
    // flood fills do not count against a deadline.
    let mut market = market();
    let job = market.submit(1);
    let worker = market.assignees(&job)[0];
    let deadline = market.job(&job).assignments[0].deadline;
    let spammer = 23;
    let spammer_before = market.chain.balance(spammer);
    let full_blocks = 8;
    let mut extended = Vec::new();
    for _ in 0..full_blocks {
        let txs = full_block(&market, spammer, 131);
        assert!(txs
            .iter()
            .all(|tx| tx.len() <= surety_ledger::tx::TX_BYTES_MAX));
        let outcome = market.chain.block(&txs);
        assert!(outcome.receipts.iter().all(|r| r.charged && !r.is_ok()));
        extended.extend(events(&outcome).into_iter().filter_map(|e| match e {
            Event::Jobs(jobs::JobsEvent::DeadlineExtended { deadline, .. }) => Some(deadline),
            _ => None,
        }));
        assert!(!events(&outcome)
            .iter()
            .any(|e| matches!(e, Event::Jobs(jobs::JobsEvent::DeadlineMissed { .. }))));
    }
    assert!(
        market.chain.height() > deadline,
        "the original deadline has passed"
    );
    assert_eq!(
        surety_ledger::congestion::slack_blocks(market.chain.ledger.store()),
        8
    );
    // A deadline is moved when it comes due: run past the first moved deadline too.
    while market.chain.height() < Height::new(deadline.get() + 6) {
        market.chain.block(&[]);
    }
    let record = market.job(&job);
    assert_eq!(record.assignments.len(), 1, "not replaced");
    assert_eq!(
        record.assignments[0].deadline,
        Height::new(deadline.get() + full_blocks),
        "moved on by one block per full block ({extended:?})"
    );
    assert!(record.audits.is_empty(), "no auditor before the seal");
    // The flood is over; the operator's seal lands, within the stretched deadline, then its
    // auditor's, and they reveal.
    let n = Market::index_of(&worker);
    let execution = execute(&market.model, &record);
    market.seal_and_reveal(&job, &[(n, &execution), (AUDITOR, &execution)]);
    let auditor = market.auditor(&job);
    run_until_final(&mut market, &job);
    assert!(market.job(&job).is_final());
    assert!(!market.chain.operator(n).is_frozen(), "never reported");
    assert!(
        !market.chain.operator(auditor).is_frozen(),
        "nor its auditor"
    );
    let spent = spammer_before.get() - market.chain.balance(spammer).get();
    assert_eq!(
        spent,
        8 * 131 * 10,
        "the flood cost 131 fees per full block"
    );
}

#[test]
fn a_dispute_move_stretches_while_blocks_are_full() {
    let mut market = market();
    let Challenged {
        job,
        worker,
        honest,
        fabricated,
        dispute,
        ..
    } = falsely_challenged(&mut market);
    let before = disputes::state::dispute(market.chain.ledger.store(), dispute).unwrap();
    let Phase::Bisect { deadline, .. } = before.phase else {
        panic!("bisecting: {:?}", before.phase);
    };
    let mut moved = false;
    while market.chain.height() <= deadline {
        let outcome = market.chain.block(&full_block(&market, 23, 131));
        moved |= events(&outcome).iter().any(|e| matches!(
            e,
            Event::Disputes(disputes::DisputesEvent::MoveExtended { dispute: d, .. }) if *d == dispute
        ));
    }
    assert!(moved, "the move's deadline moved on");
    let record = disputes::state::dispute(market.chain.ledger.store(), dispute).unwrap();
    assert!(
        record.is_open(),
        "nobody lost by timeout: {:?}",
        record.phase
    );
    // Both parties can still play the dispute to its end: the false challenger loses.
    bisect(
        &mut market,
        dispute,
        (worker, &honest),
        (CHALLENGER, &fabricated),
    );
    let events = provide_input(&mut market, dispute, worker, &honest);
    assert!(
        events.contains(&Event::Disputes(disputes::DisputesEvent::DisputeResolved {
            dispute,
            outcome: Outcome::DefendantRight
        }))
    );
    assert!(!matches!(market.job(&job).status, JobStatus::Failed { .. }));
}

#[test]
fn an_operator_cannot_shrink_its_allocation_while_it_holds_work_that_could_still_be_proven_wrong() {
    // The review's escape: take a long job, deallocate at once, commit garbage just before
    // the deadline; the decrease used to land first, and a proof then found nothing to slash.
    let mut market = market();
    let job = submit_with_deadline(&mut market, 1, 60);
    let n = Market::index_of(&market.assignees(&job)[0]);
    market.chain.submit_ok(
        n,
        Msg::Deallocate(surety_ledger::services::Deallocate {
            model: market.id,
            amount: Amount::new(ALLOCATION),
        }),
    );
    let allocation = |market: &Market| {
        surety_ledger::services::slashable(market.chain.ledger.store(), &market.id, &operator(n))
    };
    let mut postponed = 0;
    for _ in 0..40 {
        let outcome = market.chain.block(&[]);
        postponed += events(&outcome)
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    Event::Services(
                        surety_ledger::services::ServicesEvent::DeallocationPostponed { .. }
                    )
                )
            })
            .count();
    }
    assert!(postponed >= 1, "the decrease came due and waited");
    assert_eq!(
        allocation(&market),
        Some(Amount::new(ALLOCATION)),
        "the whole allocation is still there to slash while the job is open"
    );
    // The job ends; the decrease lands at a later epoch end.
    let execution = execute(&market.model, &market.job(&job));
    market.seal_and_reveal(&job, &[(n, &execution), (AUDITOR, &execution)]);
    run_until_final(&mut market, &job);
    assert!(market.job(&job).is_final());
    market.chain.run_blocks(15);
    assert_eq!(
        allocation(&market),
        None,
        "deallocated once nothing was in flight"
    );
}

/// Random market histories against the rule that a block always applies (issue #12): jobs
/// with short and long deadlines, honest and tampered results sealed and revealed (or not),
/// audits, challenges, parties that answer or fall silent, and runs of empty blocks that land
/// timeouts on the edges of every window. `Chain::block` requires every block to apply with every invariant and no
/// hook failure.
mod random_market_histories {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Action {
        Submit {
            replicas: u32,
            deadline: u64,
        },
        /// The job's assignees seal or reveal; with `auditor` (its honesty), so does its
        /// auditor, in the same block; with `then_reveal`, a block of seals is followed by a
        /// block of reveals.
        Commit {
            job: usize,
            honest: bool,
            auditor: Option<bool>,
            then_reveal: bool,
        },
        Audit {
            job: usize,
            honest: bool,
        },
        Challenge {
            job: usize,
        },
        Reveal {
            job: usize,
            defendant: bool,
            challenger: bool,
            honest: bool,
        },
        Input {
            job: usize,
            honest: bool,
        },
        Run {
            blocks: u64,
        },
        /// A spam burst: `blocks` full blocks of paid junk (deadlines stretch).
        Flood {
            blocks: u64,
        },
        /// A delegator bonds to `from`, then in one block redelegates to `to` and undelegates
        /// there (the late-evidence escape, played around whatever disputes are open).
        MoveStake {
            from: u16,
            to: u16,
        },
        /// Zombie transactions: one from a key with no balance, and a replay of a used nonce.
        Zombies,
    }

    fn action() -> impl Strategy<Value = Action> {
        prop_oneof![
            1 => (1u32..=2, 2u64..40)
                .prop_map(|(replicas, deadline)| Action::Submit { replicas, deadline }),
            3 => (
                any::<usize>(),
                any::<bool>(),
                prop::option::of(any::<bool>()),
                any::<bool>()
            )
                .prop_map(|(job, honest, auditor, then_reveal)| Action::Commit {
                    job,
                    honest,
                    auditor,
                    then_reveal
                }),
            1 => (any::<usize>(), any::<bool>()).prop_map(|(job, honest)| Action::Audit { job, honest }),
            1 => any::<usize>().prop_map(|job| Action::Challenge { job }),
            1 => (any::<usize>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
                |(job, defendant, challenger, honest)| Action::Reveal {
                    job,
                    defendant,
                    challenger,
                    honest
                }
            ),
            1 => (any::<usize>(), any::<bool>()).prop_map(|(job, honest)| Action::Input { job, honest }),
            1 => (0u64..25).prop_map(|blocks| Action::Run { blocks }),
            1 => (1u64..=3).prop_map(|blocks| Action::Flood { blocks }),
            1 => (1u16..=4, 1u16..=4).prop_map(|(from, to)| Action::MoveStake { from, to }),
            1 => Just(Action::Zombies),
        ]
    }

    fn execution(market: &Market, job: &JobId, honest: bool) -> Execution {
        let run = execute(&market.model, &market.job(job));
        if honest {
            run
        } else {
            tamper(&run)
        }
    }

    /// What each party sealed, honest or not (job, operator): what its reveal opens.
    type Sealed = BTreeMap<(JobId, u16), bool>;

    /// One block of [`Action::Commit`]: seals, or reveals of what was sealed.
    fn commit_step(
        market: &mut Market,
        sealed: &mut Sealed,
        job: &JobId,
        honest: bool,
        auditor: Option<bool>,
    ) {
        let job = *job;
        let record = market.job(&job);
        let runs = [
            execution(market, &job, false),
            execution(market, &job, true),
        ];
        let revealing = matches!(record.status, JobStatus::Revealing { .. });
        let mut parties: Vec<(u16, bool)> = record
            .live_assignments()
            .filter(|a| a.result.is_none() && (revealing != a.seal.is_none()))
            .map(|a| (Market::index_of(&a.operator), honest))
            .collect();
        if let (Some(audit), Some(auditor_honest)) = (record.audits.first(), auditor) {
            parties.push((Market::index_of(&audit.auditor), auditor_honest));
        }
        let txs: Vec<Vec<u8>> = parties
            .into_iter()
            .map(|(n, honest)| {
                let msg = if revealing {
                    let sealed_honest = *sealed.get(&(job, n)).unwrap_or(&honest);
                    reveal_msg(n, &job, &runs[usize::from(sealed_honest)])
                } else {
                    sealed.insert((job, n), honest);
                    seal_msg(n, &job, &runs[usize::from(honest)])
                };
                market.chain.sign(n, msg)
            })
            .collect();
        market.chain.block(&txs);
    }

    fn play(market: &mut Market, jobs: &mut Vec<JobId>, sealed: &mut Sealed, action: Action) {
        // Pruned jobs are gone from state: act on those still there.
        let live: Vec<JobId> = jobs
            .iter()
            .copied()
            .filter(|id| surety_ledger::jobs::state::job(market.chain.ledger.store(), id).is_some())
            .collect();
        let pick = |_: &Vec<JobId>, index: usize| live.get(index % live.len().max(1)).copied();
        match action {
            Action::Submit { replicas, deadline } => {
                let receipt = market.chain.submit(
                    CLIENT,
                    Msg::SubmitJob(Box::new(SubmitJob {
                        model: market.id,
                        input: JobInput::Activation(input(jobs.len() as f32).to_bytes()),
                        max_fee: Amount::new(FEE),
                        deadline_blocks: deadline,
                        replicas,
                    })),
                );
                if receipt.is_ok() {
                    jobs.push(job_of(&receipt));
                }
            }
            // Every assignee that owes one seals (while the job is `Assigned`) or opens what it
            // sealed (while it is `Revealing`), and the auditor with them if `auditor` says so;
            // at any other time they seal, and are refused.
            Action::Commit {
                job,
                honest,
                auditor,
                then_reveal,
            } => {
                let Some(job) = pick(jobs, job) else { return };
                commit_step(market, sealed, &job, honest, auditor);
                let revealing = jobs::state::job(market.chain.ledger.store(), &job)
                    .is_some_and(|r| matches!(r.status, JobStatus::Revealing { .. }));
                if then_reveal && revealing {
                    commit_step(market, sealed, &job, honest, auditor);
                }
            }
            // In a job's claim window every operator its VRF selects claims the audit; after,
            // the first auditor seals or reveals likewise.
            Action::Audit { job, honest } => {
                let Some(job) = pick(jobs, job) else { return };
                let record = market.job(&job);
                if let (JobStatus::Assigned, Some(window)) = (&record.status, &record.audit_window)
                {
                    let open = window.seed.is_some() && window.until > market.chain.height();
                    let selected = if open {
                        market.selected(&job)
                    } else {
                        Vec::new()
                    };
                    for n in selected {
                        let msg = claim_msg(market, n, &job);
                        market.chain.submit(n, msg);
                    }
                }
                let Some(audit) = record.audits.first().cloned() else {
                    return;
                };
                let n = Market::index_of(&audit.auditor);
                let msg = if matches!(record.status, JobStatus::Revealing { .. }) {
                    let sealed_honest = *sealed.get(&(job, n)).unwrap_or(&honest);
                    reveal_msg(n, &job, &execution(market, &job, sealed_honest))
                } else {
                    sealed.insert((job, n), honest);
                    seal_msg(n, &job, &execution(market, &job, honest))
                };
                market.chain.submit(n, msg);
            }
            Action::Challenge { job } => {
                let Some(job) = pick(jobs, job) else { return };
                let Some(operator) = market
                    .job(&job)
                    .live_assignments()
                    .next()
                    .map(|a| a.operator)
                else {
                    return;
                };
                let fabricated = execution(market, &job, false);
                let steps = fabricated.trace.len();
                market.chain.submit(
                    CHALLENGER,
                    Msg::Challenge(Box::new(Challenge {
                        job,
                        operator,
                        output_hash: fabricated.output.hash(),
                        trace_root: fabricated.trace.root(),
                        output_proof: fabricated.trace.proof(steps - 1).unwrap(),
                    })),
                );
            }
            Action::Reveal {
                job,
                defendant,
                challenger,
                honest,
            } => {
                let Some(job) = pick(jobs, job) else { return };
                let JobStatus::Disputed { dispute } = market.job(&job).status else {
                    return;
                };
                let record =
                    disputes::state::dispute(market.chain.ledger.store(), dispute).unwrap();
                let Phase::Bisect { index, .. } = record.phase else {
                    return;
                };
                let mut txs = Vec::new();
                for (reveals, account, run_honest) in [
                    (defendant, record.defendant.account(), honest),
                    (challenger, record.challenger.account(), !honest),
                ] {
                    let Some(n) = (1..=30u16).find(|n| crate::common::account(*n) == account)
                    else {
                        continue;
                    };
                    if reveals {
                        let run = execution(market, &job, run_honest);
                        txs.push(market.chain.sign(
                            n,
                            Msg::RevealStep(Box::new(RevealStep {
                                dispute,
                                index,
                                step_hash: run.trace.step_hashes[index as usize],
                                proof: run.trace.proof(index as usize).unwrap(),
                            })),
                        ));
                    }
                }
                market.chain.block(&txs);
            }
            Action::Input { job, honest } => {
                let Some(job) = pick(jobs, job) else { return };
                let JobStatus::Disputed { dispute } = market.job(&job).status else {
                    return;
                };
                let record =
                    disputes::state::dispute(market.chain.ledger.store(), dispute).unwrap();
                let (Phase::AwaitInput { .. }, Some(step)) =
                    (&record.phase, record.isolated_step())
                else {
                    return;
                };
                let bytes = execution(market, &job, honest).activations[step as usize].to_bytes();
                if bytes.len() <= surety_ledger::disputes::INPUT_CHUNK_BYTES_MAX {
                    market.chain.submit(
                        CHALLENGER,
                        Msg::ProvideStepInput(Box::new(ProvideStepInput {
                            dispute,
                            total: bytes.len() as u64,
                            offset: 0,
                            bytes,
                        })),
                    );
                }
            }
            Action::Run { blocks } => market.chain.run_blocks(blocks),
            Action::Flood { blocks } => {
                for _ in 0..blocks {
                    let txs = full_block(market, 23, 131);
                    market.chain.block(&txs);
                }
            }
            Action::MoveStake { from, to } => {
                let delegator = PUBLISHER;
                market.chain.submit(
                    delegator,
                    Msg::Delegate(surety_ledger::staking::Delegate {
                        operator: crate::common::operator(from),
                        amount: Amount::new(10_000),
                    }),
                );
                let shares = market.chain.shares(delegator, from);
                let nonce = market.chain.nonce(delegator);
                let moves = [
                    Msg::Redelegate(surety_ledger::staking::Redelegate {
                        source: crate::common::operator(from),
                        destination: crate::common::operator(to),
                        shares,
                    }),
                    Msg::Undelegate(surety_ledger::staking::Undelegate {
                        operator: crate::common::operator(to),
                        shares,
                    }),
                ];
                let txs: Vec<Vec<u8>> = moves
                    .into_iter()
                    .enumerate()
                    .map(|(i, msg)| {
                        market
                            .chain
                            .sign_with_nonce(delegator, nonce + i as u64, msg)
                    })
                    .collect();
                market.chain.block(&txs);
            }
            Action::Zombies => {
                let broke = market.chain.sign_with_nonce(
                    60,
                    0,
                    Msg::Transfer(surety_ledger::bank::Transfer {
                        to: crate::common::account(21),
                        amount: Amount::new(1),
                    }),
                );
                let Some(used) = market.chain.nonce(CLIENT).checked_sub(1) else {
                    return;
                };
                let replay = market.chain.sign_with_nonce(
                    CLIENT,
                    used,
                    Msg::Transfer(surety_ledger::bank::Transfer {
                        to: crate::common::account(22),
                        amount: Amount::new(1),
                    }),
                );
                let outcome = market.chain.block(&[broke, replay]);
                assert!(
                    outcome.receipts.iter().all(|r| !r.charged),
                    "zombies pay nothing and do nothing"
                );
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
        #[test]
        fn every_block_of_a_random_market_history_applies(
            actions in prop::collection::vec(action(), 10..40)
        ) {
            let mut market = market();
            let mut jobs = Vec::new();
            let mut sealed = BTreeMap::new();
            for action in actions {
                play(&mut market, &mut jobs, &mut sealed, action);
            }
            // Run past every deadline (with all reassignments: 4 × 40 blocks), window, dispute
            // move and slash delay.
            market.chain.run_blocks(400);
            // Every job closed, and then left state with its disputes, once the evidence age
            // was over: what a long history leaves under `jobs/` is its parameters alone.
            let store = market.chain.ledger.store();
            for job in &jobs {
                let record = jobs::state::job(store, job);
                prop_assert!(record.is_none(), "job {job} is still in state: {record:?}");
            }
            let left: Vec<String> = store
                .committed_entries()
                .map(|(key, _)| String::from_utf8_lossy(key).into_owned())
                .filter(|key| {
                    // The audit pools of this epoch and the last are kept whatever the jobs.
                    (key.starts_with("jobs/")
                        && key != "jobs/params"
                        && !key.starts_with("jobs/pool/"))
                        || key.starts_with("disputes/dispute/")
                        || key.starts_with("disputes/by-job/")
                })
                .collect();
            prop_assert!(left.is_empty(), "left in state: {left:?}");
        }
    }
}
