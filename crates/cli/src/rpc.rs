//! A node's RPC, from the client side: one typed method per route, answering the node's own
//! contract types (`surety_node::api`). Errors carry the node's own message.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;
use surety_node::api::{
    AccountView, BlockView, DelegationsView, DisputeView, ErrorBody, JobView, MissingChunks,
    ModelList, ModelView, OperatorList, OperatorView, StatusView, SubmitTx, Submitted, TxStatus,
    ValidatorList,
};
use surety_types::{AccountId, Hash, JobId, ModelId, OperatorId};

const TIMEOUT_MS: u64 = 10_000;

#[derive(Debug, thiserror::Error)]
pub(crate) enum RpcError {
    #[error("node at {url} is unreachable: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("node answered {status}: {message}")]
    Refused { status: u16, message: String },
    #[error("node sent a malformed answer: {0}")]
    Malformed(String),
}

pub(crate) struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    pub(crate) fn new(base: &str) -> Client {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_millis(TIMEOUT_MS))
            .build();
        Client {
            base: base.trim_end_matches('/').to_string(),
            agent,
        }
    }

    pub(crate) fn status(&self) -> Result<StatusView, RpcError> {
        self.get("/status")
    }

    pub(crate) fn account(&self, id: &AccountId) -> Result<AccountView, RpcError> {
        self.get(&format!("/account/{id}"))
    }

    pub(crate) fn operator(&self, id: &OperatorId) -> Result<OperatorView, RpcError> {
        self.get(&format!("/operator/{id}"))
    }

    pub(crate) fn operators(&self) -> Result<OperatorList, RpcError> {
        self.get("/operators")
    }

    pub(crate) fn validators(&self) -> Result<ValidatorList, RpcError> {
        self.get("/validators")
    }

    pub(crate) fn delegations(&self, account: &AccountId) -> Result<DelegationsView, RpcError> {
        self.get(&format!("/delegations/{account}"))
    }

    /// A transaction by its hash as the user typed it (the node judges the text).
    pub(crate) fn tx(&self, hash: &str) -> Result<TxStatus, RpcError> {
        self.get(&format!("/tx/{hash}"))
    }

    /// Submit a signed transaction's bytes.
    pub(crate) fn submit(&self, tx: &[u8]) -> Result<Hash, RpcError> {
        let body = SubmitTx {
            tx: hex::encode(tx),
        };
        self.post::<_, Submitted>("/tx", &body)
            .map(|submitted| submitted.hash)
    }

    /// A block, the latest without a height.
    pub(crate) fn block(&self, height: Option<u64>) -> Result<BlockView, RpcError> {
        match height {
            Some(height) => self.get(&format!("/block/{height}")),
            None => self.get("/block/latest"),
        }
    }

    pub(crate) fn models(&self) -> Result<ModelList, RpcError> {
        self.get("/models")
    }

    pub(crate) fn model(&self, id: &ModelId) -> Result<ModelView, RpcError> {
        self.get(&format!("/models/{id}"))
    }

    pub(crate) fn missing_chunks(
        &self,
        id: &ModelId,
        file: u32,
        limit: usize,
    ) -> Result<MissingChunks, RpcError> {
        self.get(&format!("/models/{id}/files/{file}/missing?limit={limit}"))
    }

    pub(crate) fn job(&self, id: &JobId) -> Result<JobView, RpcError> {
        self.get(&format!("/jobs/{}", id.to_hex()))
    }

    pub(crate) fn dispute(&self, number: u64) -> Result<DisputeView, RpcError> {
        self.get(&format!("/disputes/{number}"))
    }

    fn answer<T: DeserializeOwned>(
        &self,
        url: &str,
        result: Result<ureq::Response, ureq::Error>,
    ) -> Result<T, RpcError> {
        match result {
            Ok(response) => response
                .into_json()
                .map_err(|e| RpcError::Malformed(e.to_string())),
            Err(ureq::Error::Status(status, response)) => {
                let message = response
                    .into_json::<ErrorBody>()
                    .map(|body| body.error)
                    .unwrap_or_else(|_| "(no message)".to_string());
                Err(RpcError::Refused { status, message })
            }
            Err(error) => Err(RpcError::Unreachable {
                url: url.to_string(),
                reason: error.to_string(),
            }),
        }
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, RpcError> {
        let url = format!("{}{path}", self.base);
        self.answer(&url, self.agent.get(&url).call())
    }

    fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, RpcError> {
        let url = format!("{}{path}", self.base);
        self.answer(&url, self.agent.post(&url).send_json(body))
    }

    /// A raw body of at most `limit` bytes.
    pub(crate) fn get_bytes(&self, path: &str, limit: u64) -> Result<Vec<u8>, RpcError> {
        let url = format!("{}{path}", self.base);
        match self.agent.get(&url).call() {
            Ok(response) => {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(
                    &mut std::io::Read::take(response.into_reader(), limit.saturating_add(1)),
                    &mut bytes,
                )
                .map_err(|e| RpcError::Malformed(e.to_string()))?;
                if bytes.len() as u64 > limit {
                    return Err(RpcError::Malformed(format!("body is over {limit} bytes")));
                }
                Ok(bytes)
            }
            Err(error) => self
                .answer::<serde_json::Value>(&url, Err(error))
                .map(|_| Vec::new()),
        }
    }
}
