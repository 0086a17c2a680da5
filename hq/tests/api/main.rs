//! HQ as a real HTTP server on 127.0.0.1, driven by the terminal's own client and by raw
//! requests for what a well-behaved client would never send. The same conformance tests run
//! on both backends: a real SQLite file, and a throwaway PostgreSQL cluster started from the
//! installed server binaries.

use std::sync::Arc;
use std::time::Duration;

use till_hq::db::{Analytics, HqStore, SqliteStore};
use till_hq::pg::PgStore;
use till_hq::server::{PageLimits, Pages, RunningServer, spawn, spawn_with};
use till_hq::sms::FakeSmsGateway;
use till_hq::testing::{PgCluster, journal, journal_of, private_pki};
use till_sync::api::{SaleStatus, UPLOAD_PATH, UploadRequest, UploadedSale, idempotency_key};
use till_sync::chain_hash;
use till_sync::client::{SyncClient, SyncError, register};

#[derive(Clone, Copy, Debug)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// A running HQ with store S001 (terminals T01, T02) and store S002 (terminal T01).
pub(crate) struct App {
    dir: tempfile::TempDir,
    pg: Option<PgCluster>,
    server: RunningServer,
    codes: Vec<String>,
    /// Where the customers' pages' one-time codes go.
    sms: Arc<FakeSmsGateway>,
}

impl App {
    fn spawn(backend: Backend) -> App {
        let dir = tempfile::tempdir().unwrap();
        let pg = matches!(backend, Backend::Postgres).then(PgCluster::start);
        let open = || till_hq::testing::open_store(pg.as_ref(), &dir.path().join("hq.db"));
        let admin = open();
        admin.add_store("S001", "人民广场店").unwrap();
        admin.add_store("S002", "静安寺店").unwrap();
        let codes = vec![
            admin.add_terminal("S001", "T01").unwrap(),
            admin.add_terminal("S001", "T02").unwrap(),
            admin.add_terminal("S002", "T01").unwrap(),
        ];
        let sms = Arc::new(FakeSmsGateway::default());
        let pages = Pages {
            sms: sms.clone(),
            limits: PageLimits::default(),
        };
        let server = spawn_with("127.0.0.1:0", open(), None, pages).unwrap();
        App {
            dir,
            pg,
            server,
            codes,
            sms,
        }
    }

    /// Posts a join or claim form at `url` as a customer does: `fields` first (phone and
    /// consent), then the code HQ texted to `phone`. The last answer.
    fn proven_post(&self, url: &str, fields: &str, phone: &str) -> (u16, String) {
        let (status, page) = page_post(url, fields);
        if status != 200 || !page.contains(r#"name="code""#) {
            return (status, page);
        }
        let phone = till_sync::member::Phone::parse(phone).unwrap();
        let code = self.sms.last_code_to(&phone).expect("a code was texted");
        page_post(url, &format!("{fields}&code={code}"))
    }

    fn db(&self) -> Box<dyn HqStore> {
        till_hq::testing::open_store(self.pg.as_ref(), &self.dir.path().join("hq.db"))
    }

    /// Registers terminal `n` (0: S001/T01, 1: S001/T02, 2: S002/T01) and returns its client.
    fn client(&self, n: usize) -> SyncClient {
        SyncClient::new(
            &self.server.url(),
            &self.token(n),
            Duration::from_secs(10),
            None,
        )
        .unwrap()
    }

    /// Registers terminal `n` and returns its bearer token.
    fn token(&self, n: usize) -> String {
        register(
            &self.server.url(),
            &self.codes[n],
            Duration::from_secs(5),
            None,
        )
        .unwrap()
        .token
    }

    fn sales_count(&self) -> u64 {
        self.db().summaries().unwrap().iter().map(|s| s.sales).sum()
    }

    fn post(&self, token: Option<&str>, key: Option<&str>, body: &[u8]) -> (u16, String) {
        let mut request = reqwest::blocking::Client::new()
            .post(format!("{}{UPLOAD_PATH}", self.server.url()))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let response = request.send().unwrap();
        (response.status().as_u16(), response.text().unwrap())
    }
}

pub(crate) fn statuses(response: &till_sync::api::UploadResponse) -> Vec<SaleStatus> {
    response.results.iter().map(|r| r.status).collect()
}

mod cli;
mod enrollments;
mod faults;
mod load;
mod members;
mod one_phone_one_member;
mod ops;
mod pages;
mod processes;
mod publish;
mod sales;

use enrollments::*;
use faults::*;
use load::*;
use members::*;
use ops::*;
use pages::*;
use publish::*;
use sales::*;

/// `till-hq` with `args`: whether it succeeded, and what it printed (stdout then stderr).
pub(crate) fn till_hq(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_till-hq"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Every conformance test, on each backend: the same function against SQLite and PostgreSQL.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(super::App::spawn(super::Backend::Sqlite)) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name(super::App::spawn(super::Backend::Postgres)) } )*
        }
    };
}

conformance!(
    a_batch_is_stored_once_however_often_it_arrives,
    concurrent_copies_of_a_batch_never_duplicate,
    the_same_key_with_a_different_body_is_refused,
    registration_codes_work_until_the_terminal_uses_its_token,
    a_terminal_writes_only_its_own_sales,
    malformed_uploads_get_a_reason_and_write_nothing,
    gaps_and_chain_breaks_are_recorded_and_the_sales_kept,
    a_second_sale_claiming_a_sequence_is_rejected,
    member_keys_rotate_and_reach_terminals_with_the_previous_key,
    a_version_1_chain_keeps_its_members_and_points_through_the_upgrade,
    a_phone_that_version_1_split_is_one_member_again_with_all_its_points,
    reads_answer_while_an_ingest_waits_for_the_database,
    the_faults_fuzzing_found_answer_alike_on_both_backends,
    a_saturated_hq_sheds_writes_with_retry_after,
    joins_are_proven_by_sms_and_rate_limited,
    points_are_earned_once_per_sale_whatever_the_retries,
    points_follow_the_published_rule_and_a_mismatch_is_refused,
    catalog_versions_reach_terminals_as_deltas_a_page_at_a_time,
    enrollments_merge_by_phone_and_reach_every_till_with_their_final_ids,
    bad_enrollments_are_refused_and_file_nothing,
    claims_attribute_anonymous_sales_once_even_before_they_arrive,
    joining_on_hq_makes_a_member_every_till_finds,
    operations_are_filed_once_and_z_reports_listed,
    bad_operation_uploads_get_a_reason_and_file_nothing,
    returns_are_filed_only_for_what_is_left_across_terminals,
    another_terminal_looks_a_sale_up_at_hq_for_its_return,
);
