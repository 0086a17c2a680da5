//! The terminal's HTTP client for HQ: registration, batch upload, member keys and the catalog,
//! with gzip
//! bodies, timeouts, and errors that say whether a retry can help.

use std::io::Write;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};

use crate::api::{
    CATALOG_PATH, ENROLL_PATH, EnrollRequest, EnrollResponse, Enrollment, ErrorBody,
    IDEMPOTENCY_KEY, MEMBER_KEYS_PATH, MEMBERS_PATH, MemberDelta, MemberKeysResponse,
    REGISTER_PATH, RegisterRequest, RegisterResponse, UPLOAD_PATH, UPLOAD_VERSION, UploadRequest,
    UploadResponse, UploadedSale, idempotency_key,
};
use crate::catalog::CatalogDelta;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    #[error("HQ unreachable: {0}")]
    Unreachable(String),
    #[error("HQ did not answer in time")]
    Timeout,
    #[error("HQ refused the terminal's credentials: {0}")]
    Unauthorized(String),
    #[error("HQ forbids this: {0}")]
    Forbidden(String),
    #[error("HQ refused the request ({status}): {reason}")]
    Refused { status: u16, reason: String },
    #[error("HQ failed ({status}): {reason}")]
    Server { status: u16, reason: String },
    #[error("HQ sent an answer this terminal cannot read: {0}")]
    BadResponse(String),
}

impl SyncError {
    /// Whether trying the same request again later can succeed. A refusal will not.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            SyncError::Unreachable(_) | SyncError::Timeout | SyncError::Server { .. }
        )
    }
}

fn transport(e: reqwest::Error) -> SyncError {
    if e.is_timeout() {
        SyncError::Timeout
    } else {
        SyncError::Unreachable(e.to_string())
    }
}

/// A chain running its own certificate authority hands terminals its root certificate; with
/// one, only it is trusted for HQ.
fn http_client(timeout: Duration, ca_pem: Option<&[u8]>) -> Result<Client, SyncError> {
    let mut builder = Client::builder()
        .connect_timeout(Duration::from_secs(5).min(timeout))
        .timeout(timeout);
    if let Some(pem) = ca_pem {
        let ca = reqwest::Certificate::from_pem(pem)
            .map_err(|e| SyncError::Unreachable(format!("bad HQ CA certificate: {e}")))?;
        builder = builder.tls_certs_only([ca]);
    }
    builder
        .build()
        .map_err(|e| SyncError::Unreachable(e.to_string()))
}

fn read<T: serde::de::DeserializeOwned>(response: Response) -> Result<T, SyncError> {
    let status = response.status();
    let body = response.bytes().map_err(transport)?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|e| SyncError::BadResponse(e.to_string()));
    }
    let reason = serde_json::from_slice::<ErrorBody>(&body)
        .map(|e| e.error)
        .unwrap_or_else(|_| String::from_utf8_lossy(&body).chars().take(200).collect());
    Err(match status {
        StatusCode::UNAUTHORIZED => SyncError::Unauthorized(reason),
        StatusCode::FORBIDDEN => SyncError::Forbidden(reason),
        s if s.is_server_error() => SyncError::Server {
            status: s.as_u16(),
            reason,
        },
        s => SyncError::Refused {
            status: s.as_u16(),
            reason,
        },
    })
}

/// Exchanges a one-time registration code for the terminal's identity and token.
pub fn register(
    hq: &str,
    code: &str,
    timeout: Duration,
    ca_pem: Option<&[u8]>,
) -> Result<RegisterResponse, SyncError> {
    let url = format!("{}{REGISTER_PATH}", hq.trim_end_matches('/'));
    let response = http_client(timeout, ca_pem)?
        .post(url)
        .json(&RegisterRequest {
            code: code.trim().to_string(),
        })
        .send()
        .map_err(transport)?;
    read(response)
}

#[derive(Debug, Clone)]
pub struct SyncClient {
    http: Client,
    hq: String,
    token: String,
}

impl SyncClient {
    pub fn new(
        hq: &str,
        token: &str,
        timeout: Duration,
        ca_pem: Option<&[u8]>,
    ) -> Result<SyncClient, SyncError> {
        Ok(SyncClient {
            http: http_client(timeout, ca_pem)?,
            hq: hq.trim_end_matches('/').to_string(),
            token: token.to_string(),
        })
    }

    /// Uploads one batch. The idempotency key is derived from the body, so retrying the same
    /// batch after a lost answer gets HQ's first answer back instead of a second ingest.
    pub fn upload(&self, sales: &[UploadedSale]) -> Result<UploadResponse, SyncError> {
        let body = serde_json::to_vec(&UploadRequest {
            v: UPLOAD_VERSION,
            sales: sales.to_vec(),
        })
        .map_err(|e| SyncError::BadResponse(e.to_string()))?;
        let key = idempotency_key(&body);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&body)
            .and_then(|()| gz.flush())
            .map_err(|e| SyncError::Unreachable(e.to_string()))?;
        let compressed = gz
            .finish()
            .map_err(|e| SyncError::Unreachable(e.to_string()))?;
        let response = self
            .http
            .post(format!("{}{UPLOAD_PATH}", self.hq))
            .bearer_auth(&self.token)
            .header(IDEMPOTENCY_KEY, key)
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(compressed)
            .send()
            .map_err(transport)?;
        read(response)
    }

    /// One page of the published catalog's changes after version `since`. The first page
    /// (no `upto`) fixes the version the pull reaches; later pages pass it back with the last
    /// SKU seen.
    pub fn catalog(
        &self,
        since: u64,
        upto: Option<u64>,
        after: &str,
    ) -> Result<CatalogDelta, SyncError> {
        let mut query = vec![("since", since.to_string()), ("after", after.to_string())];
        if let Some(upto) = upto {
            query.push(("upto", upto.to_string()));
        }
        let response = self
            .http
            .get(format!("{}{CATALOG_PATH}", self.hq))
            .query(&query)
            .bearer_auth(&self.token)
            .send()
            .map_err(transport)?;
        read(response)
    }

    /// Sends members enrolled at this till; HQ answers with each one's final ID.
    pub fn enroll(&self, enrollments: &[Enrollment]) -> Result<EnrollResponse, SyncError> {
        let response = self
            .http
            .post(format!("{}{ENROLL_PATH}", self.hq))
            .bearer_auth(&self.token)
            .json(&EnrollRequest {
                v: UPLOAD_VERSION,
                enrollments: enrollments.to_vec(),
            })
            .send()
            .map_err(transport)?;
        read(response)
    }

    /// One page of member changes after version `since`.
    pub fn members(&self, since: u64) -> Result<MemberDelta, SyncError> {
        let response = self
            .http
            .get(format!("{}{MEMBERS_PATH}", self.hq))
            .query(&[("since", since)])
            .bearer_auth(&self.token)
            .send()
            .map_err(transport)?;
        read(response)
    }

    /// The chain's member keys, current first.
    pub fn member_keys(&self) -> Result<MemberKeysResponse, SyncError> {
        let response = self
            .http
            .get(format!("{}{MEMBER_KEYS_PATH}", self.hq))
            .bearer_auth(&self.token)
            .send()
            .map_err(transport)?;
        read(response)
    }
}
