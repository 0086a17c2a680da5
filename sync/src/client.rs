//! The terminal's HTTP client for HQ: registration, batch upload, member keys and the catalog,
//! with gzip
//! bodies, timeouts, and errors that say whether a retry can help.

use std::io::Write;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};

use crate::api::{
    CATALOG_PATH, ENROLL_PATH, EnrollRequest, EnrollResponse, Enrollment, ErrorBody,
    IDEMPOTENCY_KEY, LOYALTY_PATH, MAX_BODY_BYTES, MEMBER_KEYS_PATH, MEMBERS_PATH, MemberDelta,
    MemberKeysResponse, OPS_PATH, OpsUploadRequest, OpsUploadResponse, REGISTER_PATH,
    RegisterRequest, RegisterResponse, UPLOAD_PATH, UPLOAD_VERSION, UploadRequest, UploadResponse,
    UploadedOp, UploadedSale, idempotency_key,
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
    /// HQ is saturated (503 or 429) and said when to come back (`Retry-After`, RFC 9110
    /// §10.2.3, in seconds).
    #[error("HQ is busy: try again in {} s", retry_after.as_secs())]
    Busy { retry_after: Duration },
    #[error("HQ sent an answer this terminal cannot read: {0}")]
    BadResponse(String),
}

impl SyncError {
    /// Whether trying the same request again later can succeed. A refusal will not.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            SyncError::Unreachable(_)
                | SyncError::Timeout
                | SyncError::Server { .. }
                | SyncError::Busy { .. }
        )
    }

    /// How long HQ asked this terminal to wait before trying again, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SyncError::Busy { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

/// The longest `Retry-After` a terminal honours: a larger one (or an HTTP date) waits this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

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
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map_or(MAX_RETRY_AFTER, |s| {
                    Duration::from_secs(s).min(MAX_RETRY_AFTER)
                })
        });
    if let (StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS, Some(retry_after)) =
        (status, retry_after)
    {
        return Err(SyncError::Busy { retry_after });
    }
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

/// Exchanges a one-time registration code for the terminal's identity and token, the code
/// spent at once.
pub fn register(
    hq: &str,
    code: &str,
    timeout: Duration,
    ca_pem: Option<&[u8]>,
) -> Result<RegisterResponse, SyncError> {
    let request = RegisterRequest {
        code: code.trim().to_string(),
        device: None,
        store: None,
        terminal: None,
    };
    register_as(hq, &request, timeout, ca_pem)
}

/// Registers with a full [`RegisterRequest`]: the terminal's device value (so that it may
/// retry the same code if the answer is lost) and the store and terminal it is set up as.
pub fn register_as(
    hq: &str,
    request: &RegisterRequest,
    timeout: Duration,
    ca_pem: Option<&[u8]>,
) -> Result<RegisterResponse, SyncError> {
    let url = format!("{}{REGISTER_PATH}", hq.trim_end_matches('/'));
    let response = http_client(timeout, ca_pem)?
        .post(url)
        .json(request)
        .send()
        .map_err(transport)?;
    read(response)
}

/// An upload's body is at most this large, compressed.
pub const MAX_BATCH_BYTES: usize = 1 << 20;

/// The idempotency key, gzip body and uncompressed size of an upload of `sales`.
fn encode(sales: &[UploadedSale]) -> Result<(String, Vec<u8>, usize), SyncError> {
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
    Ok((key, compressed, body.len()))
}

/// How many of `sales`, from the first, make an upload within [`MAX_BATCH_BYTES`]
/// compressed and HQ's [`MAX_BODY_BYTES`] uncompressed: all of them, or the largest halving
/// that fits (always at least one). The answer depends only on the sales, so a retried batch is
/// the same batch, with the same key.
pub fn fitting_batch(sales: &[UploadedSale]) -> Result<usize, SyncError> {
    let mut take = sales.len();
    while take > 1 {
        let (_, compressed, plain) = encode(&sales[..take])?;
        if compressed.len() <= MAX_BATCH_BYTES && plain <= MAX_BODY_BYTES {
            break;
        }
        take = take.div_ceil(2);
    }
    Ok(take)
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
    /// Pass at most [`fitting_batch`] sales.
    pub fn upload(&self, sales: &[UploadedSale]) -> Result<UploadResponse, SyncError> {
        let (key, compressed, _) = encode(sales)?;
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

    /// Uploads a batch of the terminal's operations (at most [`crate::api::MAX_OPS`]), oldest
    /// first. Each is filed once per (terminal, seq), so a retry after a lost answer gets
    /// "duplicate" for what was filed.
    pub fn upload_ops(&self, ops: &[UploadedOp]) -> Result<OpsUploadResponse, SyncError> {
        let response = self
            .http
            .post(format!("{}{OPS_PATH}", self.hq))
            .bearer_auth(&self.token)
            .json(&OpsUploadRequest {
                v: UPLOAD_VERSION,
                ops: ops.to_vec(),
            })
            .send()
            .map_err(transport)?;
        read(response)
    }

    /// A sale of this terminal's store that HQ holds, with the returns filed against it, for
    /// a return here ([`SALE_PATH`]). Errors: HQ holds no such sale (404), or the sale is
    /// another store's (403), each with HQ's reason.
    pub fn sale_for_return(
        &self,
        store: &str,
        terminal: &str,
        seq: u64,
    ) -> Result<crate::api::SaleForReturn, SyncError> {
        let response = self
            .http
            .get(format!(
                "{}{}",
                self.hq,
                crate::api::sale_path(store, terminal, seq)
            ))
            .bearer_auth(&self.token)
            .send()
            .map_err(transport)?;
        read(response)
    }

    /// The chain's current points rule.
    pub fn loyalty(&self) -> Result<crate::loyalty::LoyaltyRule, SyncError> {
        let response = self
            .http
            .get(format!("{}{LOYALTY_PATH}", self.hq))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sale::{GENESIS_HASH, chain_hash, tests::sample};

    /// `n` sales whose item names are random text, so they barely compress.
    fn noisy_sales(n: usize) -> Vec<UploadedSale> {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        (0..n)
            .map(|i| {
                let mut record = sample();
                record.seq = i as u64 + 1;
                for line in &mut record.lines {
                    line.name_en = (0..2000)
                        .map(|_| {
                            state ^= state << 13;
                            state ^= state >> 7;
                            state ^= state << 17;
                            char::from(b'a' + (state % 26) as u8)
                        })
                        .collect();
                }
                let hash = chain_hash(&GENESIS_HASH, &record.canonical_bytes());
                UploadedSale {
                    record,
                    prev_hash: hex::encode(GENESIS_HASH),
                    hash: hex::encode(hash),
                }
            })
            .collect()
    }

    #[test]
    fn batches_stay_under_a_mebibyte_compressed() {
        let sales = noisy_sales(1500);
        let take = fitting_batch(&sales).unwrap();
        assert!(take < sales.len(), "1,500 noisy sales are more than 1 MiB");
        let (_, compressed, _) = encode(&sales[..take]).unwrap();
        assert!(compressed.len() <= MAX_BATCH_BYTES, "{}", compressed.len());
        let (_, bigger, _) = encode(&sales[..take * 2]).unwrap();
        assert!(
            bigger.len() > MAX_BATCH_BYTES,
            "the cut is no smaller than it must be"
        );
        assert_eq!(fitting_batch(&sales[..10]).unwrap(), 10);
        assert_eq!(fitting_batch(&sales[..1]).unwrap(), 1);
        assert_eq!(
            fitting_batch(&sales).unwrap(),
            take,
            "the same batch every time"
        );
    }
}
