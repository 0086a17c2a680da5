//! `till devices …`: serial ports, the virtual printer and scanner, test page, print queue.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use till::printing::ReceiptPrinter;
use till_drivers::document::{Align, Block, Document, Style};
use till_drivers::escpos::encode;
use till_drivers::printer::DrawerPulse;
use till_drivers::virtual_printer::VirtualPrinter;

use super::{open, report_printing};

#[derive(Subcommand, Debug)]
pub enum DevicesCommand {
    /// List the serial ports this machine has.
    List,
    /// Run a virtual ESC/POS printer on TCP that writes each receipt it gets as a text file.
    VirtualPrinter {
        #[arg(long, default_value = "127.0.0.1:9100")]
        listen: String,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Report "paper out" to status queries and print nothing.
        #[arg(long)]
        paper_out: bool,
    },
    /// Create a virtual serial scanner (a pty), print its path, then scan codes from a file
    /// or standard input, one per line, at a real scanner's pace.
    VirtualScanner {
        /// Codes to scan, one per line; standard input if absent.
        #[arg(long)]
        codes: Option<PathBuf>,
        #[arg(long, default_value_t = 9600)]
        baud: u32,
    },
    /// Print a test page: Chinese and English text, alignment, a barcode, a QR code, a cut.
    TestPrint,
    /// Open the cash drawer wired to the printer, without a sale (a no-sale opening).
    OpenDrawer,
    /// Show receipts waiting to print; `--retry` tries them now.
    PrintQueue {
        #[arg(long)]
        retry: bool,
    },
}

pub fn exec(data_dir: &Path, cmd: DevicesCommand) -> Result<ExitCode> {
    match cmd {
        DevicesCommand::List => {
            let ports = till_drivers::scanner::list_ports().context("cannot list serial ports")?;
            if ports.is_empty() {
                println!("no serial ports found");
            }
            for (name, kind) in ports {
                println!("{name}\t{kind}");
            }
            Ok(ExitCode::SUCCESS)
        }
        DevicesCommand::VirtualPrinter {
            listen,
            out,
            paper_out,
        } => {
            let printer = VirtualPrinter::spawn(&listen, &out)
                .with_context(|| format!("cannot listen on {listen}"))?;
            printer
                .state
                .paper_out
                .store(paper_out, std::sync::atomic::Ordering::SeqCst);
            // A printer keeps printing when whoever reads its log goes away.
            let say = |line: String| {
                let _ = writeln!(std::io::stdout(), "{line}");
            };
            say(format!(
                "virtual printer on {}{}, writing receipts to {}",
                printer.address,
                if paper_out { " (out of paper)" } else { "" },
                out.display()
            ));
            say(format!(
                "point a till at it with: printer address \"tcp:{}\"",
                printer.address
            ));
            let mut seen = 0;
            let mut problems = 0;
            loop {
                std::thread::sleep(Duration::from_millis(100));
                let printed = printer.state.receipts_printed();
                for n in seen + 1..=printed {
                    say(format!(
                        "printed {}",
                        out.join(format!("receipt-{n:04}.txt")).display()
                    ));
                }
                seen = printed;
                let all = printer.state.problems();
                for problem in &all[problems..] {
                    say(format!("problem: {problem}"));
                }
                problems = all.len();
            }
        }
        DevicesCommand::VirtualScanner { codes, baud } => {
            super::scanner::virtual_scanner(codes, baud)
        }
        DevicesCommand::TestPrint => {
            let (config, _) = open(data_dir)?;
            let Some(printer) = ReceiptPrinter::from_config(&config)? else {
                bail!("no printer configured; set [printer] address in config.toml");
            };
            let bytes = encode(&test_page(printer.settings.columns), &printer.settings)?.bytes;
            printer.printer.print(&bytes)?;
            println!("test page sent to {:?}", printer.printer.address);
            Ok(ExitCode::SUCCESS)
        }
        DevicesCommand::OpenDrawer => {
            let (config, mut store) = open(data_dir)?;
            let Some(printer) = ReceiptPrinter::from_config(&config)? else {
                bail!("no printer configured; the cash drawer is wired to the printer");
            };
            match printer.printer.open_drawer()? {
                DrawerPulse::Buffered => println!("drawer opened"),
                DrawerPulse::RealTime => println!(
                    "drawer opened with the real-time pulse: the printer says it cannot print"
                ),
            }
            // A drawer opened without a sale is a no-sale opening, in the open shift's Z if
            // there is one, whoever opened it and why.
            let op = till_sync::ops::Op::NoSale(till_sync::ops::NoSale {
                reason: "till devices open-drawer".into(),
            });
            store.record_op("cli", None, op)?;
            Ok(ExitCode::SUCCESS)
        }
        DevicesCommand::PrintQueue { retry } => {
            let (config, store) = open(data_dir)?;
            if retry {
                store.retry_print_jobs_now()?;
                if let Some(printer) = ReceiptPrinter::from_config(&config)? {
                    report_printing(&store, &printer);
                }
            }
            let jobs = store.pending_print_jobs()?;
            if jobs.is_empty() {
                println!("no receipts waiting to print");
            }
            // After --retry, receipts still waiting mean the printer is still not printing.
            for job in &jobs {
                println!(
                    "receipt #{}{}: {} attempts, last error: {}",
                    job.sale_seq,
                    if job.copy { " (copy)" } else { "" },
                    job.attempts,
                    job.last_error.as_deref().unwrap_or("none")
                );
            }
            Ok(if retry && !jobs.is_empty() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// A page that shows at a glance whether a printer is set up right.
fn test_page(columns: usize) -> Document {
    let mut doc = Document::default();
    doc.text("Till 打印测试 Test page", Align::Center, Style::LARGE)
        .text(format!("{columns} 列 columns"), Align::Center, Style::PLAIN)
        .push(Block::Rule)
        .text("左对齐 Left", Align::Left, Style::PLAIN)
        .text("居中 Centre", Align::Center, Style::PLAIN)
        .text("右对齐 Right", Align::Right, Style::PLAIN)
        .text("粗体 Bold", Align::Left, Style::BOLD)
        .pair("康师傅红烧牛肉面 桶装", "￥5.00", Style::PLAIN)
        .pair("Coca-Cola 500ml", "￥3.50", Style::PLAIN)
        .pair("合计 Total", "￥8.50", Style::LARGE)
        .push(Block::Rule)
        .push(Block::Barcode("TR1.TEST.T01.1".into()))
        .push(Block::Qr("https://github.com/till-pos/till".into()))
        .text(
            "中文 GB18030 · English · 123456789",
            Align::Center,
            Style::PLAIN,
        );
    doc
}
