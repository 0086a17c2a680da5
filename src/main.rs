//! The `till` command: set up a terminal, manage its catalog, sell, and check its journal.
//!
//! This file is the command tree and the dispatch; each command lives in its own file under
//! `cli/`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

mod cli;

#[derive(Parser, Debug)]
#[command(
    name = "till",
    version,
    about = "Touchscreen checkout terminal that turns every sale into member data"
)]
struct Cli {
    /// Where the terminal keeps its config and database (default: the per-user data dir).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create this terminal's config and database.
    Init(cli::init::InitArgs),
    /// Import, export and look up products.
    #[command(subcommand)]
    Catalog(cli::catalog::CatalogCommand),
    /// Show what the scan classifier makes of codes.
    #[command(subcommand)]
    Scan(cli::scan::ScanCommand),
    /// Run the till in this terminal: serial scanners and typed codes, payments, receipts.
    Run(cli::run::RunArgs),
    /// Ring up a sale from the command line: `till sell 6901234567892 3*6901234567892 --pay cash:20`.
    Sell(cli::sell::SellArgs),
    /// List and show committed sales.
    #[command(subcommand)]
    Sales(cli::sales::SalesCommand),
    /// Open a shift with the float counted, close it with a blind count (its Z report).
    #[command(subcommand)]
    Shift(cli::shift::ShiftCommand),
    /// The X report of the open shift; the Z report of a closed one.
    #[command(subcommand)]
    Report(cli::report::ReportCommand),
    /// Paid in, paid out and no-sale openings of the drawer.
    #[command(subcommand)]
    Cash(cli::cash::CashCommand),
    /// Take back part or all of a sale by its receipt code: `till return TR1.S001.T01.42
    /// --line 1=2`; without lines, what is left to return.
    Return(cli::returns::ReturnArgs),
    /// The operations recorded: shifts, Z reports, cash movements, voids, logins.
    Audit(cli::audit::AuditArgs),
    /// Check the tamper-evident journals of sales and operations.
    #[command(subcommand)]
    Journal(cli::journal::JournalCommand),
    /// The touchscreen demo in a temporary data dir: a sample catalog of over 300 products, demo staff,
    /// a virtual printer and a virtual scanner. Without a display it runs a scripted sale.
    Demo(cli::demo::DemoArgs),
    /// Start the touchscreen.
    Ui(cli::ui::WindowArgs),
    /// Render every screen, in both languages, at 800x480 and 1024x768, to PNG files.
    Screenshot(cli::screenshot::ScreenshotArgs),
    /// Who may log in to the touchscreen.
    #[command(subcommand)]
    Staff(cli::staff::StaffCommand),
    /// Member keys, member codes and members.
    #[command(subcommand)]
    Member(cli::member::MemberCommand),
    /// Register this terminal with HQ, using a one-time code from `till-hq terminal add`.
    Register(cli::register::RegisterArgs),
    /// Upload sales to HQ, or show how syncing stands.
    #[command(subcommand)]
    Sync(cli::sync::SyncCommand),
    /// Scanners, printers and the virtual devices for demos and tests.
    #[command(subcommand)]
    Devices(cli::devices::DevicesCommand),
    /// Measure the targets in PRODUCT.md against baselines taken in the same run.
    #[command(subcommand)]
    Bench(cli::bench::BenchCommand),
    /// Test hooks for the crash test; not for people.
    #[command(subcommand, hide = true)]
    Debug(cli::debug::DebugCommand),
}

fn main() -> ExitCode {
    // `till sales list | head -1` ends quietly, not with a panic; `till sell` already never
    // fails once it has committed.
    till_sync::pipe::run_quietly_on_broken_pipe(till_main)
}

fn till_main() -> ExitCode {
    let cli = Cli::parse();
    // Commands that draw the touchscreen need fontconfig to know a font (see till::fonts).
    if matches!(
        cli.command,
        Command::Ui(_) | Command::Demo(_) | Command::Screenshot(_) | Command::Bench(_)
    ) {
        match till::fonts::default_cache_dir()
            .map(|dir| till::fonts::fontconfig_with_bundled_font(&dir))
        {
            Some(Ok(config)) => {
                // SAFETY: no other thread exists yet (nothing has been started but `main`),
                // so nothing reads the environment while it changes.
                #[allow(unsafe_code)]
                unsafe {
                    std::env::set_var("FONTCONFIG_FILE", config);
                }
            }
            Some(Err(error)) => {
                eprintln!(
                    "till: warning: cannot register the bundled font with fontconfig: {error}"
                )
            }
            None => eprintln!("till: warning: no cache directory for the bundled font"),
        }
    }
    match run(cli) {
        Ok(code) => code,
        // A command that writes its output with `?` meets a gone reader as an error.
        Err(error)
            if error.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::from(till_sync::pipe::BROKEN_PIPE_STATUS)
        }
        Err(error) => {
            eprintln!("till: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(parsed: Cli) -> Result<ExitCode> {
    // `till demo` keeps its terminal where `--data-dir` says, if it says.
    let explicit_dir = parsed.data_dir.clone();
    let data_dir = match parsed.data_dir {
        Some(dir) => dir,
        None => directories::ProjectDirs::from("org", "till", "till")
            .context("cannot find a per-user data dir; pass --data-dir")?
            .data_dir()
            .to_path_buf(),
    };
    match parsed.command {
        Command::Init(args) => cli::init::exec(&data_dir, args),
        Command::Catalog(cmd) => cli::catalog::exec(&data_dir, cmd),
        Command::Scan(cmd) => cli::scan::exec(&data_dir, cmd),
        Command::Sell(args) => cli::sell::exec(&data_dir, args),
        Command::Run(args) => cli::run::exec(&data_dir, args),
        Command::Sales(cmd) => cli::sales::exec(&data_dir, cmd),
        Command::Journal(cmd) => cli::journal::exec(&data_dir, cmd),
        Command::Shift(cmd) => cli::shift::exec(&data_dir, cmd),
        Command::Report(cmd) => cli::report::exec(&data_dir, cmd),
        Command::Cash(cmd) => cli::cash::exec(&data_dir, cmd),
        Command::Audit(args) => cli::audit::exec(&data_dir, args),
        Command::Return(args) => cli::returns::exec(&data_dir, args),
        Command::Demo(args) => cli::demo::exec(explicit_dir, args),
        Command::Ui(window) => cli::ui::exec(&data_dir, window),
        Command::Screenshot(args) => cli::screenshot::exec(args),
        Command::Staff(cmd) => cli::staff::exec(&data_dir, cmd),
        Command::Member(cmd) => cli::member::exec(&data_dir, cmd),
        Command::Bench(cmd) => cli::bench::exec(cmd),
        Command::Devices(cmd) => cli::devices::exec(&data_dir, cmd),
        Command::Register(args) => cli::register::exec(&data_dir, args),
        Command::Sync(cmd) => cli::sync::exec(&data_dir, cmd),
        Command::Debug(cmd) => cli::debug::exec(&data_dir, cmd),
    }
}
