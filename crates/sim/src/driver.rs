//! The transaction driver: builds each block from what the parties want to send, picks the
//! proposer (by stake) and the seed, applies the block with the real `Ledger::apply_block`,
//! and turns the block's receipts and events into the parties' next moves. No ledger logic
//! is copied here: who is assigned, audited, disputed and slashed is read from the ledger.
//!
//! Block rhythm (blind results, private sortition): a job submitted in block `h` is assigned by
//! block `h+1`'s seed; its workers seal in `h+2`, and the last seal fixes its audit claim
//! window, which opens `audit_seed_delay` (12) blocks later with that block's seed, for
//! `audit_claim_blocks` (12). Every operator in the epoch's pool outside the parties' owners
//! then evaluates its own VRF over the sealed job ([`crate::sortition`]); those it selects claim
//! in the window's first block and seal their audit in the next. Once the window is over the
//! assignees reveal, and the auditors reveal once the results are compared, during the
//! challenge window. Disputes take
//! one move per block.

use crate::compute::{self, Execution};
use crate::config::Config;
use crate::msgs;
use crate::rng::Rng;
use crate::sortition;
use crate::strategy::{Audit, Proposal, Strategy, Work};
use crate::tally::{Tally, Totals};
use crate::world::{World, CHAIN, CLIENTS};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use surety_infer::{Activation, Executor};
use surety_ledger::disputes::{self, DisputesEvent, Outcome, Party, Phase};
use surety_ledger::jobs::{
    self, pool, AuditClaim, ClaimAudits, CommitResult, JobInput, JobStatus, JobsEvent, Reveal,
    Role, Seal, SubmitJob,
};
use surety_ledger::slashing::{FaultKind, SlashingEvent};
use surety_ledger::tx::Msg;
use surety_ledger::{bank, staking, BlockOutcome, Event, Ledger};
use surety_types::tx::Tx;
use surety_types::{AccountId, Amount, Hash, JobId, OperatorId};

/// Who signs a pending transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Signer {
    Operator(usize),
    Client(usize),
}

/// Why the driver sent a transaction, to read its receipt.
#[derive(Clone, Debug)]
enum Tag {
    /// The job's input, replicas and service.
    Submit(Activation, u32, usize),
    Seals,
    Claims,
    Reveals,
    Move,
    Challenge,
    Evidence,
}

impl Tag {
    fn kind(&self) -> &'static str {
        match self {
            Tag::Submit(..) => "submit",
            Tag::Seals => "seals",
            Tag::Claims => "audit claims",
            Tag::Reveals => "reveals",
            Tag::Move => "dispute move",
            Tag::Challenge => "challenge",
            Tag::Evidence => "evidence",
        }
    }
}

struct Pending {
    signer: Signer,
    msg: Msg,
    tag: Tag,
}

/// What an operator owes for a job: its seal, then its reveal.
#[derive(Clone, Debug)]
struct Todo {
    job: JobId,
    operator: usize,
    role: Role,
    reveal: bool,
    ready_at: u64,
    deadline: u64,
}

/// What a party sealed, kept until it reveals.
#[derive(Clone, Debug)]
struct Sealed {
    salt: [u8; 32],
    /// The result the seal commits to (none for a copier).
    result: Option<CommitResult>,
    /// A copier sealed this replica's seal and will try to open it with its reveal.
    copy_of: Option<usize>,
}

/// One thing a todo produces for the next block.
enum Item {
    Seal(Seal),
    Reveal(Box<Reveal>),
    Wait,
    Done,
}

/// What the driver remembers of an open job.
#[derive(Default)]
struct JobTrack {
    input: Option<Activation>,
    replicas: u32,
    /// The service (index into `World::models`) of its model.
    service: usize,
    workers: Vec<usize>,
    /// Each party's execution, as far as it has one it can answer a dispute from.
    executions: BTreeMap<usize, Option<Rc<Execution>>>,
    /// Reveals that landed, in order, with their salts: public data any party may read.
    published: Vec<(usize, CommitResult, [u8; 32])>,
    /// What each party sealed.
    sealed: BTreeMap<usize, Sealed>,
    /// Operators who computed a real run for it.
    computed: BTreeSet<usize>,
    /// Partner auditors that sealed the family's fabrication for it (partners tell each other).
    partner_fabricated: BTreeSet<usize>,
    paid: BTreeSet<usize>,
    challenged: bool,
    /// The last height of its audit claim window, once open.
    claim_until: Option<u64>,
    /// Operators whose audit claims landed, in order.
    auditors: Vec<usize>,
    /// A grinding partner found a salt that selects its validator.
    ground: bool,
    /// The claim window's pool weight a grinding partner predicted at its seal.
    predicted_weight: Option<Amount>,
}

struct DisputeTrack {
    job: JobId,
    defendant: usize,
    challenger: usize,
    queued: BTreeSet<(u64, u8)>,
    input_queued: bool,
}

/// One run of the market.
pub struct Driver<'a> {
    config: &'a Config,
    world: &'a World,
    pub ledger: Ledger,
    rng: Rng,
    executor: Executor,
    time_ms: u64,
    queue: Vec<Pending>,
    nonces: BTreeMap<AccountId, u64>,
    jobs: BTreeMap<JobId, JobTrack>,
    todo: Vec<Todo>,
    /// Audit claims to send in the next block, per operator.
    claims: BTreeMap<usize, Vec<AuditClaim>>,
    disputes: BTreeMap<u64, DisputeTrack>,
    /// Jobs an honest worker's result made challengeable, for griefers.
    challengeable: Vec<JobId>,
    submitted: usize,
    last_apply_epoch: u64,
    pub tallies: Vec<Tally>,
    pub totals: Totals,
}

impl<'a> Driver<'a> {
    /// A driver at genesis.
    pub fn new(config: &'a Config, world: &'a World) -> Driver<'a> {
        let ledger = world.genesis(config);
        let mut driver = Driver {
            config,
            world,
            time_ms: ledger.timestamp_ms(),
            ledger,
            rng: Rng::new(config.seed, 2),
            executor: Executor::new(1).expect("one engine thread"),
            queue: Vec::new(),
            nonces: BTreeMap::new(),
            jobs: BTreeMap::new(),
            todo: Vec::new(),
            claims: BTreeMap::new(),
            disputes: BTreeMap::new(),
            challengeable: Vec::new(),
            submitted: 0,
            last_apply_epoch: 0,
            tallies: vec![Tally::default(); world.operators.len()],
            totals: Totals::default(),
        };
        for i in 0..world.operators.len() {
            driver.tallies[i].worth_start = driver.worth(i);
        }
        driver
    }

    /// Run every job to its end, then every slash to its application.
    pub fn run(&mut self) {
        loop {
            let done = self.submitted >= self.config.jobs
                && self.jobs.is_empty()
                && self.disputes.is_empty()
                && self.queue.is_empty();
            if done {
                break;
            }
            self.block();
            if self.totals.blocks.is_multiple_of(200)
                && std::env::var_os("SURETY_SIM_TRACE").is_some()
            {
                let stuck: Vec<String> = self
                    .jobs
                    .keys()
                    .take(2)
                    .map(|id| {
                        format!(
                            "{:?}",
                            jobs::state::job(self.ledger.store(), id)
                                .map(|j| (j.status, j.audits.len()))
                        )
                    })
                    .collect();
                eprintln!(
                    "block {}: submitted {}, open jobs {}, disputes {}, queue {}, todo {}; {stuck:?} {:?} final {} failed {}",
                    self.totals.blocks,
                    self.submitted,
                    self.jobs.len(),
                    self.disputes.len(),
                    self.queue.len(),
                    self.todo.len(),
                    self.totals.refused,
                    self.totals.jobs_final,
                    self.totals.jobs_failed
                );
            }
        }
        while self.ledger.params().epoch_of(self.ledger.height()).get() <= self.last_apply_epoch {
            self.block();
        }
        self.check_invariants();
        for i in 0..self.world.operators.len() {
            self.tallies[i].worth_end = self.worth(i);
        }
    }

    /// Balance, self-bond and unclaimed rewards of operator `i` (no delegations in the sim:
    /// every pool is its operator's own).
    fn worth(&self, i: usize) -> u128 {
        let o = &self.world.operators[i];
        let store = self.ledger.store();
        let balance = bank::balance(store, &o.account).get();
        let bond = staking::state::operator(store, &o.id)
            .map(|record| staking::self_bond(store, &record).get())
            .unwrap_or(0);
        let rewards = staking::accumulator::pending(store, &o.id, &o.account).get();
        balance + bond + rewards
    }

    fn check_invariants(&mut self) {
        self.totals.invariant_checks += 1;
        if let Err(broken) = self.ledger.check_invariants() {
            panic!(
                "invariant broken after block {}: {broken}",
                self.ledger.height()
            );
        }
    }

    fn block(&mut self) {
        self.queue_submissions();
        let (proposer, seed) = self.choose_proposer();
        let (txs, tags, signers) = self.assemble(proposer);
        let ctx = self.context(proposer, seed);
        let outcome = self
            .ledger
            .apply_block(&ctx, &txs)
            .expect("the block applies");
        self.totals.blocks += 1;
        self.resync_nonces(&signers);
        self.read_outcome(&outcome, tags);
        let height = self.ledger.height().get();
        if height.is_multiple_of(self.config.invariants_every) {
            self.check_invariants();
        }
        self.act();
    }

    fn context(&mut self, proposer: usize, seed: Hash) -> surety_ledger::BlockContext {
        self.time_ms += 1_000;
        let proposer = self.world.operators[proposer].id;
        self.ledger.next_context(self.time_ms, proposer, seed)
    }

    fn seed(&self, attempt: u64) -> Hash {
        let height = self.ledger.height().next().get();
        Hash::of_parts(
            "surety.sim.seed",
            &[
                &self.config.seed.to_le_bytes(),
                &height.to_le_bytes(),
                &attempt.to_le_bytes(),
            ],
        )
    }

    fn queue_submissions(&mut self) {
        let count = self
            .config
            .jobs_per_block
            .min(self.config.jobs - self.submitted);
        for k in 0..count {
            let mut values = [0f32; 8];
            for v in values.iter_mut() {
                *v = (self.rng.unit() as f32) * 4.0 - 2.0;
            }
            let input = compute::job_input(values);
            let replicas = if self.rng.chance(self.config.two_replica_share) {
                2
            } else {
                1
            };
            // One service draws nothing (a single-service run keeps its random sequence).
            let services = self.world.models.len();
            let service = if services > 1 {
                self.rng.below(services)
            } else {
                0
            };
            let msg = Msg::SubmitJob(Box::new(SubmitJob {
                model: self.world.model_ids[service],
                input: JobInput::Activation(input.to_bytes()),
                max_fee: Amount::new(self.config.fee),
                deadline_blocks: self.config.params.jobs.deadline_blocks_min,
                replicas,
            }));
            self.queue.push(Pending {
                signer: Signer::Client((self.submitted + k) % CLIENTS),
                msg,
                tag: Tag::Submit(input, replicas, service),
            });
        }
        self.submitted += count;
    }

    fn draw_proposer(&mut self, except: Option<usize>) -> usize {
        let set = staking::state::active_set(self.ledger.store());
        let candidates: Vec<(usize, u128)> = set
            .iter()
            .map(|v| (self.world.index(&v.operator), v.power.get()))
            .filter(|(i, _)| Some(*i) != except)
            .collect();
        let total: u128 = candidates.iter().map(|c| c.1).sum();
        let mut roll =
            (u128::from(self.rng.next_u64()) << 64 | u128::from(self.rng.next_u64())) % total;
        for (i, power) in &candidates {
            if roll < *power {
                return *i;
            }
            roll -= power;
        }
        candidates.last().expect("an active set").0
    }

    /// The proposer by stake, and its seed. No proposer's choice moves an audit any more
    /// (auditors are selected by their own VRFs over the sealed job): what a colluding proposer
    /// can still do is leave claims out of its block ([`Driver::censored`]).
    fn choose_proposer(&mut self) -> (usize, Hash) {
        (self.draw_proposer(None), self.seed(0))
    }

    /// Whether `proposer` leaves `pending` out of its block: a censor its victims'
    /// transactions and every audit claim; a grinder the claims of operators outside its family
    /// on jobs its partner works on.
    fn censored(&self, proposer: usize, pending: &Pending) -> bool {
        let operator = match pending.signer {
            Signer::Operator(i) => i,
            Signer::Client(_) => return false,
        };
        let claims = matches!(pending.tag, Tag::Claims);
        match self.world.operators[proposer].strategy.proposal() {
            Proposal::Fair => false,
            Proposal::Censor => {
                claims || self.world.operators[operator].strategy == Strategy::CensoredVictim
            }
            Proposal::CensorClaimsOnPartner => {
                let family = self.world.operators[proposer].family;
                let Some(partner) = self.world.operators[proposer].partner else {
                    return false;
                };
                claims
                    && self.world.operators[operator].family != family
                    && claimed_jobs(&pending.msg).any(|job| {
                        self.jobs
                            .get(&job)
                            .is_some_and(|track| track.workers.contains(&partner))
                    })
            }
        }
    }

    fn key(&self, signer: Signer) -> &surety_types::SigningKey {
        match signer {
            Signer::Operator(i) => &self.world.operators[i].key,
            Signer::Client(c) => &self.world.clients[c],
        }
    }

    fn account(&self, signer: Signer) -> AccountId {
        AccountId::from_key(&self.key(signer).verification_key())
    }

    fn nonce(&self, account: &AccountId) -> u64 {
        self.nonces
            .get(account)
            .copied()
            .unwrap_or_else(|| bank::state::account(self.ledger.store(), account).nonce)
    }

    fn sign_all(&self, proposer: usize) -> (Vec<Vec<u8>>, Vec<usize>, Vec<AccountId>) {
        let mut nonces: BTreeMap<AccountId, u64> = BTreeMap::new();
        let mut txs = Vec::new();
        let mut included = Vec::new();
        for (index, pending) in self.queue.iter().enumerate() {
            if self.censored(proposer, pending) {
                continue;
            }
            let account = self.account(pending.signer);
            let nonce = nonces
                .entry(account)
                .or_insert_with(|| self.nonce(&account));
            let tx = Tx {
                chain_id: CHAIN.into(),
                signer: account,
                nonce: *nonce,
                fee: self.config.params.bank.min_tx_fee,
                msg: pending.msg.clone(),
            };
            *nonce += 1;
            txs.push(surety_types::encoding::encode(
                &tx.sign(self.key(pending.signer)),
            ));
            included.push(index);
        }
        (txs, included, nonces.into_keys().collect())
    }

    /// The block's transactions (what the proposer includes, in queue order); the rest stays
    /// queued.
    fn assemble(&mut self, proposer: usize) -> (Vec<Vec<u8>>, Vec<Tag>, Vec<AccountId>) {
        let (txs, included, signers) = self.sign_all(proposer);
        let left_out = self.queue.len() - included.len();
        if left_out > 0 {
            self.totals.censored_txs += left_out as u64;
            self.tallies[proposer].cheats += 1;
        }
        let mut kept = included.iter().peekable();
        for (index, pending) in self.queue.iter().enumerate() {
            if kept.peek() == Some(&&index) {
                kept.next();
            } else if matches!(pending.tag, Tag::Claims) {
                self.totals.censored_claims += 1;
            }
        }
        let mut tags = Vec::with_capacity(included.len());
        let mut keep = Vec::new();
        let mut next = included.iter().peekable();
        for (index, pending) in std::mem::take(&mut self.queue).into_iter().enumerate() {
            if next.peek() == Some(&&index) {
                next.next();
                tags.push(pending.tag);
            } else {
                keep.push(pending);
            }
        }
        self.queue = keep;
        (txs, tags, signers)
    }

    fn resync_nonces(&mut self, signers: &[AccountId]) {
        for account in signers {
            let nonce = bank::state::account(self.ledger.store(), account).nonce;
            self.nonces.insert(*account, nonce);
        }
    }

    fn read_outcome(&mut self, outcome: &BlockOutcome, tags: Vec<Tag>) {
        for (receipt, tag) in outcome.receipts.iter().zip(tags) {
            if let Some(error) = &receipt.error {
                let reason: String = error.chars().take(60).collect();
                *self
                    .totals
                    .refused
                    .entry(format!("{}: {reason}", tag.kind()))
                    .or_default() += 1;
                continue;
            }
            self.read_receipt(receipt, tag);
            for event in &receipt.events {
                self.read_event(event);
            }
        }
        for event in &outcome.events {
            self.read_event(event);
        }
    }

    fn read_receipt(&mut self, receipt: &surety_ledger::Receipt, tag: Tag) {
        match tag {
            Tag::Submit(input, replicas, service) => {
                for event in &receipt.events {
                    if let Event::Jobs(JobsEvent::JobSubmitted { job, .. }) = event {
                        self.totals.jobs_submitted += 1;
                        self.jobs.insert(
                            *job,
                            JobTrack {
                                input: Some(input.clone()),
                                replicas,
                                service,
                                ..JobTrack::default()
                            },
                        );
                    }
                }
            }
            Tag::Seals
            | Tag::Claims
            | Tag::Reveals
            | Tag::Move
            | Tag::Challenge
            | Tag::Evidence => {}
        }
    }

    /// A reveal landed (`ResultCommitted`): publish the result with its salt, hand an
    /// equivocator's client its second result, and note a result griefers may challenge.
    fn revealed(&mut self, job: JobId, operator: usize) {
        let strategy = self.world.operators[operator].strategy;
        let Some(track) = self.jobs.get_mut(&job) else {
            return;
        };
        let Some(sealed) = track.sealed.get(&operator) else {
            return;
        };
        let Some(result) = sealed.result.clone() else {
            return;
        };
        track
            .published
            .push((operator, result.clone(), sealed.salt));
        let is_worker = track.workers.contains(&operator);
        if is_worker && strategy.work() == Work::ComputeAndEquivocate {
            let input = track.input.clone().expect("a tracked job has its input");
            let secret = Hash::of_parts("surety.sim.second", &[&job.0]);
            let second =
                compute::fabricate(result.result.statement.steps as usize, &input, &secret);
            let second = msgs::statement(CHAIN, &job, &second, &self.world.operators[operator].key);
            self.tallies[operator].cheats += 1;
            self.queue.push(Pending {
                signer: Signer::Client(0),
                msg: msgs::equivocation(result.result.clone(), second),
                tag: Tag::Evidence,
            });
        }
        let Some(record) = jobs::state::job(self.ledger.store(), &job) else {
            return;
        };
        if let JobStatus::Challengeable { .. } = record.status {
            if let Some(target) = record.live_assignments().next() {
                let target = self.world.index(&target.operator);
                if record.replicas == 1 && self.world.operators[target].strategy.is_honest() {
                    self.challengeable.push(job);
                }
            }
        }
    }

    fn read_event(&mut self, event: &Event) {
        match event {
            Event::Jobs(event) => self.read_jobs_event(event),
            Event::Disputes(event) => self.read_disputes_event(event),
            Event::Slashing(SlashingEvent::OffenceReported {
                operator,
                kind,
                apply_epoch,
                ..
            }) => {
                let i = self.world.index(operator);
                self.last_apply_epoch = self.last_apply_epoch.max(apply_epoch.get());
                self.tallies[i].offences += 1;
                let strategy = self.world.operators[i].strategy;
                if strategy.is_honest() {
                    let context = self.honest_offence_context(i);
                    *self
                        .totals
                        .honest_offences
                        .entry(format!("{kind:?}: {context}"))
                        .or_default() += 1;
                }
                let punished = match kind {
                    FaultKind::WrongResult => matches!(
                        strategy,
                        Strategy::Tamper
                            | Strategy::Grinder
                            | Strategy::GrindPartner
                            | Strategy::Sybil
                            | Strategy::PartnerAuditor
                            | Strategy::OtherWeights
                            | Strategy::LazyAuditor
                            | Strategy::Copier
                    ),
                    FaultKind::Equivocation => strategy == Strategy::Equivocator,
                    FaultKind::MissedDeadline => {
                        matches!(strategy, Strategy::Late | Strategy::Copier)
                    }
                    FaultKind::Downtime => false,
                    // A seal it could not (or would not) open.
                    FaultKind::WithheldResult => matches!(
                        strategy,
                        Strategy::Copier
                            | Strategy::Tamper
                            | Strategy::OtherWeights
                            | Strategy::Sybil
                            | Strategy::GrindPartner
                    ),
                };
                if punished {
                    self.tallies[i].caught += 1;
                }
            }
            Event::Slashing(SlashingEvent::Slashed {
                operator, amount, ..
            }) => {
                let i = self.world.index(operator);
                self.tallies[i].slashed += amount.get();
            }
            Event::Hook(_) => self.totals.hook_failures += 1,
            _ => {}
        }
    }

    /// What an honest operator was doing when the ledger reported it: the disputes it is a
    /// party to, by the other side's strategy.
    fn honest_offence_context(&self, operator: usize) -> String {
        let mut parts = Vec::new();
        for track in self.disputes.values() {
            let (side, other) = if track.defendant == operator {
                ("defendant", track.challenger)
            } else if track.challenger == operator {
                ("challenger", track.defendant)
            } else {
                continue;
            };
            parts.push(format!(
                "{side} against {}",
                self.world.operators[other].strategy
            ));
        }
        if parts.is_empty() {
            "no open dispute".into()
        } else {
            parts.join(", ")
        }
    }

    fn read_jobs_event(&mut self, event: &JobsEvent) {
        let height = self.ledger.height().get();
        match event {
            JobsEvent::ItemRefused { error, .. } => {
                let reason: String = error.chars().take(60).collect();
                *self
                    .totals
                    .refused
                    .entry(format!("item: {reason}"))
                    .or_default() += 1;
            }
            JobsEvent::JobAssigned {
                job,
                operator,
                deadline,
            } => {
                let i = self.world.index(operator);
                self.tallies[i].jobs += 1;
                if let Some(track) = self.jobs.get_mut(job) {
                    track.workers.push(i);
                }
                self.todo.push(Todo {
                    job: *job,
                    operator: i,
                    role: Role::Worker,
                    reveal: false,
                    ready_at: height + 1,
                    deadline: deadline.get(),
                });
            }
            JobsEvent::AuditClaimsOpen { job, until, weight } => {
                self.open_window(job, until.get(), *weight);
            }
            JobsEvent::AuditClaimed {
                job,
                auditor,
                deadline,
            } => {
                let i = self.world.index(auditor);
                self.tallies[i].audits += 1;
                self.totals.audits += 1;
                if let Some(track) = self.jobs.get_mut(job) {
                    track.auditors.push(i);
                }
                self.todo.push(Todo {
                    job: *job,
                    operator: i,
                    role: Role::Auditor,
                    reveal: false,
                    ready_at: height + 1,
                    deadline: deadline.get(),
                });
            }
            JobsEvent::DeadlineExtended {
                job,
                operator,
                deadline,
            } => {
                for todo in &mut self.todo {
                    if todo.job == *job && self.world.operators[todo.operator].id == *operator {
                        todo.deadline = deadline.get();
                    }
                }
            }
            JobsEvent::RevealsOpen { job, until } => {
                let Some(track) = self.jobs.get(job) else {
                    return;
                };
                let record = jobs::state::job(self.ledger.store(), job);
                for &operator in track.sealed.keys() {
                    let id = self.world.operators[operator].id;
                    let role = match &record {
                        Some(r) if r.audit_of(&id).is_some() => Role::Auditor,
                        _ => Role::Worker,
                    };
                    self.todo.push(Todo {
                        job: *job,
                        operator,
                        role,
                        reveal: true,
                        ready_at: height + 1,
                        deadline: until.get(),
                    });
                }
            }
            JobsEvent::ResultCommitted { job, operator, .. } => {
                let i = self.world.index(operator);
                self.revealed(*job, i);
            }
            JobsEvent::JobPaid { job, operator, .. } => {
                let i = self.world.index(operator);
                if let Some(track) = self.jobs.get_mut(job) {
                    track.paid.insert(i);
                }
            }
            JobsEvent::JobFinal { job, .. } => {
                self.totals.jobs_final += 1;
                self.close(job);
            }
            JobsEvent::JobFailed { job, .. } => {
                self.totals.jobs_failed += 1;
                self.close(job);
            }
            _ => {}
        }
    }

    fn close(&mut self, job: &JobId) {
        if let Some(track) = self.jobs.remove(job) {
            if track.claim_until.is_some() {
                match track.auditors.len() {
                    0 => self.totals.windows_unaudited += 1,
                    1 => {}
                    _ => self.totals.windows_multiple += 1,
                }
                let honest = track
                    .auditors
                    .iter()
                    .any(|a| self.world.operators[*a].strategy.is_honest());
                if honest {
                    self.totals.windows_honest_audited += 1;
                    if track.ground {
                        self.totals.grinds_honest_audited += 1;
                    }
                }
            }
            for worker in &track.workers {
                if track.computed.contains(worker) && !track.paid.contains(worker) {
                    self.tallies[*worker].unpaid_runs += 1;
                }
            }
        }
        self.todo.retain(|t| t.job != *job);
    }

    fn read_disputes_event(&mut self, event: &DisputesEvent) {
        match event {
            DisputesEvent::DisputeOpened {
                dispute,
                job,
                defendant,
                challenger,
            } => {
                self.totals.disputes += 1;
                let challenger = self
                    .world
                    .operator_of_account(challenger)
                    .expect("every challenger in the sim is an operator's account");
                self.disputes.insert(
                    *dispute,
                    DisputeTrack {
                        job: *job,
                        defendant: self.world.index(defendant),
                        challenger,
                        queued: BTreeSet::new(),
                        input_queued: false,
                    },
                );
            }
            DisputesEvent::DisputeResolved { dispute, outcome } => {
                let name = match outcome {
                    Outcome::DefendantRight => "defendant right".to_string(),
                    Outcome::ChallengerRight => "challenger right".to_string(),
                    Outcome::BothWrong => "both wrong".to_string(),
                    Outcome::Timeout { silent } => format!("timeout {silent:?}"),
                    Outcome::Void => "void".to_string(),
                };
                if !matches!(outcome, Outcome::Timeout { .. } | Outcome::Void) {
                    self.totals.referee_steps += 1;
                    self.totals
                        .inferences
                        .add_step(compute_steps(&self.world.models[0]));
                }
                *self.totals.outcomes.entry(name).or_default() += 1;
                if let Some(track) = self.disputes.remove(dispute) {
                    let challenger_lost = match outcome {
                        Outcome::DefendantRight | Outcome::BothWrong => true,
                        Outcome::Timeout { silent } => silent.contains(&Party::Challenger),
                        Outcome::ChallengerRight | Outcome::Void => false,
                    };
                    let griefer = track.challenger;
                    if challenger_lost
                        && self.world.operators[griefer].strategy == Strategy::Griefer
                        && !self
                            .jobs
                            .get(&track.job)
                            .is_some_and(|j| j.workers.contains(&griefer))
                    {
                        self.tallies[griefer].caught += 1;
                    }
                }
            }
            _ => {}
        }
    }

    /// Every party's moves for the next block: each operator's seals in one transaction and
    /// its reveals in another, then dispute moves and griefers' challenges.
    fn act(&mut self) {
        let next = self.ledger.height().get() + 1;
        let todo = std::mem::take(&mut self.todo);
        let mut seals: BTreeMap<usize, Vec<Seal>> = BTreeMap::new();
        let mut reveals: BTreeMap<usize, Vec<Reveal>> = BTreeMap::new();
        for item in todo {
            if item.ready_at > next {
                self.todo.push(item);
                continue;
            }
            match self.do_work(&item, next) {
                Item::Seal(seal) => seals.entry(item.operator).or_default().push(seal),
                Item::Reveal(reveal) => reveals.entry(item.operator).or_default().push(*reveal),
                Item::Wait => self.todo.push(item),
                Item::Done => {}
            }
        }
        for (operator, batch) in seals {
            for chunk in batch.chunks(jobs::BATCH_ITEMS_MAX) {
                self.queue.push(Pending {
                    signer: Signer::Operator(operator),
                    msg: msgs::seal_batch(self.world.operators[operator].id, chunk.to_vec()),
                    tag: Tag::Seals,
                });
            }
        }
        for (operator, batch) in reveals {
            for chunk in batch.chunks(jobs::BATCH_ITEMS_MAX) {
                self.queue.push(Pending {
                    signer: Signer::Operator(operator),
                    msg: msgs::reveal_batch(self.world.operators[operator].id, chunk.to_vec()),
                    tag: Tag::Reveals,
                });
            }
        }
        for (operator, batch) in std::mem::take(&mut self.claims) {
            for chunk in batch.chunks(jobs::BATCH_ITEMS_MAX) {
                self.queue.push(Pending {
                    signer: Signer::Operator(operator),
                    msg: Msg::ClaimAudits(Box::new(ClaimAudits {
                        operator: self.world.operators[operator].id,
                        claims: chunk.to_vec(),
                    })),
                    tag: Tag::Claims,
                });
            }
        }
        self.drop_expired_claims(next);
        let ids: Vec<u64> = self.disputes.keys().copied().collect();
        for id in ids {
            self.dispute_moves(id);
        }
        self.grief();
    }

    /// Claims still queued (left out by censoring proposers) whose window closes before the
    /// next block `next` are lost: the ledger would refuse them.
    fn drop_expired_claims(&mut self, next: u64) {
        let open = |jobs: &BTreeMap<JobId, JobTrack>, job: &JobId| {
            jobs.get(job)
                .and_then(|t| t.claim_until)
                .is_some_and(|until| until >= next)
        };
        let mut lost = 0;
        for pending in self.queue.iter_mut() {
            if let Msg::ClaimAudits(batch) = &mut pending.msg {
                let before = batch.claims.len();
                batch.claims.retain(|claim| open(&self.jobs, &claim.job));
                lost += before - batch.claims.len();
            }
        }
        self.totals.claims_lost += lost as u64;
        self.queue
            .retain(|p| !matches!(&p.msg, Msg::ClaimAudits(batch) if batch.claims.is_empty()));
    }

    /// A job's claim window opened (its last assignee sealed): every operator in the epoch's
    /// pool outside the parties' owners evaluates its own VRF over the sealed job; those it
    /// selects claim (every strategy does: what it then does with the audit is its strategy).
    fn open_window(&mut self, job: &JobId, until: u64, weight: Amount) {
        self.totals.windows += 1;
        let Some(track) = self.jobs.get_mut(job) else {
            return;
        };
        track.claim_until = Some(until);
        if track.predicted_weight.is_some_and(|w| w != weight) {
            self.totals.grind_mispredicted += 1;
        }
        let Some(record) = jobs::state::job(self.ledger.store(), job) else {
            return;
        };
        let Some(window) = record.audit_window else {
            return;
        };
        let Some(seed) = window.seed else {
            return;
        };
        let alpha = jobs::audit_alpha(CHAIN, job, &window.seals, &seed);
        let rate = self.config.params.jobs.audit_rate;
        let world = self.world;
        let store = self.ledger.store();
        let candidates: Vec<(usize, Amount)> = world
            .operators
            .iter()
            .enumerate()
            // Each operator serves one model (`World`): the others have no pool entry here.
            .filter(|(_, operator)| world.model_ids[operator.service] == record.model)
            .filter(|(_, operator)| !window.excluded.contains(&operator.account))
            .filter_map(|(i, operator)| {
                let entry = pool::entry(store, window.epoch, &record.model, &operator.id)?;
                (!window.excluded.contains(&entry.owner)).then_some((i, entry.weight))
            })
            .collect();
        let draws = sortition::draws(&world.vrf_keys, &candidates, &alpha);
        for (&(i, weight), draw) in candidates.iter().zip(draws) {
            let operator = &world.operators[i];
            if !jobs::is_selected(rate, weight, window.weight, draw) {
                continue;
            }
            let store = self.ledger.store();
            // A jailed operator, or one with a slash pending, knows the ledger would refuse its
            // claim (a dispute's freeze does not stop one).
            let eligible = staking::state::operator(store, &operator.id)
                .is_some_and(|o| !o.jailed && !o.tombstoned && o.pending_slashes == 0);
            if !eligible {
                if operator.strategy.is_honest() {
                    self.totals.claims_ineligible_honest += 1;
                }
                continue;
            }
            let proof = operator.key.vrf_prove(&alpha);
            let proved = proof
                .proof_to_hash()
                .expect("our own proof is valid")
                .draw();
            assert_eq!(proved, draw, "the sortition draw is the proof's");
            self.totals.claims_sent += 1;
            self.claims
                .entry(i)
                .or_default()
                .push(AuditClaim { job: *job, proof });
        }
    }

    /// A full run for `job` by `operator` (with the other checkpoint if `other`), counted as
    /// the network's verification work (a worker's or an auditor's run).
    fn run_model(&mut self, operator: usize, job: &JobId, other: bool) -> Rc<Execution> {
        self.totals.inferences.add_run();
        self.run_uncounted(operator, job, other)
    }

    /// A full run the network does not need (a griefer's, to fake a plausible claim): its
    /// operator pays for it, the overhead does not count it.
    fn run_uncounted(&mut self, operator: usize, job: &JobId, other: bool) -> Rc<Execution> {
        let track = self.jobs.get_mut(job).expect("an open job");
        let input = track.input.clone().expect("a tracked job has its input");
        let model = if other {
            &self.world.other_models[track.service]
        } else {
            &self.world.models[track.service]
        };
        let execution = compute::execute(model, &self.executor, &input);
        self.tallies[operator].inferences.add_run();
        if !other {
            track.computed.insert(operator);
        }
        Rc::new(execution)
    }

    fn fabricated(&self, job: &JobId, secret: Hash) -> Rc<Execution> {
        let input = self.jobs[job]
            .input
            .clone()
            .expect("a tracked job has its input");
        Rc::new(compute::fabricate(
            compute_steps(&self.world.models[0]) as usize,
            &input,
            &secret,
        ))
    }

    fn secrets(&self, operator: usize, job: &JobId) -> (Hash, Hash) {
        let o = &self.world.operators[operator];
        let own = Hash::of_parts("surety.sim.fake", &[&o.account.0, &job.0]);
        let family = Hash::of_parts(
            "surety.sim.fake",
            &[
                &self.world.family_secret.0,
                &o.family.unwrap_or(u32::MAX).to_le_bytes(),
                &job.0,
            ],
        );
        (own, family)
    }

    /// Do `item` for the next block.
    fn do_work(&mut self, item: &Todo, next: u64) -> Item {
        if !self.jobs.contains_key(&item.job) {
            return Item::Done;
        }
        if item.reveal {
            return self.reveal(item, next);
        }
        let plan = match item.role {
            Role::Worker => self.work_plan(item, next),
            Role::Auditor => self.audit_plan(item),
        };
        let (execution, copy_of) = match plan {
            Plan::Run(execution) => (Some(execution), None),
            Plan::CopySeal(other) => (None, Some(other)),
            Plan::Wait => return Item::Wait,
            Plan::Nothing => return Item::Done,
        };
        let operator = &self.world.operators[item.operator];
        let result = execution
            .as_ref()
            .map(|e| msgs::commit(CHAIN, &item.job, e, &operator.key));
        let grinds =
            item.role == Role::Worker && operator.strategy.work() == Work::FabricateAndGrindSalt;
        let salt = match &result {
            Some(result) if grinds => self.ground_salt(item, next, result),
            _ => self.rng.bytes32(),
        };
        let operator = &self.world.operators[item.operator];
        let seal = match (&result, copy_of) {
            (Some(result), _) => msgs::seal(&item.job, &operator.id, result, &salt),
            (None, other) => {
                let other = other.expect("a plan without an execution copies a seal");
                let record = jobs::state::job(self.ledger.store(), &item.job).expect("open");
                let other_id = self.world.operators[other].id;
                let commitment = record
                    .live_assignments()
                    .find(|a| a.operator == other_id)
                    .and_then(|a| a.seal)
                    .expect("the copied replica has sealed");
                Seal {
                    job: item.job,
                    commitment,
                }
            }
        };
        let track = self.jobs.get_mut(&item.job).expect("an open job");
        track.executions.insert(item.operator, execution);
        track.sealed.insert(
            item.operator,
            Sealed {
                salt,
                result,
                copy_of,
            },
        );
        Item::Seal(seal)
    }

    fn work_plan(&mut self, item: &Todo, next: u64) -> Plan {
        let strategy = self.world.operators[item.operator].strategy;
        let (own, family) = self.secrets(item.operator, &item.job);
        match strategy.work() {
            Work::Compute | Work::ComputeAndEquivocate => {
                Plan::Run(self.run_model(item.operator, &item.job, false))
            }
            Work::OtherWeights => {
                self.tallies[item.operator].cheats += 1;
                Plan::Run(self.run_model(item.operator, &item.job, true))
            }
            Work::Fabricate => {
                self.tallies[item.operator].cheats += 1;
                Plan::Run(self.fabricated(&item.job, own))
            }
            Work::FabricateAsFamily | Work::FabricateAndGrindSalt => {
                self.tallies[item.operator].cheats += 1;
                Plan::Run(self.fabricated(&item.job, family))
            }
            Work::FabricateUnlessOutsiderReplica => {
                if self.partner_may_fabricate(item) {
                    self.tallies[item.operator].cheats += 1;
                    let track = self.jobs.get_mut(&item.job).expect("an open job");
                    track.partner_fabricated.insert(item.operator);
                    Plan::Run(self.fabricated(&item.job, family))
                } else {
                    Plan::Run(self.run_model(item.operator, &item.job, false))
                }
            }
            Work::Silent => {
                self.tallies[item.operator].cheats += 1;
                Plan::Nothing
            }
            Work::CopyElseCompute => {
                // Blind results: nothing is revealed before every seal is in, so all a copier
                // can reuse is another replica's seal, which it then tries to open.
                let me = self.world.operators[item.operator].id;
                let other = jobs::state::job(self.ledger.store(), &item.job).and_then(|record| {
                    record
                        .live_assignments()
                        .find(|a| a.operator != me && a.seal.is_some())
                        .map(|a| self.world.index(&a.operator))
                });
                match other {
                    Some(other) => {
                        self.tallies[item.operator].cheats += 1;
                        Plan::CopySeal(other)
                    }
                    None if self.jobs[&item.job].replicas >= 2 && next + 2 < item.deadline => {
                        Plan::Wait
                    }
                    None => Plan::Run(self.run_model(item.operator, &item.job, false)),
                }
            }
        }
    }

    /// A partner auditor's decision as it seals, from what the job's record in state says now:
    /// fabricate unless an outsider holds another live replica (it would disagree). Who audits
    /// is decided only after the last seal, by each auditor's own VRF over the seals, so the
    /// record cannot name an auditor yet (counted if it ever did). Counted by case.
    fn partner_may_fabricate(&mut self, item: &Todo) -> bool {
        let Some(record) = jobs::state::job(self.ledger.store(), &item.job) else {
            return false;
        };
        let partner = |id: &OperatorId| {
            self.world.operators[self.world.index(id)].strategy == Strategy::PartnerAuditor
        };
        let me = self.world.operators[item.operator].id;
        let outsider_replica = record
            .live_assignments()
            .any(|a| a.operator != me && !partner(&a.operator));
        let partners = &mut self.totals.partners;
        if record.audit_window.is_some() || !record.audits.is_empty() {
            partners.auditors_visible += 1;
        }
        if outsider_replica {
            partners.outsider_replica += 1;
            false
        } else {
            partners.gamble += 1;
            true
        }
    }

    /// A grinding partner's salt for `item`. It would grind its salt until its colluding
    /// validators' VRFs select one of them, but what they run on includes the seed of the
    /// block `audit_seed_delay` after its seal, which it cannot know when it seals (unless all
    /// the proposers up to it collude: `R(13)`, not played here): its grinding is blind, and
    /// any salt will do. Counted, so the report shows the grinds that found nothing to grind.
    fn ground_salt(&mut self, item: &Todo, _next: u64, _result: &CommitResult) -> [u8; 32] {
        let me = self.world.operators[item.operator].id;
        let last = jobs::state::job(self.ledger.store(), &item.job).is_some_and(|record| {
            record
                .live_assignments()
                .all(|a| a.operator == me || a.seal.is_some())
        });
        if last {
            self.totals.grinds += 1;
            self.totals.grinds_blind += 1;
        }
        self.rng.bytes32()
    }

    /// An operator its VRF selected to audit: what it seals is its strategy's.
    fn audit_plan(&mut self, item: &Todo) -> Plan {
        let operator = &self.world.operators[item.operator];
        let target = self.audit_target(&item.job, &operator.id);
        let strategy = operator.strategy;
        let in_family = target.is_some_and(|t| {
            operator.family.is_some()
                && self.world.operators[t].family == operator.family
                && (strategy != Strategy::PartnerAuditor
                    || self.jobs[&item.job].partner_fabricated.contains(&t))
        });
        let (own, family) = self.secrets(item.operator, &item.job);
        match strategy.audit(in_family) {
            Audit::Compute => Plan::Run(self.run_model(item.operator, &item.job, false)),
            Audit::AgreeAsFamily => {
                self.tallies[item.operator].cheats += 1;
                Plan::Run(self.fabricated(&item.job, family))
            }
            // Blind: nothing to see, so a guess is a fabrication.
            Audit::Guess => {
                self.tallies[item.operator].cheats += 1;
                Plan::Run(self.fabricated(&item.job, own))
            }
            Audit::Silent => {
                self.tallies[item.operator].cheats += 1;
                Plan::Nothing
            }
        }
    }

    /// Open one's seal: one's result (or, for a copier, the copied replica's, which cannot
    /// open a seal bound to another operator).
    fn reveal(&mut self, item: &Todo, next: u64) -> Item {
        // Auditors reveal last: once the assignees' results are compared, so none of them
        // knew at its reveal whether it was audited. The ledger sets an auditor's reveal
        // deadline afresh when it compares the results, so the auditor reads it from the job.
        if item.role == Role::Auditor {
            let Some(record) = jobs::state::job(self.ledger.store(), &item.job) else {
                return Item::Done;
            };
            let compared = matches!(
                record.status,
                JobStatus::Challengeable { .. } | JobStatus::Disputed { .. }
            );
            if !compared {
                return Item::Wait;
            }
            let me = self.world.operators[item.operator].id;
            let open = record.audit_of(&me).is_some_and(|a| {
                a.outcome == jobs::AuditOutcome::Pending && next <= a.deadline.get()
            });
            if !open {
                return Item::Done;
            }
        }
        let track = &self.jobs[&item.job];
        let Some(sealed) = track.sealed.get(&item.operator).cloned() else {
            return Item::Done;
        };
        let (result, salt) = match sealed.copy_of {
            Some(other) => match track.published.iter().find(|(who, _, _)| *who == other) {
                Some((_, seen, salt)) => (
                    Some(msgs::recommit(
                        seen,
                        &self.world.operators[item.operator].key,
                    )),
                    *salt,
                ),
                None if next < item.deadline => return Item::Wait,
                None => return Item::Done,
            },
            None => (sealed.result.clone(), sealed.salt),
        };
        let Some(result) = result else {
            return Item::Done;
        };
        Item::Reveal(Box::new(Reveal {
            job: item.job,
            salt,
            result,
        }))
    }

    fn audit_target(&self, job: &JobId, auditor: &OperatorId) -> Option<usize> {
        let record = jobs::state::job(self.ledger.store(), job)?;
        record
            .audit_of(auditor)
            .map(|audit| self.world.index(&audit.target))
    }

    /// Both parties' moves in dispute `id`, each from its own execution: a leaf at the
    /// asked index, or the referee's input from whichever party holds the real activation.
    fn dispute_moves(&mut self, id: u64) {
        let Some(record) = disputes::state::dispute(self.ledger.store(), id) else {
            return;
        };
        let track = &self.disputes[&id];
        let job = track.job;
        let parties = [(0u8, track.defendant), (1u8, track.challenger)];
        let execution_of = |who: usize| -> Option<Rc<Execution>> {
            self.jobs.get(&job)?.executions.get(&who)?.clone()
        };
        let mut moves = Vec::new();
        match record.phase {
            Phase::Bisect {
                index,
                defendant,
                challenger,
                ..
            } => {
                for ((side, who), revealed) in parties.iter().zip([defendant, challenger]) {
                    if revealed.is_some() || track.queued.contains(&(record.moves, *side)) {
                        continue;
                    }
                    if let Some(execution) = execution_of(*who) {
                        moves.push((*side, *who, vec![msgs::reveal(id, index, &execution)]));
                    }
                }
            }
            Phase::AwaitInput { .. } if !track.input_queued => {
                let step = record.isolated_step().expect("an isolated step");
                // Step 0's input is the job input, which the ledger holds: the referee runs
                // by itself in the next block, and a node's worker sends nothing for it.
                if step == 0 {
                    return;
                }
                for (side, who) in parties {
                    match execution_of(who) {
                        Some(execution) if execution.activations.len() > step as usize => {
                            moves.push((side, who, msgs::provide_input(id, step, &execution)));
                            break;
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        let track = self.disputes.get_mut(&id).expect("tracked");
        for (side, who, msgs) in moves {
            if matches!(record.phase, Phase::AwaitInput { .. }) {
                track.input_queued = true;
            } else {
                track.queued.insert((record.moves, side));
            }
            for msg in msgs {
                self.queue.push(Pending {
                    signer: Signer::Operator(who),
                    msg,
                    tag: Tag::Move,
                });
            }
        }
    }

    /// Griefers challenge honest results they know to be right, with a claim whose last step
    /// they moved.
    fn grief(&mut self) {
        let griefers: Vec<usize> = self
            .world
            .operators
            .iter()
            .filter(|o| o.strategy == Strategy::Griefer)
            .map(|o| o.index)
            .collect();
        self.challengeable.retain(|job| self.jobs.contains_key(job));
        for griefer in griefers {
            if self.challengeable.is_empty() || !self.rng.chance(self.config.griefing_rate) {
                continue;
            }
            let pick = self.rng.below(self.challengeable.len());
            let job = self.challengeable.swap_remove(pick);
            let track = &self.jobs[&job];
            if track.challenged
                || track.workers.contains(&griefer)
                || track.executions.contains_key(&griefer)
            {
                continue;
            }
            let Some(record) = jobs::state::job(self.ledger.store(), &job) else {
                continue;
            };
            if !matches!(record.status, JobStatus::Challengeable { .. }) {
                continue;
            }
            let Some(defendant) = record.live_assignments().next().map(|a| a.operator) else {
                continue;
            };
            let honest = self.run_uncounted(griefer, &job, false);
            self.totals.attacker_runs += 1;
            let claim = Rc::new(compute::alter_last(&honest));
            self.tallies[griefer].cheats += 1;
            let track = self.jobs.get_mut(&job).expect("open");
            track.challenged = true;
            track.computed.remove(&griefer);
            track.executions.insert(griefer, Some(claim.clone()));
            self.queue.push(Pending {
                signer: Signer::Operator(griefer),
                msg: msgs::challenge(&job, &defendant, &claim),
                tag: Tag::Challenge,
            });
        }
    }
}

/// What a party's seal will commit to.
enum Plan {
    /// Its own execution (or fabrication).
    Run(Rc<Execution>),
    /// A copier reuses this replica's seal.
    CopySeal(usize),
    Wait,
    Nothing,
}

fn compute_steps(model: &surety_infer::Model) -> u64 {
    model.program().len() as u64
}

/// The jobs a transaction claims audits of (none for any other message).
fn claimed_jobs(msg: &Msg) -> impl Iterator<Item = JobId> + '_ {
    let claims = match msg {
        Msg::ClaimAudits(batch) => batch.claims.as_slice(),
        _ => &[],
    };
    claims.iter().map(|claim| claim.job)
}
