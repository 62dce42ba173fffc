//! The RPC contract (DESIGN §7): every request and response body the node's RPC serves, as
//! serde types that the RPC handlers build and the `surety` CLI reads, and that the OpenAPI
//! document's schemas are generated from (`rpc::openapi`). One set of types, so the server,
//! the client and the document cannot disagree about a field.
//!
//! It holds data only: the handlers read ledger state and fill these in; nothing here reads
//! state or does IO. Types of the lower crates (ids, hashes, amounts, ledger records) do not
//! derive `JsonSchema`; their fields name the JSON they serialise to (`with = ...`): ids and
//! hashes are strings, amounts decimal strings, heights numbers, and ledger records objects
//! described in docs/ rather than here.

use crate::block::{BlockHeader, CommitCertificate};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use surety_infer::{Activation, Data};
use surety_ledger::disputes::Dispute;
use surety_ledger::jobs::{Job, Role};
use surety_ledger::models::{ModelFile, ModelRecord, ModelStatus};
use surety_ledger::services::Allocation;
use surety_ledger::smt::StateProof;
use surety_ledger::staking::state::{Operator, UnbondingEntry, Validator};
use surety_ledger::Receipt;
use surety_types::{AccountId, Amount, Epoch, Hash, Height, JobId, ModelId, OperatorId, Shares};

/// Most transactions in one gossip batch.
pub const GOSSIP_BATCH_MAX: usize = 4096;
/// Most missing chunk indices one `/models/{id}/files/{file}/missing` answer lists.
pub const MISSING_CHUNKS_MAX: usize = 4096;
/// Most values of an output shown decoded (larger outputs are given as hex only).
pub const OUTPUT_VALUES_SHOWN_MAX: usize = 65_536;

/// A ledger or node record as it serialises (its fields are documented in docs/).
type Record = serde_json::Value;

/// Every error answer (4xx, 5xx): what was wrong.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    pub error: String,
}

/// `POST /tx`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitTx {
    /// Hex of the borsh-encoded signed transaction.
    pub tx: String,
}

/// `POST /tx`, admitted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Submitted {
    #[schemars(with = "String")]
    pub hash: Hash,
}

/// `POST /txs/gossip`: transactions a peer forwards.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GossipTxs {
    /// Hex of each borsh-encoded signed transaction.
    #[schemars(length(max = GOSSIP_BATCH_MAX))]
    pub txs: Vec<String>,
}

/// `POST /txs/gossip`: how many of the batch were admitted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GossipAnswer {
    pub admitted: usize,
    pub received: usize,
}

/// `GET /tx/{hash}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TxStatus {
    /// Waiting in this node's mempool.
    Pending,
    /// In block `height` at position `index`, with what became of it.
    Committed {
        #[schemars(with = "u64")]
        height: Height,
        index: u32,
        #[schemars(with = "Record")]
        receipt: Box<Receipt>,
    },
}

/// `GET /account/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AccountView {
    #[schemars(with = "String")]
    pub account: AccountId,
    #[schemars(with = "String")]
    pub balance: Amount,
    /// The committed nonce.
    pub nonce: u64,
    /// The next nonce counting the account's transactions waiting in this node's mempool.
    pub next_nonce: u64,
}

/// `GET /operators`: every operator record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct OperatorList(#[schemars(with = "Vec<Record>")] pub Vec<Operator>);

/// `GET /operator/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OperatorView {
    #[schemars(with = "Record")]
    pub operator: Operator,
    #[schemars(with = "String")]
    pub self_bond: Amount,
}

/// One delegation of an account, valued now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DelegationView {
    #[schemars(with = "String")]
    pub operator: OperatorId,
    #[schemars(with = "String")]
    pub shares: Shares,
    #[schemars(with = "String")]
    pub tokens: Amount,
    #[schemars(with = "String")]
    pub pending_rewards: Amount,
}

/// `GET /delegations/{account}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DelegationsView {
    #[schemars(with = "String")]
    pub account: AccountId,
    pub delegations: Vec<DelegationView>,
    #[schemars(with = "Vec<Record>")]
    pub unbonding: Vec<UnbondingEntry>,
}

/// `GET /validators`: the active set with its power.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct ValidatorList(#[schemars(with = "Vec<Record>")] pub Vec<Validator>);

/// `GET /block/latest`, `GET /block/{height}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BlockView {
    #[schemars(with = "String")]
    pub hash: Hash,
    #[schemars(with = "Record")]
    pub header: BlockHeader,
    /// Hex of each transaction's bytes, in block order.
    pub txs: Vec<String>,
}

/// `GET /proof/{key}`: a state value with its inclusion or exclusion proof.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProofView {
    #[schemars(with = "u64")]
    pub height: Height,
    #[schemars(with = "String")]
    pub state_root: Hash,
    /// The key, hex.
    pub key: String,
    /// The value, hex; absent keys have none.
    pub value: Option<String>,
    #[schemars(with = "Record")]
    pub proof: StateProof,
}

/// A model record without its manifest bytes (`GET /models`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelSummary {
    #[schemars(with = "String")]
    pub id: ModelId,
    pub name: String,
    #[schemars(with = "String")]
    pub publisher: AccountId,
    #[schemars(with = "Record")]
    pub status: ModelStatus,
    pub steps: u64,
    pub text: bool,
    #[schemars(with = "Record")]
    pub lineage: surety_ledger::models::Lineage,
    #[schemars(with = "Vec<Record>")]
    pub files: Vec<ModelFile>,
    /// Each file's chunk count.
    pub file_chunks: Vec<u64>,
    #[schemars(with = "u64")]
    pub registered: Height,
}

impl ModelSummary {
    pub fn of(record: &ModelRecord) -> ModelSummary {
        ModelSummary {
            id: record.id,
            name: record.name.clone(),
            publisher: record.publisher,
            status: record.status.clone(),
            steps: record.steps,
            text: record.text,
            lineage: record.lineage.clone(),
            files: record.files.clone(),
            file_chunks: record.files.iter().map(|f| f.chunk_count()).collect(),
            registered: record.registered,
        }
    }
}

/// `GET /models`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct ModelList(pub Vec<ModelSummary>);

/// A model's manifest, summarised, with its bytes (hex).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ManifestView {
    pub name: String,
    pub engine_version: u32,
    pub architecture: String,
    /// The architecture's configuration, as the engine prints it.
    pub architecture_config: String,
    #[schemars(with = "String")]
    pub weights_root: Hash,
    pub tensor_count: u64,
    #[schemars(with = "Option<String>")]
    pub tokenizer: Option<Hash>,
    /// The borsh-encoded manifest, hex: it hashes to the model id.
    pub bytes: String,
}

/// `GET /models/{id}`: the record's summary and its manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelView {
    #[serde(flatten)]
    pub summary: ModelSummary,
    pub manifest: ManifestView,
}

/// `GET /models/{id}/files/{file}/missing`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MissingChunks {
    #[schemars(with = "String")]
    pub model: ModelId,
    pub file: u32,
    /// The file's chunk count.
    pub chunks: u64,
    #[schemars(with = "Record")]
    pub status: ModelStatus,
    /// Chunk indices not stored yet (none once the upload has ended).
    #[schemars(length(max = MISSING_CHUNKS_MAX))]
    pub missing: Vec<u32>,
}

/// What the consensus host measured since the node started.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConsensusView {
    pub heights_decided: u64,
    pub heights_synced: u64,
    pub later_rounds: u64,
    /// The share of the last 1,000 heights committed that were decided in a round above 0.
    pub recent_later_round_share: f64,
    /// That share is above 5%, or half of the last shortest censorable window's heights were
    /// (judged from 100 heights on): the windows' stretch caps may be spent, past which the
    /// audit bound's proposer assumption no longer holds (docs/node.md).
    pub later_round_alarm: bool,
    pub evidence_submitted: u64,
}

/// `GET /status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StatusView {
    pub chain_id: String,
    #[schemars(with = "u64")]
    pub height: Height,
    #[schemars(with = "u64")]
    pub epoch: Epoch,
    #[schemars(with = "String")]
    pub state_root: Hash,
    pub timestamp_ms: u64,
    pub mempool_txs: usize,
    pub validators: usize,
    pub consensus: ConsensusView,
}

/// One slot of an activation: name, type, shape and (when not too large) values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SlotView {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<usize>,
    /// The values, when at most `OUTPUT_VALUES_SHOWN_MAX`.
    pub values: Option<SlotValues>,
}

/// A slot's values in their own type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SlotValues {
    U32(Vec<u32>),
    F32(Vec<f32>),
}

/// An activation (a job's output) decoded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActivationView {
    #[schemars(with = "String")]
    pub hash: Hash,
    pub slots: Vec<SlotView>,
}

impl ActivationView {
    pub fn of(activation: &Activation) -> ActivationView {
        let slots = activation
            .slots
            .iter()
            .map(|(name, tensor)| SlotView {
                name: name.clone(),
                dtype: format!("{:?}", tensor.data.dtype()),
                shape: tensor.shape.clone(),
                values: match &tensor.data {
                    Data::F32(values) if values.len() <= OUTPUT_VALUES_SHOWN_MAX => {
                        Some(SlotValues::F32(values.clone()))
                    }
                    Data::U32(values) if values.len() <= OUTPUT_VALUES_SHOWN_MAX => {
                        Some(SlotValues::U32(values.clone()))
                    }
                    _ => None,
                },
            })
            .collect();
        ActivationView {
            hash: activation.hash(),
            slots,
        }
    }
}

/// The job record proven against the state root that the commit certificate of `height`
/// signs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JobProof {
    #[schemars(with = "u64")]
    pub height: Height,
    #[schemars(with = "String")]
    pub state_root: Hash,
    /// The job record's state key, hex.
    pub key: String,
    #[schemars(with = "Record")]
    pub state_proof: StateProof,
    #[schemars(with = "Option<Record>")]
    pub certificate: Option<CommitCertificate>,
}

/// `GET /jobs/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JobView {
    #[schemars(with = "Record")]
    pub job: Job,
    #[serde(rename = "final")]
    pub is_final: bool,
    /// The standing result's output, decoded.
    pub output: Option<ActivationView>,
    /// The record proven against the latest state root; `None` for a job pruned from state
    /// (`pruned` says so), which has no proof there.
    pub proof: Option<JobProof>,
    /// Set when the job has left the ledger's state and this answer is the node's archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pruned: Option<PrunedJob>,
}

/// A job pruned from state (docs/market.md, "Pruning"), served from the node's archive: the
/// record as the block `closed` left it. No state proof comes with it: the latest state root
/// no longer holds it. What a client can still check is in docs/node.md ("Job archive"): the
/// output against `output_hash`, and the `RevealResults` in block `committed` of the
/// result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PrunedJob {
    /// The height of the block that made the job final or failed.
    #[schemars(with = "u64")]
    pub closed: Height,
    /// The height of the block that pruned it from state, if this node saw it.
    #[schemars(with = "Option<u64>")]
    pub pruned: Option<Height>,
}

/// One job an operator must work on now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WorkItem {
    #[schemars(with = "String")]
    pub job: JobId,
    #[schemars(with = "String")]
    pub role: Role,
}

/// `GET /work/{operator}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WorkView {
    #[schemars(with = "String")]
    pub operator: OperatorId,
    pub work: Vec<WorkItem>,
}

/// `GET /disputes`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DisputeList {
    #[schemars(with = "Vec<Record>")]
    pub disputes: Vec<Dispute>,
}

/// `GET /disputes/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DisputeView {
    #[schemars(with = "Record")]
    pub dispute: Dispute,
}

/// An operator eligible for a model's work, with its weight in the draw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EligibleOperator {
    #[schemars(with = "String")]
    pub operator: OperatorId,
    #[schemars(with = "String")]
    pub weight: Amount,
}

/// `GET /services/{model}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServiceView {
    #[schemars(with = "String")]
    pub model: ModelId,
    #[schemars(with = "Vec<Record>")]
    pub allocations: Vec<Allocation>,
    pub eligible: Vec<EligibleOperator>,
}
