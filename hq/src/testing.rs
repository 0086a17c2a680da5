//! Test and benchmark support: a throwaway PostgreSQL cluster started from the installed
//! server binaries, on a free port, owned by the `postgres` user when running as root, and
//! stopped when dropped (never a shared server); journals of valid chained sales; and a
//! private CA with an HQ certificate for TLS tests.

use std::path::PathBuf;
use std::process::Command;

use till_sync::api::UploadedSale;
use till_sync::{Attribution, GENESIS_HASH, SaleLine, SalePayment, SaleRecord, chain_hash};

/// A throwaway PostgreSQL cluster on a free port, stopped when dropped.
#[derive(Debug)]
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_root: bool,
}

impl PgCluster {
    /// Starts a new cluster. Panics with the reason if it cannot, as tests should.
    pub fn start() -> PgCluster {
        let cluster = PgCluster::empty();
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "-N",
            ],
        );
        cluster.resume();
        cluster
    }

    /// Starts a hot standby of `primary`: a base backup of it, streaming its WAL from then on,
    /// read-only, as a chain's read replica runs.
    pub fn replica_of(primary: &PgCluster) -> PgCluster {
        let cluster = PgCluster::empty();
        let data = cluster.data();
        let port = primary.port.to_string();
        cluster.run(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-D",
                &data,
                "-R",
                "-X",
                "stream",
            ],
        );
        cluster.resume();
        cluster
    }

    /// Waits until this standby has replayed everything `primary` had written when asked.
    /// Panics after 30 s.
    pub fn catch_up_with(&self, primary: &PgCluster) {
        let lsn = |cluster: &PgCluster, query: &str| -> String {
            let mut client = postgres::Client::connect(&cluster.url(), postgres::NoTls).unwrap();
            client.query_one(query, &[]).unwrap().get(0)
        };
        let target = lsn(primary, "SELECT pg_current_wal_lsn()::TEXT");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let caught_up = lsn(
                self,
                &format!("SELECT (pg_last_wal_replay_lsn() >= '{target}'::pg_lsn)::TEXT"),
            );
            if caught_up == "true" {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the replica did not catch up"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Runs `sql` (one statement, no parameters) on the `postgres` database, as its superuser.
    pub fn execute(&self, sql: &str) {
        postgres::Client::connect(&self.url(), postgres::NoTls)
            .unwrap()
            .batch_execute(sql)
            .unwrap();
    }

    /// A cluster directory and a free port, with nothing in them yet.
    fn empty() -> PgCluster {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect(
                "PostgreSQL server binaries in /usr/lib/postgresql (apt-get install postgresql)",
            )
            .filter_map(|e| Some(e.ok()?.path().join("bin")))
            .filter(|b| b.join("initdb").exists())
            .max()
            .expect("an initdb under /usr/lib/postgresql/*/bin");
        let dir = tempfile::tempdir().unwrap();
        let as_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        if as_root {
            // initdb refuses to run as root: the cluster belongs to the postgres user.
            let status = Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        PgCluster {
            dir,
            bin,
            port,
            as_root,
        }
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run(&self, program: &str, args: &[&str]) {
        let mut cmd = if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(self.bin.join(program));
            c
        } else {
            Command::new(self.bin.join(program))
        };
        let out = cmd.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{program}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops the server at once, as a crash or a failover would; [`Self::resume`] restarts it.
    pub fn halt(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }

    /// Starts the server (again) on the same port and data.
    pub fn resume(&self) {
        let d = self.dir.path().display().to_string();
        let options = format!(
            "-p {} -k {d} -c listen_addresses=127.0.0.1 -c fsync=on",
            self.port
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &format!("{d}/pg.log"),
                "-w",
                "-o",
                &options,
                "start",
            ],
        );
    }

    /// A `postgres://` URL for the `postgres` database, trust authentication.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

/// HQ's database for a test or benchmark: a new connection to `cluster` when there is one,
/// else the SQLite file at `sqlite` (created if missing). Panics if it cannot be opened.
pub fn open_store(
    cluster: Option<&PgCluster>,
    sqlite: &std::path::Path,
) -> Box<dyn crate::db::HqStore> {
    match cluster {
        Some(cluster) => Box::new(crate::pg::PgStore::connect(&cluster.url()).unwrap()),
        None => Box::new(crate::db::SqliteStore::open(sqlite).unwrap()),
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let mut cmd = if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"));
            c
        } else {
            Command::new(self.bin.join("pg_ctl"))
        };
        let _ = cmd
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .output();
    }
}

/// A terminal's journal: `n` valid, chained sales of ￥5.00 each, paid half by card; the
/// even-numbered ones are member 10086's.
pub fn journal(store: &str, terminal: &str, n: u64) -> Vec<UploadedSale> {
    journal_of(store, terminal, n, "10086")
}

/// [`journal`], with the even-numbered sales `member`'s.
pub fn journal_of(store: &str, terminal: &str, n: u64, member: &str) -> Vec<UploadedSale> {
    let mut prev = GENESIS_HASH;
    (1..=n)
        .map(|seq| {
            let mut record = SaleRecord {
                v: till_sync::SALE_RECORD_VERSION,
                sale_id: format!(
                    "01a20404-bc68-727e-9316-{:012}",
                    seq + 1_000 * u64::from(terminal.as_bytes()[2])
                        + 1_000_000 * u64::from(store.as_bytes()[3])
                ),
                store: store.into(),
                terminal: terminal.into(),
                seq,
                created_at_ms: 1_795_000_000_000 + seq as i64,
                utc_offset_s: 28_800,
                cashier: "1001".into(),
                currency: "CNY".into(),
                attribution: if seq % 2 == 0 {
                    Attribution::Member {
                        member_id: member.into(),
                    }
                } else {
                    Attribution::Anonymous { claim_token: None }
                },
                lines: vec![SaleLine {
                    line_no: 1,
                    sku: "1".into(),
                    code: "6901028075831".into(),
                    name_zh: "水".into(),
                    name_en: "Water".into(),
                    tax_class: "food".into(),
                    tax_rate_bp: 900,
                    unit_price: 250,
                    qty_milli: 2000,
                    weighed: false,
                    price_overridden: false,
                    gross: 500,
                    discount: 0,
                    tax: 41,
                    total: 500,
                }],
                subtotal: 500,
                discount: 0,
                tax: 41,
                total: 500,
                rounding: 0,
                payments: vec![
                    SalePayment {
                        kind: "card".into(),
                        amount: 250,
                        reference: None,
                    },
                    SalePayment {
                        kind: "cash".into(),
                        amount: 300,
                        reference: None,
                    },
                ],
                change: 50,
                loyalty: None,
            };
            record.loyalty = Some(till_sync::loyalty::stamp(
                &till_sync::loyalty::LoyaltyRule::LEGACY,
                &record,
            ));
            let hash = chain_hash(&prev, &record.canonical_bytes());
            let sale = UploadedSale {
                record,
                prev_hash: hex::encode(prev),
                hash: hex::encode(hash),
            };
            prev = hash;
            sale
        })
        .collect()
}

/// A chain's private CA and an HQ certificate it signed for 127.0.0.1, as PEM files.
pub fn private_pki(dir: &std::path::Path) -> (PathBuf, crate::server::TlsFiles) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SanType,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Till test chain CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    let write = |name: &str, pem: String| {
        let path = dir.join(name);
        std::fs::write(&path, pem).unwrap();
        path
    };
    let ca_path = write("ca.pem", ca.pem());
    let files = crate::server::TlsFiles {
        cert: write("hq.pem", cert.pem()),
        key: write("hq.key", key.serialize_pem()),
    };
    (ca_path, files)
}

/// What [`FaultProxy`] does to a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestFault {
    /// The request never reaches HQ: the connection is cut.
    Cut,
    /// HQ acts on the request and answers; the answer is dropped, so the terminal sees a
    /// failure after HQ acted (the worst case for "nothing lost, nothing doubled").
    DropAnswer,
}

/// An HTTP/1.1 proxy in front of HQ, on loopback, that carries one request per connection
/// (it asks HQ to close after answering) so that faults hit single requests: the next request
/// to a queued path gets that fault ([`Self::fail_next`]), and with [`Self::random`] every
/// request is cut or has its answer dropped with the given chances.
#[derive(Debug, Clone)]
pub struct FaultProxy {
    pub address: std::net::SocketAddr,
    queued: std::sync::Arc<std::sync::Mutex<Vec<(String, RequestFault)>>>,
}

impl FaultProxy {
    /// A proxy that passes everything through until faults are queued.
    pub fn spawn(hq: std::net::SocketAddr) -> FaultProxy {
        FaultProxy::random(hq, 0.0, 0.0, 0)
    }

    /// A proxy that cuts a request with chance `cut` and drops an answer with chance `drop`
    /// (0.0 to 1.0), from a seeded generator, besides any queued faults.
    pub fn random(hq: std::net::SocketAddr, cut: f64, drop: f64, seed: u64) -> FaultProxy {
        use rand::{Rng, SeedableRng};
        use std::sync::{Arc, Mutex};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let address = listener.local_addr().expect("a bound address");
        let queued: Arc<Mutex<Vec<(String, RequestFault)>>> = Arc::default();
        let dice = Arc::new(Mutex::new(rand::rngs::StdRng::seed_from_u64(seed)));
        let proxy = FaultProxy {
            address,
            queued: queued.clone(),
        };
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (queued, dice) = (queued.clone(), dice.clone());
                std::thread::spawn(move || {
                    let fault = |path: &str| {
                        let mut queued = queued.lock().unwrap_or_else(|e| e.into_inner());
                        if let Some(i) = queued.iter().position(|(p, _)| path.starts_with(p)) {
                            return Some(queued.remove(i).1);
                        }
                        let roll: f64 = dice.lock().unwrap_or_else(|e| e.into_inner()).random();
                        if roll < cut {
                            Some(RequestFault::Cut)
                        } else if roll < cut + drop {
                            Some(RequestFault::DropAnswer)
                        } else {
                            None
                        }
                    };
                    let _ = carry(client, hq, fault);
                });
            }
        });
        proxy
    }

    /// The next request whose path starts with `path` suffers `fault`.
    pub fn fail_next(&self, path: &str, fault: RequestFault) {
        self.queued
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((path.to_string(), fault));
    }

    /// Queued faults that no request has met yet.
    pub fn pending_faults(&self) -> usize {
        self.queued.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The proxy's address as a terminal's HQ URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

/// Carries one request from `client` to HQ and its answer back, unless `fault` (asked with the
/// request's path) says otherwise.
fn carry(
    mut client: std::net::TcpStream,
    hq: std::net::SocketAddr,
    fault: impl FnOnce(&str) -> Option<RequestFault>,
) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let path = text.split(' ').nth(1).unwrap_or_default().to_string();
    let length: usize = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    client.read_exact(&mut body)?;
    let fault = fault(&path);
    if fault == Some(RequestFault::Cut) {
        return Ok(());
    }
    let mut forwarded: String = text
        .lines()
        .filter(|l| !l.is_empty() && !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    forwarded.push_str("connection: close\r\n\r\n");
    let mut server = std::net::TcpStream::connect(hq)?;
    server.write_all(forwarded.as_bytes())?;
    server.write_all(&body)?;
    let mut answer = Vec::new();
    server.read_to_end(&mut answer)?;
    if fault.is_none() {
        client.write_all(&answer)?;
    }
    Ok(())
}
