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
        bytes.extend_from_slice(&crate::encoding::encode(self));
        bytes
    }

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
    pub fn verify(&self) -> bool {
        self.operator.account().verification_key().is_ok_and(|key| {
            key.verify(&self.signature, &self.statement.sign_bytes())
                .is_ok()
        })
    }
}
