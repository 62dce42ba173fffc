//! A result statement: what an operator (or auditor) says it computed for a job, signed with
//! its account key (DESIGN §5 step 3). It is shared vocabulary: the jobs module records
//! statements, the slashing evidence carries two of them, the node's worker signs them.

use crate::crypto::{Signature, SigningKey};
use crate::{AccountId, Hash, JobId, OperatorId};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// What an operator (or auditor) states about a job: the hash of its output activation and
/// the root of its trace. Signed with the operator's account key, so that two different
/// statements for one job prove equivocation wherever they were seen.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ResultStatement {
    /// The chain the statement is made on, so a statement signed for a test network is no
    /// evidence on another.
    pub chain_id: String,
    /// The job the result is for.
    pub job: JobId,
    /// Hash of the output activation, which is also the trace's last leaf.
    pub output_hash: Hash,
    /// Merkle root over the activation hash after each step: what a dispute bisects.
    pub trace_root: Hash,
    /// Number of steps (leaves) in the trace; the ledger requires the model program's length.
    pub steps: u64,
}

/// A [`ResultStatement`] with its signer and signature. The operator is named rather than
/// recovered from the signature so that the ledger can look it up before verifying.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SignedResult {
    /// What was stated.
    pub statement: ResultStatement,
    /// Who stated it; its account key made `signature`.
    pub operator: OperatorId,
    /// Signature over [`ResultStatement::sign_bytes`] by the operator's account key.
    pub signature: Signature,
}

const RESULT_DOMAIN: &[u8] = b"surety.job-result.v1";

impl ResultStatement {
    /// The exact bytes a result signature covers: a domain tag (so no other signed thing can
    /// pass for a result) followed by the statement's canonical encoding.
    pub fn sign_bytes(&self) -> Vec<u8> {
        let mut bytes = RESULT_DOMAIN.to_vec();
        bytes.extend_from_slice(&crate::encoding::encode(self));
        bytes
    }

    /// Sign as the operator whose account key is `key`.
    pub fn sign(self, key: &SigningKey) -> SignedResult {
        let signature = key.sign(&self.sign_bytes());
        SignedResult {
            operator: OperatorId::from(AccountId::from_key(&key.verification_key())),
            statement: self,
            signature,
        }
    }
}

impl SignedResult {
    /// True when `signature` is by the named operator's account key over this statement; false
    /// also when the operator id is not a valid key.
    pub fn verify(&self) -> bool {
        self.operator.account().verification_key().is_ok_and(|key| {
            key.verify(&self.signature, &self.statement.sign_bytes())
                .is_ok()
        })
    }
}
