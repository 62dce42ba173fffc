//! Jobs state: one record per job (its input, escrowed fee, assignments, results, audit and
//! status), an index of jobs by the height something is due for them (a deadline, the end of
//! the challenge window), jobs waiting for the next block's seed to be assigned or audited,
//! an index of open work per operator (what the operator worker polls), and the prune queue:
//! jobs closed (final or failed) in this block, waiting for their prune height, and closed
//! jobs by the height they leave state (`prune`).

use crate::congestion::Stretch;
use crate::store::{key, part_from_end, schedule_key, Store};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::{AccountId, Amount, Epoch, Hash, Height, JobId, ModelId, OperatorId};

/// An inference job in the market (DESIGN §5): its input and fee, who computes and audits it,
/// their results, and where it is in its life.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Job {
    /// The job's id, derived from the submitting transaction's hash.
    pub id: JobId,
    /// Who submitted it; refunded if it fails.
    pub client: AccountId,
    /// The model it runs.
    pub model: ModelId,
    /// The canonical input activation, borsh-encoded (text is tokenised at submission).
    #[serde(with = "surety_types::encoding::hex_bytes")]
    pub input: Vec<u8>,
    /// The hash of `input`: the leaf both sides of a dispute agree on before step 0.
    pub input_hash: Hash,
    /// Steps of the model's program: every trace has exactly this many leaves.
    pub steps: u64,
    /// Escrowed fee for all replicas.
    pub fee: Amount,
    /// How many operators compute it independently.
    pub replicas: u32,
    /// Blocks each assigned operator has to commit its result.
    pub deadline_blocks: u64,
    /// The height it was submitted.
    pub submitted: Height,
    /// Every assignment made, replaced ones (`missed`) included, in order.
    pub assignments: Vec<Assignment>,
    /// Replacements made for missed deadlines so far (at most `reassignments_max`).
    pub reassignments: u32,
    /// Its claim window, once every live assignee has sealed: what auditors' VRFs run on and
    /// how claims are weighed.
    pub audit_window: Option<AuditWindow>,
    /// The audits claimed in that window, in claim order: every operator its VRF selected.
    pub audits: Vec<Audit>,
    /// Where the job is in its life.
    pub status: JobStatus,
}

/// One operator's assignment to a job.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Assignment {
    /// The assigned operator.
    pub operator: OperatorId,
    /// The height it was assigned.
    pub assigned: Height,
    /// The last height its seal is taken (while the job is `Assigned`), then the last height
    /// its reveal is taken (while it is `Revealing`).
    pub deadline: Height,
    /// Its hiding commitment to its result, once in.
    pub seal: Option<Hash>,
    /// Its revealed result, once in.
    pub result: Option<JobResult>,
    /// Missed its deadline and was replaced.
    pub missed: bool,
    /// How far `deadline` has stretched for slack blocks (full or off schedule).
    pub stretch: Stretch,
}

/// A committed result: the output and the claims a dispute can check against it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct JobResult {
    /// The output activation, borsh-encoded.
    #[serde(with = "surety_types::encoding::hex_bytes")]
    pub output: Vec<u8>,
    /// The output's hash: the last leaf of `trace_root`.
    pub output_hash: Hash,
    /// Merkle root over the hashes of every step's activation.
    pub trace_root: Hash,
    /// The height it was committed.
    pub committed: Height,
}

/// A job's audit claim window (docs/market.md, "Audits: private sortition"). Opened by the last
/// assignee's seal, when everything an auditor's VRF runs on is fixed; open for
/// `audit_claim_blocks`. Claims are weighed against the pool
/// snapshot of `epoch`, taken at that epoch's start, so nothing done after the seals moves
/// anyone's chance of being selected.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AuditWindow {
    /// The height the last live assignee sealed.
    pub opened: Height,
    /// The block whose seed enters what auditors' VRFs run on: claims are taken from it on.
    /// `audit_seed_delay` after `opened`, unless a block off its schedule came among the
    /// `audit_seed_delay + 1` blocks up to it (the seal's own block included): then that many
    /// after the last such block, at most `audit_seed_delay` late
    /// ([`crate::congestion::restarted`]). So its seed is that of the last of a run of blocks
    /// their round-0 proposers built, never one a later round's proposer chose, unless the cap
    /// is spent (docs/market.md, *Remaining assumptions*).
    pub draw_at: Height,
    /// That block's seed, once it began.
    pub seed: Option<Hash>,
    /// The last height a claim is taken: `audit_claim_blocks` after `draw_at`, unless a slack
    /// block came among the window's final `audit_claim_blocks` blocks; then that many after
    /// the last such block, at most `audit_claim_blocks` late. A spammer filling the window's
    /// blocks, or honest proposers knocked out in it, does not keep honest claims out, and a
    /// knocked-out height never joins two runs of colluding proposers into one.
    pub until: Height,
    /// The epoch whose pool snapshot weighs the claims.
    pub epoch: Epoch,
    /// [`seals_digest`](super::msg::seals_digest) of the live assignees' seals: part of what
    /// every auditor's VRF runs on.
    pub seals: Hash,
    /// The snapshot weight of the operators that may claim: every operator of the pool outside
    /// the parties' owners. A claimant with weight `w` is selected with probability
    /// `audit_rate · w / weight`.
    pub weight: Amount,
    /// The parties' accounts and owners (family heads): no operator whose account or owner is
    /// among them may claim.
    pub excluded: Vec<AccountId>,
}

/// An audit of a job (DESIGN §5 step 4, docs/market.md "Audits"): an operator outside the
/// parties' families whose own VRF over the job's sealed state selected it. It seals like an
/// assignee, and reveals once the assignees' results are compared.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Audit {
    /// The auditor.
    pub auditor: OperatorId,
    /// The height of its claim.
    pub claimed: Height,
    /// The result audited: the first live assignee's (set when the results are compared).
    pub target: OperatorId,
    /// The last height the auditor's seal is taken, then the last height its reveal is.
    pub deadline: Height,
    /// Its hiding commitment, once in.
    pub seal: Option<Hash>,
    /// The auditor's output hash, once committed.
    pub output_hash: Option<Hash>,
    /// The auditor's trace root, once committed.
    pub trace_root: Option<Hash>,
    /// Where the audit stands.
    pub outcome: AuditOutcome,
    /// How far `deadline` has stretched for slack blocks (full or off schedule).
    pub stretch: Stretch,
}

/// Where an audit stands.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    /// The auditor has not revealed yet (or its result is not compared yet).
    Pending,
    /// The auditor's result matched the audited one.
    Agreed,
    /// The auditor disagreed: a dispute decides.
    Disputed {
        /// The dispute that decides.
        dispute: u64,
    },
    /// The auditor did not answer in time.
    Missed,
    /// The auditor disagreed while another dispute over the job was open: its dispute opens
    /// when that one settles, if the audited result still stands (one dispute per job).
    Deferred,
    /// The job failed before the audit could matter: nothing is owed either way.
    Closed,
}

/// Where a job is in its life.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for the next block's seed to pick its operators.
    Queued,
    /// Operators are computing and sealing their results.
    Assigned,
    /// Every assignee and every auditor claimed in the window has sealed (or missed its seal
    /// deadline): they reveal until `until`.
    Revealing {
        /// The last height a reveal is taken.
        until: Height,
    },
    /// All results are in and agree; anyone may challenge until `until`.
    Challengeable {
        /// The last height of the challenge window.
        until: Height,
    },
    /// A dispute over a result is open.
    Disputed {
        /// The open dispute.
        dispute: u64,
    },
    /// Paid; the result stands.
    Final {
        /// The height it became final.
        height: Height,
    },
    /// Refunded; no result stands.
    Failed {
        /// Why it failed.
        reason: String,
    },
}

impl Job {
    /// The live (not replaced) assignments.
    pub fn live_assignments(&self) -> impl Iterator<Item = &Assignment> {
        self.assignments.iter().filter(|a| !a.missed)
    }

    /// The live assignment of `operator`, if it has one.
    pub fn assignment_of(&self, operator: &OperatorId) -> Option<&Assignment> {
        self.assignments
            .iter()
            .find(|a| !a.missed && a.operator == *operator)
    }

    /// The standing result: the first live result, once all live assignments agree.
    pub fn result(&self) -> Option<&JobResult> {
        self.live_assignments().find_map(|a| a.result.as_ref())
    }

    /// One assignee's share of the fee, rounded up: what one replica is paid, at most.
    pub fn fee_share(&self) -> Amount {
        Amount::new(self.fee.get().div_ceil(u128::from(self.replicas.max(1))))
    }

    /// True once the job is paid and its result stands.
    pub fn is_final(&self) -> bool {
        matches!(self.status, JobStatus::Final { .. })
    }

    /// The audit by `operator`, if it claimed one.
    pub fn audit_of(&self, operator: &OperatorId) -> Option<&Audit> {
        self.audits.iter().find(|a| a.auditor == *operator)
    }
}

/// Work an operator owes: the key lists (operator, job), the value says in what role.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Assigned to compute the job.
    Worker,
    /// Selected (by its own VRF) to audit a result of the job.
    Auditor,
}

fn job_key(id: &JobId) -> Vec<u8> {
    key("jobs/job", &[&id.0])
}

/// The job `id`, if it exists.
pub fn job(store: &Store, id: &JobId) -> Option<Job> {
    store.get(&job_key(id))
}

pub(super) fn set_job(store: &mut Store, job: &Job) {
    store.put(job_key(&job.id), job);
}

/// Delete a closed job's record and every index entry that names it (its queued seed action,
/// the work of everyone it was given to). Schedule entries for it may remain: each is taken at
/// its height and finds no job.
pub(super) fn delete_job(store: &mut Store, job: &Job) {
    store.delete(&job_key(&job.id));
    store.delete(&key("jobs/pending", &[&job.id.0]));
    super::suspects::delete(store, &job.id);
    for assignment in &job.assignments {
        remove_work(store, &assignment.operator, &job.id);
    }
    for audit in &job.audits {
        remove_work(store, &audit.auditor, &job.id);
    }
    close_claims(store, job);
}

const CLOSED: &str = "jobs/closed";
const PRUNE: &str = "jobs/prune";
const PRUNE_CURSOR: &[u8] = b"jobs/prune-cursor";

/// `id` became final or failed in this block: the end of the block gives it a prune height.
pub(super) fn mark_closed(store: &mut Store, id: &JobId) {
    store.put(key(CLOSED, &[&id.0]), &());
}

/// The jobs closed in this block, removing their marks.
pub(super) fn take_closed(store: &mut Store) -> Vec<JobId> {
    let mut ids = Vec::new();
    for entry in store.prefix_keys(&key(CLOSED, &[b""])) {
        store.delete(&entry);
        ids.push(JobId(
            part_from_end(&entry, 0).expect("closed keys end in a job id"),
        ));
    }
    ids
}

/// `id` leaves state at the end of block `height` (or, past the per-block cap, a later one).
pub(super) fn schedule_prune(store: &mut Store, height: Height, id: &JobId) {
    store.put(schedule_key(PRUNE, height, &id.0), &());
}

/// The jobs queued to leave state at `height`, in id order (entries are removed one by one
/// with [`unschedule_prune`] as each job goes, so a capped block leaves the rest queued).
pub(super) fn prune_queue_at(store: &Store, height: Height) -> Vec<JobId> {
    let mut prefix = schedule_key(PRUNE, height, &[0; 32]);
    // The key without its 32-byte id: `<name>/<height>/`.
    prefix.truncate(prefix.len().saturating_sub(32));
    store
        .prefix_keys(&prefix)
        .iter()
        .filter_map(|entry| part_from_end(entry, 0).map(JobId))
        .collect()
}

pub(super) fn unschedule_prune(store: &mut Store, height: Height, id: &JobId) {
    store.delete(&schedule_key(PRUNE, height, &id.0));
}

/// Every (height, job) in the prune queue (invariant checks and tests).
pub fn prune_queue(store: &Store) -> Vec<(Height, JobId)> {
    store
        .scheduled(PRUNE)
        .into_iter()
        .map(|(height, id)| (height, JobId(id)))
        .collect()
}

/// The first height of the prune queue not yet gone through, when pruning is behind (a capped
/// block); `None` when it has caught up with the last block.
pub(super) fn prune_cursor(store: &Store) -> Option<Height> {
    store.get(PRUNE_CURSOR)
}

pub(super) fn set_prune_cursor(store: &mut Store, cursor: Option<Height>) {
    match cursor {
        Some(height) => store.put(PRUNE_CURSOR.to_vec(), &height),
        None => store.delete(PRUNE_CURSOR),
    }
}

/// True if a job closed in this block has not been given its prune height yet (none should be
/// once a block is over).
pub fn has_closed_marks(store: &Store) -> bool {
    !store.prefix_keys(&key(CLOSED, &[b""])).is_empty()
}

fn claims_key(model: &ModelId, id: &JobId) -> Vec<u8> {
    key("jobs/claims", &[&model.0, &id.0])
}

/// `job`'s claim window is open until `until`: listed for the model's operators to check their
/// VRFs against ([`open_claims`]).
pub(super) fn list_claims(store: &mut Store, job: &Job, until: Height) {
    store.put(claims_key(&job.model, &job.id), &until);
}

/// `job`'s claim window is over (or the job is gone).
pub(super) fn close_claims(store: &mut Store, job: &Job) {
    store.delete(&claims_key(&job.model, &job.id));
}

/// The jobs of `model` whose claim window is open, with its last height, in id order: what a
/// worker checks its VRF against.
pub fn open_claims(store: &Store, model: &ModelId) -> Vec<(JobId, Height)> {
    let prefix = key("jobs/claims", &[&model.0, b""]);
    store
        .prefix_values::<Height>(&prefix)
        .into_iter()
        .map(|(entry, until)| {
            let id = part_from_end(&entry, 0).expect("claim keys end in a job id");
            (JobId(id), until)
        })
        .collect()
}

/// Every listed claim window (model, job), in key order (invariant checks).
pub fn all_open_claims(store: &Store) -> Vec<(ModelId, JobId)> {
    store
        .prefix_keys(b"jobs/claims/")
        .into_iter()
        .filter_map(|entry| {
            let id = part_from_end::<32>(&entry, 0)?;
            let model = part_from_end::<32>(&entry, 33)?;
            Some((ModelId(model), JobId(id)))
        })
        .collect()
}

/// The jobs of schedule `name` at `height`, removing their entries.
fn take_jobs(store: &mut Store, name: &str, height: Height) -> Vec<JobId> {
    store
        .take_scheduled(name, height)
        .into_iter()
        .map(JobId)
        .collect()
}

const DRAW: &str = "jobs/draw";

/// `id`'s claim window opens in the begin hook of block `height`, with that block's seed.
pub(super) fn schedule_draw(store: &mut Store, height: Height, id: &JobId) {
    store.put(schedule_key(DRAW, height, &id.0), &());
}

/// Jobs whose claim window opens in block `height`, removing their entries.
pub(super) fn take_draws(store: &mut Store, height: Height) -> Vec<JobId> {
    take_jobs(store, DRAW, height)
}

/// Every scheduled window opening (height, job), in key order (invariant checks).
pub fn scheduled_draws(store: &Store) -> Vec<(Height, JobId)> {
    store
        .scheduled(DRAW)
        .into_iter()
        .map(|(height, id)| (height, JobId(id)))
        .collect()
}

const DUE: &str = "jobs/due";

/// Something is due for `id` at the end of block `height`.
pub(super) fn schedule(store: &mut Store, height: Height, id: &JobId) {
    store.put(schedule_key(DUE, height, &id.0), &());
}

/// Jobs with something due at the end of `height` (each once: an entry is keyed by height and
/// id), removing their entries.
pub(super) fn take_due(store: &mut Store, height: Height) -> Vec<JobId> {
    take_jobs(store, DUE, height)
}

/// What the next block's begin hook does for a job with that block's seed: a seed nobody knew
/// when the job was submitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Pending {
    /// Draw the job's operators (its auditors select themselves once they have sealed).
    Assign,
}

pub(super) fn queue_for_next_block(store: &mut Store, id: &JobId, action: Pending) {
    store.put(key("jobs/pending", &[&id.0]), &action);
}

pub(super) fn take_pending(store: &mut Store) -> Vec<(JobId, Pending)> {
    let mut ids = Vec::new();
    for (entry, action) in store.prefix_values::<Pending>(b"jobs/pending/") {
        store.delete(&entry);
        let id = part_from_end(&entry, 0).expect("pending keys end in a job id");
        ids.push((JobId(id), action));
    }
    ids
}

/// Every job, in id order (invariant checks and tests).
pub fn all_jobs(store: &Store) -> Vec<Job> {
    store
        .prefix_values::<Job>(b"jobs/job/")
        .into_iter()
        .map(|(_, job)| job)
        .collect()
}

fn work_key(operator: &OperatorId, id: &JobId) -> Vec<u8> {
    key("jobs/work", &[&operator.0, &id.0])
}

pub(super) fn add_work(store: &mut Store, operator: &OperatorId, id: &JobId, role: Role) {
    store.put(work_key(operator, id), &role);
}

/// True when `operator` owes `id` something (a seal or a reveal, as an assignee or an
/// auditor): one key read, checked before a batch item loads the job.
pub(super) fn has_work(store: &Store, operator: &OperatorId, id: &JobId) -> bool {
    store.contains(&work_key(operator, id))
}

pub(super) fn remove_work(store: &mut Store, operator: &OperatorId, id: &JobId) {
    store.delete(&work_key(operator, id));
}

/// The jobs `operator` has to compute or audit, in id order.
pub fn work_of(store: &Store, operator: &OperatorId) -> Vec<(JobId, Role)> {
    let prefix = key("jobs/work", &[&operator.0, b""]);
    store
        .prefix_values::<Role>(&prefix)
        .into_iter()
        .map(|(entry, role)| {
            let id = part_from_end(&entry, 0).expect("work keys end in a job id");
            (JobId(id), role)
        })
        .collect()
}

/// Fees of the jobs `operator` is assigned to that are not yet final or failed (its share of
/// each, [`Job::fee_share`]): what it could pocket by cheating on all of them at once. Capped
/// at `in_flight_fee_fraction` of its slashable allocation when it is drawn. Kept by the
/// services module beside the allocations, which it holds in place while any is in flight.
pub fn in_flight(store: &Store, operator: &OperatorId) -> Amount {
    crate::services::fees_in_flight(store, operator)
}

/// Every operator's fees in flight, in operator order (invariant checks).
pub fn all_in_flight(store: &Store) -> Vec<(OperatorId, Amount)> {
    crate::services::state::all_fees_in_flight(store)
}

/// `operator` took on `job`: its share of the fee is in flight until the job ends or the
/// operator leaves it.
pub(super) fn add_in_flight(store: &mut Store, operator: &OperatorId, job: &Job) {
    crate::services::add_fees_in_flight(store, operator, job.fee_share());
}

/// `operator`'s share of `job` is no longer in flight (the job ended, or the operator missed
/// its deadline or was proven wrong).
pub(super) fn release_in_flight(store: &mut Store, operator: &OperatorId, job: &Job) {
    crate::services::release_fees_in_flight(store, operator, job.fee_share());
}
