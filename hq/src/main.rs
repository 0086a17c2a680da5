//! `till-hq`: the HQ / SCRM backend server and its admin commands.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use till_hq::catalog::CatalogFileError;
use till_hq::db::{Analytics, HqStore, SqliteStore};
use till_hq::pg::PgStore;
use till_hq::verify_chain;

#[derive(Parser, Debug)]
#[command(
    name = "till-hq",
    version,
    about = "Till HQ: ingests every store's sales exactly once"
)]
struct Cli {
    /// The database: `sqlite:PATH` (embedded, no set-up) or `postgres://USER@HOST:PORT/DB`.
    #[arg(long, global = true, default_value = "sqlite:till-hq.db")]
    db: String,
    /// A read replica of `--db` (`postgres://…`, streaming from the primary) for the heavy
    /// reads: the `sales` and `terminals` reports, and the console's. Without it they read
    /// `--db`.
    #[arg(long, global = true, value_name = "URL")]
    analytics_db: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the terminal API.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Serve HTTPS with this certificate chain (PEM); without it, plain HTTP for a
        /// TLS-terminating reverse proxy.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Where the join and claim pages' one-time codes go: `twilio` (Twilio's API, from
        /// the environment: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM, and
        /// TWILIO_BASE_URL if not https://api.twilio.com), or `fake:FILE`, which sends
        /// nothing and appends each message to FILE (for demos and tests).
        #[arg(
            long,
            default_value = "fake:sms-outbox.txt",
            value_name = "twilio|fake:FILE"
        )]
        sms: String,
    },
    /// Manage stores.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Manage terminals.
    #[command(subcommand)]
    Terminal(TerminalCommand),
    /// Sales and money per store and tender.
    Sales,
    /// Every terminal: last sequence, gaps, chain breaks, last sync.
    Terminals,
    /// Z reports, newest close first, with each shift's cash difference and every store's
    /// total difference.
    ZReports {
        /// Only this store's.
        #[arg(long)]
        store: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Check a journal given as canonical sale records, one JSON object per line, in sequence.
    VerifyJournal { file: PathBuf },
    /// Members: HQ's member-code keys, codes for demos and tests, points.
    #[command(subcommand)]
    Member(MemberCommand),
    /// The catalog published to every store.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// The chain's points rule, which terminals pull with the catalog.
    #[command(subcommand)]
    Loyalty(LoyaltyCommand),
    /// HQ's address as customers' phones reach it: terminals registering afterwards print it
    /// in claim QR codes and show it in the customer display's join code.
    #[command(subcommand)]
    PublicUrl(PublicUrlCommand),
}

#[derive(Subcommand, Debug)]
enum LoyaltyCommand {
    /// Publish a new rule version: N points for every whole yuan a customer pays (1 to 100).
    /// Terminals stamp their sales with it from their next sync; sales stamped with an
    /// earlier version keep the points it gave.
    Set {
        #[arg(long, allow_negative_numbers = true, value_parser = whole_points)]
        points_per_yuan: i64,
    },
    /// The current rule and every published version.
    Show,
}

/// A rate as typed: a whole number (the range is checked with the rule itself).
fn whole_points(text: &str) -> Result<i64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a whole number: points per yuan are 1 to 100"))
}

#[derive(Subcommand, Debug)]
enum PublicUrlCommand {
    Set { url: String },
    Show,
}

#[derive(Subcommand, Debug)]
enum CatalogCommand {
    /// Publish a whole catalog file (the terminal's CSV format, prices in yuan) as the next
    /// version. Terminals take the changes at their next sync; products the file leaves out
    /// are withdrawn. One bad row publishes nothing.
    Import { file: PathBuf },
}

#[derive(Subcommand, Debug)]
enum MemberCommand {
    #[command(subcommand)]
    Key(KeyCommand),
    /// Print a member's `TM2` QR code, valid now (or at `--at`, Unix seconds), signed with
    /// HQ's current member-code key: what the member pass page and the member app show.
    Code {
        member_id: String,
        #[arg(long)]
        at: Option<u64>,
    },
    /// A member's points: balance and the ledger, one entry per sale.
    Points { member_id: String },
    /// Check every stored phone hash for version 1 now, moving each such member to the
    /// version-2 hash, or merging them into the member who has it already (a phone that a
    /// version-1 key rotation split). `till-hq serve` does this in the background too.
    UpgradePhones,
}

#[derive(Subcommand, Debug)]
enum KeyCommand {
    /// Make a new random member-code key (Ed25519). Terminals get it at their next sync; it
    /// signs member codes only after the rollout, so a terminal that missed a night's sync
    /// still knows the key that signs. The previous key stays valid. Phone hashes do not
    /// depend on it, so a rotation never splits a member.
    Rotate {
        /// Hours until the new key signs: 0 if a key leaked and must stop signing now
        /// (terminals refuse codes until they sync).
        #[arg(long, default_value_t = 72, value_parser = clap::value_parser!(u16).range(0..=720))]
        rollout_hours: u16,
    },
    /// Show the current and previous member-code keys (public halves) and the version-1
    /// key's fingerprint.
    Show,
    /// Write HQ's public member-code keys and the chain's phone pepper to a file (mode 0600),
    /// for `till member key import` on a terminal that cannot sync yet.
    Export { file: PathBuf },
}

/// Waits for SIGTERM (a service manager stopping HQ) or SIGINT (Ctrl-C).
fn wait_for_stop_signal() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot wait for signals")?;
    runtime.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("cannot wait for SIGTERM")?;
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        Ok(())
    })
}

/// Unix ms as local time, to the minute.
fn local_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%Y-%m-%d %H:%M %Z")
                .to_string()
        })
        .unwrap_or_else(|_| ms.to_string())
}

/// A key's public fingerprint: the first 4 bytes of its SHA-256, as terminals print it.
fn fingerprint(key_hex: &str) -> String {
    use sha2::Digest;
    let bytes = hex::decode(key_hex).unwrap_or_default();
    hex::encode(&sha2::Sha256::digest(bytes)[..4])
}

#[derive(Subcommand, Debug)]
enum StoreCommand {
    Add {
        id: String,
        #[arg(long, default_value = "")]
        name: String,
    },
}

#[derive(Subcommand, Debug)]
enum TerminalCommand {
    /// Add a terminal and print its one-time registration code.
    Add { store: String, terminal: String },
    /// Give a terminal a new one-time registration code, revoking its token: for a till that
    /// was replaced, or never received its registration answer and then used its token.
    Reissue { store: String, terminal: String },
}

fn main() -> ExitCode {
    // `till-hq terminals | head -1` ends quietly, not with a panic.
    till_sync::pipe::run_quietly_on_broken_pipe(|| match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("till-hq: {e:#}");
            ExitCode::FAILURE
        }
    })
}

fn open(db: &str) -> Result<Box<dyn HqStore>> {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        return Ok(Box::new(
            PgStore::connect(db).context("cannot connect to PostgreSQL")?,
        ));
    }
    let Some(path) = db.strip_prefix("sqlite:") else {
        bail!("unsupported database {db:?}: use sqlite:PATH or postgres://…");
    };
    Ok(Box::new(
        SqliteStore::open(std::path::Path::new(path))
            .with_context(|| format!("cannot open {path}"))?,
    ))
}

/// Where the heavy reads go: the replica `--analytics-db` names, else `--db`.
fn open_analytics(cli: &Cli) -> Result<Box<dyn Analytics>> {
    let Some(url) = &cli.analytics_db else {
        return Ok(open(&cli.db)?);
    };
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        bail!("--analytics-db is a PostgreSQL read replica's postgres:// URL, not {url:?}");
    }
    Ok(Box::new(
        PgStore::connect_replica(url).context("cannot use the analytics database")?,
    ))
}

fn money(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", minor.abs() / 100, minor.abs() % 100)
}

/// The SMS gateway `--sms` names, and a line saying where codes go.
fn sms_gateway(sms: &str) -> Result<(std::sync::Arc<dyn till_hq::sms::SmsGateway>, String)> {
    if sms == "twilio" {
        let var = |name: &str| {
            std::env::var(name).with_context(|| format!("--sms twilio needs {name} set"))
        };
        let base = std::env::var("TWILIO_BASE_URL")
            .unwrap_or_else(|_| "https://api.twilio.com".to_string());
        let gateway = till_hq::sms::TwilioSmsGateway::new(
            &base,
            &var("TWILIO_ACCOUNT_SID")?,
            &var("TWILIO_AUTH_TOKEN")?,
            &var("TWILIO_FROM")?,
        );
        return Ok((
            std::sync::Arc::new(gateway),
            format!("one-time codes go out by SMS through Twilio ({base})"),
        ));
    }
    let Some(file) = sms.strip_prefix("fake:").filter(|f| !f.is_empty()) else {
        bail!("--sms is `twilio` or `fake:FILE`, not {sms:?}");
    };
    Ok((
        std::sync::Arc::new(till_hq::sms::FakeSmsGateway::with_outbox(file.into())),
        format!("one-time codes are NOT sent: the fake SMS gateway appends them to {file}"),
    ))
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Serve {
            listen,
            tls_cert,
            tls_key,
            sms,
        } => {
            tracing_subscriber::fmt()
                .with_writer(std::io::stderr)
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| "info".into()),
                )
                .init();
            let store = open(&cli.db)?;
            let tls = tls_cert
                .zip(tls_key)
                .map(|(cert, key)| till_hq::server::TlsFiles { cert, key });
            let (gateway, said) = sms_gateway(&sms)?;
            let pages = till_hq::server::Pages {
                sms: gateway,
                limits: till_hq::server::PageLimits::default(),
            };
            let server = till_hq::server::spawn_with(&listen, store, tls.as_ref(), pages)
                .with_context(|| format!("cannot serve on {listen}"))?;
            // Version-1 phone hashes are checked once, in the background, over a connection
            // of its own; a chain that never had a version-1 key is done at once.
            let upgrading = open(&cli.db)?;
            std::thread::spawn(move || {
                match till_hq::phones::upgrade_version_1_phones(&*upgrading, 64) {
                    Ok(report) if report.checked > 0 => tracing::info!(
                        checked = report.checked,
                        moved = report.moved,
                        merged = report.merged.len(),
                        "version-1 phone hashes upgraded"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::error!("upgrading version-1 phone hashes: {e}"),
                }
            });
            let scheme = if tls.is_some() { "https" } else { "http" };
            println!("till-hq serving on {scheme}://{}", server.address);
            // A note for the operator, on stderr: stdout carries only the address line, which
            // scripts read (and may stop reading after).
            eprintln!("{said}");
            wait_for_stop_signal()?;
            tracing::info!("stopping: answering the requests in flight");
            server.shutdown();
            tracing::info!("stopped");
        }
        Command::Store(StoreCommand::Add { id, name }) => {
            if !till_sync_ids_ok(&id) {
                bail!("store id {id:?} must be 1–16 letters or digits");
            }
            open(&cli.db)?.add_store(&id, &name)?;
            println!("store {id} added");
        }
        Command::Terminal(TerminalCommand::Reissue { store, terminal }) => {
            let db = open(&cli.db)?;
            let code = db.reissue_code(&store, &terminal)?;
            // Whoever holds the old till holds its claim key: the new one signs from now on
            // (the old one still verifies the receipts it signed).
            db.rotate_claim_key(&store, &terminal)?;
            println!(
                "terminal {store}/{terminal}: its old token no longer works; new one-time registration code: {code}"
            );
        }
        Command::Terminal(TerminalCommand::Add { store, terminal }) => {
            if !till_sync_ids_ok(&terminal) {
                bail!("terminal id {terminal:?} must be 1–16 letters or digits");
            }
            let code = open(&cli.db)?.add_terminal(&store, &terminal)?;
            println!("terminal {store}/{terminal} added; one-time registration code: {code}");
        }
        Command::Member(MemberCommand::Key(KeyCommand::Rotate { rollout_hours })) => {
            let db = open(&cli.db)?;
            let now = jiff::Timestamp::now().as_millisecond();
            let keys = db.code_keys_with_start()?;
            if let Some((pending, start)) = keys.first().filter(|(_, start)| *start > now)
                && rollout_hours > 0
            {
                bail!(
                    "member-code key {} is still rolling out (it signs from {}); rotate after \
                     that, or pass --rollout-hours 0 if a key has leaked",
                    pending.kid(),
                    local_time(*start)
                );
            }
            // A chain's first key has nothing to roll out from.
            let signs_from = match keys.is_empty() {
                true => now,
                false => now + i64::from(rollout_hours) * 3_600_000,
            };
            let key = db.rotate_code_key_from(signs_from)?;
            println!(
                "member-code key {} ({}) goes to terminals at their next sync",
                key.kid(),
                key.public().to_hex()
            );
            match keys.first() {
                Some((previous, _)) if signs_from > now => println!(
                    "it signs member codes from {}; key {} signs until then",
                    local_time(signs_from),
                    previous.kid()
                ),
                _ => println!("it signs member codes now"),
            }
        }
        Command::Member(MemberCommand::Key(KeyCommand::Show)) => {
            let db = open(&cli.db)?;
            let (code_keys, keys) = (db.code_keys_with_start()?, db.member_keys()?);
            if code_keys.is_empty() {
                println!("no member-code key yet; run `till-hq member key rotate`");
            }
            let now = jiff::Timestamp::now().as_millisecond();
            for (i, (key, start)) in code_keys.iter().enumerate() {
                let role = if i == 0 { "current" } else { "previous" };
                let signs = match *start > now {
                    true => format!(" (signs from {})", local_time(*start)),
                    false => String::new(),
                };
                println!(
                    "{role} member-code key {}: {}{signs}",
                    key.kid(),
                    key.public().to_hex()
                );
            }
            for (i, (id, key)) in keys.iter().enumerate() {
                let role = if i == 0 { "current" } else { "previous" };
                println!("{role} version-1 key {id}: {}", fingerprint(key));
            }
        }
        Command::Member(MemberCommand::Key(KeyCommand::Export { file })) => {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let db = open(&cli.db)?;
            let code_keys = db.code_keys()?;
            if code_keys.is_empty() {
                bail!("no member-code key yet; run `till-hq member key rotate`");
            }
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&file)
                .with_context(|| format!("cannot create {}", file.display()))?;
            // Oldest first: a till takes the last key it imports as current.
            for key in code_keys.iter().rev() {
                writeln!(out, "code {} {}", key.kid(), key.public().to_hex())?;
            }
            // The pepper a till needs to look members up by phone (hence mode 0600).
            writeln!(out, "pepper {}", db.phone_pepper()?.to_hex())?;
            println!(
                "member-code key {} and {} more key(s), and the phone pepper, written to {}",
                code_keys[0].kid(),
                code_keys.len() - 1,
                file.display()
            );
        }
        Command::Member(MemberCommand::Code { member_id, at }) => {
            if !till_domain::scan::is_valid_member_id(&member_id) {
                bail!("{member_id:?} is not a member ID (letters, digits, - and _)");
            }
            let now = match at {
                Some(at) => at,
                None => u64::try_from(jiff::Timestamp::now().as_second())?,
            };
            let at_ms = i64::try_from(now)?.saturating_mul(1000);
            let key = open(&cli.db)?
                .signing_code_key(at_ms)?
                .context("no member-code key yet; run `till-hq member key rotate`")?;
            println!("{}", key.code(&member_id, till_sync::member::step_at(now)));
        }
        Command::Member(MemberCommand::UpgradePhones) => {
            let report = till_hq::phones::upgrade_version_1_phones(&*open(&cli.db)?, 64)?;
            if report.checked == 0 {
                println!("no stored phone hash left to check: none can be version 1");
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{} stored phone hash(es) checked: {} moved to version 2, {} merged",
                report.checked,
                report.moved,
                report.merged.len()
            );
            for (merged, survivor) in &report.merged {
                println!("{merged} merged into {survivor} (same phone)");
            }
        }
        Command::Member(MemberCommand::Points { member_id }) => {
            let db = open(&cli.db)?;
            let ledger = db.points_ledger(&member_id)?;
            let known = db.member_known(&member_id)?;
            if !known && ledger.is_empty() {
                bail!("no member {member_id} at HQ, and no sale carries that ID");
            }
            let balance: i64 = ledger.iter().map(|(_, p)| p).sum();
            println!(
                "member {member_id}: {balance} points from {} sales{}",
                ledger.len(),
                if known {
                    ""
                } else {
                    " (sales carry this ID, but HQ has no such member: added at a till by hand?)"
                }
            );
            for (sale_id, points) in ledger {
                println!("  {sale_id}  +{points}");
            }
        }
        Command::PublicUrl(PublicUrlCommand::Set { url }) => {
            let url = url.trim().trim_end_matches('/');
            let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
            let rest = url.split_once("://").map_or("", |(_, rest)| rest);
            if !scheme_ok || rest.is_empty() || url.chars().any(|c| c.is_whitespace() || c == '"') {
                bail!("{url:?} is not an address like https://hq.example.com");
            }
            open(&cli.db)?.set_setting(till_hq::server::PUBLIC_URL, url)?;
            println!("public address set to {url}; terminals take it when they register");
        }
        Command::Loyalty(LoyaltyCommand::Set { points_per_yuan }) => {
            let rule = open(&cli.db)?.publish_loyalty(points_per_yuan)?;
            println!(
                "loyalty rule {} published: {} point(s) per yuan; terminals take it at their next sync",
                rule.version, rule.points_per_yuan
            );
        }
        Command::Loyalty(LoyaltyCommand::Show) => {
            let db = open(&cli.db)?;
            let current = db.current_loyalty_rule()?;
            println!(
                "current: rule {}, {} point(s) per yuan",
                current.version, current.points_per_yuan
            );
            for rule in db.loyalty_rules()? {
                println!("  rule {}: {} per yuan", rule.version, rule.points_per_yuan);
            }
        }
        Command::PublicUrl(PublicUrlCommand::Show) => {
            match open(&cli.db)?.setting(till_hq::server::PUBLIC_URL)? {
                Some(url) => println!("{url}"),
                None => println!("no public address set; run `till-hq public-url set URL`"),
            }
        }
        Command::Catalog(CatalogCommand::Import { file }) => {
            let input = std::fs::File::open(&file)
                .with_context(|| format!("cannot open {}", file.display()))?;
            let rows = match till_hq::catalog::read_catalog(std::io::BufReader::new(input)) {
                Ok(rows) => rows,
                Err(CatalogFileError::Rows(bad)) => {
                    for (line, reason) in &bad {
                        eprintln!("line {line}: {reason}");
                    }
                    bail!(
                        "{} bad rows in {}; nothing was published",
                        bad.len(),
                        file.display()
                    );
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot publish {}", file.display()));
                }
            };
            let published = open(&cli.db)?.publish_catalog(&rows)?;
            if published.added + published.changed + published.withdrawn == 0 {
                println!(
                    "catalog unchanged: {} products, still version {}",
                    published.unchanged, published.version
                );
            } else {
                println!(
                    "catalog version {} published: {} added, {} changed, {} unchanged, {} withdrawn",
                    published.version,
                    published.added,
                    published.changed,
                    published.unchanged,
                    published.withdrawn
                );
            }
        }
        Command::Sales => {
            let summaries = open_analytics(&cli)?.summaries()?;
            if summaries.is_empty() {
                println!("no sales yet");
            }
            for s in summaries {
                let tenders: Vec<String> = s
                    .tenders
                    .iter()
                    .map(|(k, v)| format!("{k} {}", money(*v)))
                    .collect();
                println!(
                    "store {}: {} sales, total {}, tenders: {}, change given {}",
                    s.store,
                    s.sales,
                    money(s.total),
                    tenders.join(", "),
                    money(s.change)
                );
            }
        }
        Command::Terminals => {
            for t in open_analytics(&cli)?.terminals()? {
                let last_sync = t
                    .last_sync_ms
                    .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                    .map_or("never".to_string(), |ts| {
                        ts.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
                    });
                println!(
                    "{}/{}: {}, {} sales, last #{}, gaps {:?}, breaks {:?}, last sync {last_sync}",
                    t.store,
                    t.terminal,
                    if t.registered {
                        "registered"
                    } else {
                        "awaiting registration"
                    },
                    t.sales,
                    t.last_seq,
                    t.gaps,
                    t.breaks
                );
            }
        }
        Command::ZReports { ref store, limit } => {
            let rows = open_analytics(&cli)?.z_reports(store.as_deref(), limit)?;
            if rows.is_empty() {
                println!("no Z reports yet");
            }
            let mut per_store: std::collections::BTreeMap<&str, (u64, i64)> = Default::default();
            for z in &rows {
                let closed = jiff::Timestamp::from_millisecond(z.closed_at_ms)
                    .ok()
                    .zip(jiff::tz::Offset::from_seconds(z.utc_offset_s).ok())
                    .map(|(t, offset)| {
                        t.to_zoned(jiff::tz::TimeZone::fixed(offset))
                            .strftime("%Y-%m-%d %H:%M")
                            .to_string()
                    })
                    .unwrap_or_default();
                println!(
                    "{}/{} Z {:<4} closed {closed} by {:<8} {:>5} sales  net {:>12}  expected {:>12}  counted {:>12}  difference {:>10}",
                    z.store,
                    z.terminal,
                    z.z_no,
                    z.closed_by,
                    z.sales_count,
                    money(z.net),
                    money(z.expected_cash),
                    money(z.counted_cash),
                    money(z.difference)
                );
                let entry = per_store.entry(&z.store).or_default();
                entry.0 += 1;
                entry.1 += z.difference;
            }
            for (store, (count, difference)) in per_store {
                println!(
                    "store {store}: {count} Z report{}, cash difference {}",
                    if count == 1 { "" } else { "s" },
                    money(difference)
                );
            }
        }
        Command::VerifyJournal { file } => {
            let input = std::fs::File::open(&file)
                .with_context(|| format!("cannot open {}", file.display()))?;
            let lines: Vec<Vec<u8>> = std::io::BufReader::new(input)
                .split(b'\n')
                .filter(|l| l.as_ref().map_or(true, |l| !l.is_empty()))
                .collect::<Result<_, _>>()?;
            return Ok(match verify_chain(lines.iter().map(Vec::as_slice)) {
                Ok(head) => {
                    println!(
                        "journal ok: {} sales, chain head {}",
                        lines.len(),
                        hex::encode(head)
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    println!("journal broken: {e}");
                    ExitCode::FAILURE
                }
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Store and terminal IDs: 1–16 ASCII letters and digits, as terminals require.
fn till_sync_ids_ok(id: &str) -> bool {
    (1..=16).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}
