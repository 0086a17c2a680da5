//! Text messages to customers' phones: the one-time codes that prove a phone on the join and
//! claim pages (PRODUCT.md, "Joining"). An [`SmsGateway`] sends them: [`TwilioSmsGateway`]
//! through Twilio's Programmable Messaging HTTP API, or [`FakeSmsGateway`], for tests and the
//! demo, which sends nothing and keeps what it would have sent (in memory, and in a file the
//! demo points its user to).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use till_sync::member::Phone;

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// The provider could not be reached, or answered with an error.
    #[error("the SMS provider refused or failed: {0}")]
    Provider(String),
    /// The fake gateway's outbox file could not be written.
    #[error("cannot write the SMS outbox {path}: {source}")]
    Outbox {
        path: String,
        source: std::io::Error,
    },
}

/// Sends a text message. Blocking: HQ calls it off its async threads.
pub trait SmsGateway: Send + Sync + std::fmt::Debug {
    /// Sends `text` to `phone` (E.164).
    ///
    /// # Errors
    /// [`SmsError`] when the message could not be handed to the provider.
    fn send(&self, phone: &Phone, text: &str) -> Result<(), SmsError>;
}

/// A gateway that sends nothing: it keeps every message, in memory for tests and, if given a
/// path, appended to that file (one line each: time, number, text) for the demo. Named so that
/// nobody mistakes it for a real provider.
#[derive(Debug, Default)]
pub struct FakeSmsGateway {
    outbox: Option<PathBuf>,
    sent: Mutex<Vec<(String, String)>>,
}

impl FakeSmsGateway {
    /// A fake gateway that also appends each message to `outbox`.
    pub fn with_outbox(outbox: PathBuf) -> FakeSmsGateway {
        FakeSmsGateway {
            outbox: Some(outbox),
            sent: Mutex::default(),
        }
    }

    /// The last message sent to `phone`, if any.
    pub fn last_to(&self, phone: &Phone) -> Option<String> {
        let sent = self.sent.lock().ok()?;
        sent.iter()
            .rev()
            .find(|(to, _)| to == phone.e164())
            .map(|(_, text)| text.clone())
    }

    /// The 6-digit code in the last message to `phone`, if any.
    pub fn last_code_to(&self, phone: &Phone) -> Option<String> {
        let text = self.last_to(phone)?;
        text.split(|c: char| !c.is_ascii_digit())
            .find(|run| run.len() == 6)
            .map(str::to_string)
    }

    /// How many messages were sent, to anyone.
    pub fn count(&self) -> usize {
        self.sent.lock().map(|s| s.len()).unwrap_or(0)
    }
}

impl SmsGateway for FakeSmsGateway {
    fn send(&self, phone: &Phone, text: &str) -> Result<(), SmsError> {
        if let Some(path) = &self.outbox {
            let line = format!(
                "{}\t{}\t{text}\n",
                jiff::Timestamp::now()
                    .round(jiff::Unit::Second)
                    .unwrap_or_default(),
                phone.e164()
            );
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(line.as_bytes()))
                .map_err(|source| SmsError::Outbox {
                    path: path.display().to_string(),
                    source,
                })?;
        }
        if let Ok(mut sent) = self.sent.lock() {
            sent.push((phone.e164().to_string(), text.to_string()));
        }
        Ok(())
    }
}

/// Twilio's Programmable Messaging API: `POST {base}/2010-04-01/Accounts/{sid}/Messages.json`
/// with HTTP basic auth (account SID, auth token) and the form fields `To`, `From` and `Body`
/// (<https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource>).
pub struct TwilioSmsGateway {
    base_url: String,
    account_sid: String,
    auth_token: String,
    from: String,
    http: reqwest::blocking::Client,
}

impl std::fmt::Debug for TwilioSmsGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the auth token.
        f.debug_struct("TwilioSmsGateway")
            .field("base_url", &self.base_url)
            .field("account_sid", &self.account_sid)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl TwilioSmsGateway {
    /// A gateway for account `account_sid`, sending from `from` (a Twilio number or sender
    /// ID). `base_url` is `https://api.twilio.com` in production.
    pub fn new(base_url: &str, account_sid: &str, auth_token: &str, from: &str) -> Self {
        TwilioSmsGateway {
            base_url: base_url.trim_end_matches('/').to_string(),
            account_sid: account_sid.to_string(),
            auth_token: auth_token.to_string(),
            from: from.to_string(),
            http: reqwest::blocking::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        }
    }
}

impl SmsGateway for TwilioSmsGateway {
    fn send(&self, phone: &Phone, text: &str) -> Result<(), SmsError> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.base_url, self.account_sid
        );
        let response = self
            .http
            .post(url)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .form(&[("To", phone.e164()), ("From", &self.from), ("Body", text)])
            .send()
            .map_err(|e| SmsError::Provider(e.to_string()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            let body = response.text().unwrap_or_default();
            Err(SmsError::Provider(format!(
                "{status}: {}",
                body.chars().take(200).collect::<String>()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fake_gateway_keeps_what_it_would_send_and_writes_its_outbox() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("sms.txt");
        let sms = FakeSmsGateway::with_outbox(outbox.clone());
        let phone = Phone::parse("13812345678").unwrap();
        assert_eq!(sms.last_code_to(&phone), None);
        sms.send(&phone, "验证码 123456，5 分钟内有效").unwrap();
        sms.send(&phone, "验证码 654321，5 分钟内有效").unwrap();
        assert_eq!(sms.last_code_to(&phone).as_deref(), Some("654321"));
        assert_eq!(sms.count(), 2);
        let written = std::fs::read_to_string(&outbox).unwrap();
        assert_eq!(written.lines().count(), 2);
        assert!(
            written.contains("+8613812345678\t验证码 654321"),
            "{written}"
        );
    }

    /// Twilio's side played by a real HTTP peer on loopback: it reads one request, answers
    /// `status`, and hands back what it read.
    fn twilio_peer(status: &str) -> (String, std::thread::JoinHandle<String>) {
        use std::io::{BufRead, BufReader, Read};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let status = status.to_string();
        let peer = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                head.push_str(&line);
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let answer =
                format!("HTTP/1.1 {status}\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}");
            (&stream).write_all(answer.as_bytes()).unwrap();
            head + &String::from_utf8(body).unwrap()
        });
        (url, peer)
    }

    #[test]
    fn twilio_gets_the_message_as_its_api_documents_it() {
        let (url, peer) = twilio_peer("201 Created");
        let sms = TwilioSmsGateway::new(&url, "AC123", "secret", "+15005550006");
        let phone = Phone::parse("13812345678").unwrap();
        sms.send(&phone, "code 123456").unwrap();
        let request = peer.join().unwrap();
        assert!(
            request.starts_with("POST /2010-04-01/Accounts/AC123/Messages.json "),
            "{request}"
        );
        // Basic auth of "AC123:secret".
        assert!(
            request.contains("authorization: Basic QUMxMjM6c2VjcmV0"),
            "{request}"
        );
        assert!(
            request.contains("application/x-www-form-urlencoded"),
            "{request}"
        );
        assert!(
            request.ends_with("To=%2B8613812345678&From=%2B15005550006&Body=code+123456"),
            "{request}"
        );
        // A refusal is an error the page can report.
        let (url, peer) = twilio_peer("400 Bad Request");
        let sms = TwilioSmsGateway::new(&url, "AC123", "secret", "+15005550006");
        let error = sms.send(&phone, "code 123456").unwrap_err();
        assert!(error.to_string().contains("400"), "{error}");
        peer.join().unwrap();
    }
}
