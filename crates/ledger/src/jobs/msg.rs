//! Job transactions: a client submits a job, assigned operators (and auditors) commit signed
//! results, and anyone may submit two different signed results as evidence.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::crypto::{Signature, SigningKey};
use surety_types::merkle::MerkleProof;
use surety_types::{Amount, Hash, JobId, ModelId, OperatorId};

/// A job's input.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum JobInput {
    /// Text, tokenised by the ledger with the model's registered tokenizer (text models).
    Text(String),
    /// A `surety_infer::Activation`, borsh-encoded, checked against the model's input shape.
    Activation(Vec<u8>),
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SubmitJob {
    pub model: ModelId,
    pub input: JobInput,
    /// Escrowed from the client; paid out when the job is final, refunded if it fails.
    pub max_fee: Amount,
    /// Blocks each assigned operator has to commit its result.
    pub deadline_blocks: u64,
    pub replicas: u32,
}

/// What an operator (or auditor) states about a job: the hash of its output activation and
/// the root of its trace. Signed with the operator's account key, so that two different
/// statements for one job prove equivocation wherever they were seen.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ResultStatement {
    pub chain_id: String,
    pub job: JobId,
    pub output_hash: Hash,
    pub trace_root: Hash,
    pub steps: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SignedResult {
    pub statement: ResultStatement,
    pub operator: OperatorId,
    pub signature: Signature,
}

const RESULT_DOMAIN: &[u8] = b"surety.job-result.v1";

impl ResultStatement {
    pub fn sign_bytes(&self) -> Vec<u8> {
        let mut bytes = RESULT_DOMAIN.to_vec();
        bytes.extend_from_slice(&surety_types::encoding::encode(self));
        bytes
    }

    pub fn sign(self, key: &SigningKey) -> SignedResult {
        let signature = key.sign(&self.sign_bytes());
        SignedResult {
            operator: OperatorId::from(surety_types::AccountId::from_key(&key.verification_key())),
            statement: self,
            signature,
        }
    }
}

impl SignedResult {
    pub fn verify(&self) -> bool {
        self.operator.account().verification_key().is_ok_and(|key| {
            key.verify(&self.signature, &self.statement.sign_bytes())
                .is_ok()
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CommitResult {
    pub result: SignedResult,
    /// The output activation, borsh-encoded; its hash is `result.statement.output_hash`.
    pub output: Vec<u8>,
    /// Proof that `output_hash` is the last leaf of `trace_root`.
    pub output_proof: MerkleProof,
}
