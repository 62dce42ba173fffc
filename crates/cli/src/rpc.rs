//! A node's RPC, from the client side. Errors carry the node's own message.

use serde_json::Value;
use std::time::Duration;

const TIMEOUT_MS: u64 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("node at {url} is unreachable: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("node answered {status}: {message}")]
    Refused { status: u16, message: String },
    #[error("node sent a malformed answer: {0}")]
    Malformed(String),
}

pub struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(base: &str) -> Client {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_millis(TIMEOUT_MS))
            .build();
        Client {
            base: base.trim_end_matches('/').to_string(),
            agent,
        }
    }

    fn answer(
        &self,
        url: &str,
        result: Result<ureq::Response, ureq::Error>,
    ) -> Result<Value, RpcError> {
        match result {
            Ok(response) => response
                .into_json()
                .map_err(|e| RpcError::Malformed(e.to_string())),
            Err(ureq::Error::Status(status, response)) => {
                let body: Value = response.into_json().unwrap_or(Value::Null);
                let message = body["error"].as_str().unwrap_or("(no message)").to_string();
                Err(RpcError::Refused { status, message })
            }
            Err(error) => Err(RpcError::Unreachable {
                url: url.to_string(),
                reason: error.to_string(),
            }),
        }
    }

    pub fn get(&self, path: &str) -> Result<Value, RpcError> {
        let url = format!("{}{path}", self.base);
        self.answer(&url, self.agent.get(&url).call())
    }

    /// A raw body of at most `limit` bytes.
    pub fn get_bytes(&self, path: &str, limit: u64) -> Result<Vec<u8>, RpcError> {
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
            Err(error) => self.answer(&url, Err(error)).map(|_| Vec::new()),
        }
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<Value, RpcError> {
        let url = format!("{}{path}", self.base);
        self.answer(&url, self.agent.post(&url).send_json(body))
    }
}
