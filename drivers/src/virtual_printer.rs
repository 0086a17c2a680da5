//! A virtual receipt printer: a real TCP peer on port 9100 that answers status queries and
//! decodes the ESC/POS it receives into one readable text file per receipt.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::decode::{Decoder, Event};
use crate::printer::PrinterStatus;

/// Shared state of a running virtual printer.
#[derive(Debug, Default)]
pub struct PrinterState {
    /// Report paper out, and print nothing, until this is cleared.
    pub paper_out: AtomicBool,
    /// Receipts written so far; a receipt counts once its file is complete.
    receipts: Mutex<usize>,
    /// Times the cash drawer was opened, each also a line of `drawer.log`.
    drawer_openings: Mutex<usize>,
    problems: Mutex<Vec<String>>,
}

impl PrinterState {
    pub fn receipts_printed(&self) -> usize {
        self.receipts.lock().map(|n| *n).unwrap_or(0)
    }

    /// How many times the cash drawer has opened.
    pub fn drawer_openings(&self) -> usize {
        self.drawer_openings.lock().map(|n| *n).unwrap_or(0)
    }

    /// Everything the printer found wrong with what it was sent.
    pub fn problems(&self) -> Vec<String> {
        self.problems.lock().map(|p| p.clone()).unwrap_or_default()
    }

    fn report(&self, problem: String) {
        log::warn!("virtual printer: {problem}");
        if let Ok(mut problems) = self.problems.lock() {
            problems.push(problem);
        }
    }
}

#[derive(Debug)]
pub struct VirtualPrinter {
    pub address: SocketAddr,
    pub out_dir: PathBuf,
    pub state: Arc<PrinterState>,
}

impl VirtualPrinter {
    /// Listens on `listen` (use port 0 for any free port) and writes receipts into `out_dir`
    /// as `receipt-0001.txt`, … . Runs until the process ends.
    pub fn spawn(listen: &str, out_dir: &Path) -> std::io::Result<VirtualPrinter> {
        std::fs::create_dir_all(out_dir)?;
        let listener = TcpListener::bind(listen)?;
        let address = listener.local_addr()?;
        let state = Arc::new(PrinterState::default());
        let printer = VirtualPrinter {
            address,
            out_dir: out_dir.to_path_buf(),
            state: state.clone(),
        };
        let out_dir = out_dir.to_path_buf();
        std::thread::Builder::new()
            .name("virtual-printer".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let (state, out_dir) = (state.clone(), out_dir.clone());
                    let _ = std::thread::Builder::new()
                        .name("virtual-printer-conn".into())
                        .spawn(move || serve(stream, &state, &out_dir));
                }
            })?;
        Ok(printer)
    }

    /// The text of receipt `n` (1-based), as printed.
    pub fn receipt(&self, n: usize) -> std::io::Result<String> {
        std::fs::read_to_string(self.out_dir.join(format!("receipt-{n:04}.txt")))
    }
}

fn serve(mut stream: TcpStream, state: &PrinterState, out_dir: &Path) {
    let mut decoder = Decoder::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                state.report(format!("connection error: {e}"));
                break;
            }
        };
        for event in decoder.feed(&buf[..n]) {
            match event {
                Event::StatusRequest(which) => {
                    let status = PrinterStatus {
                        paper_out: state.paper_out.load(Ordering::SeqCst),
                        ..PrinterStatus::default()
                    };
                    let answers = status.to_bytes();
                    let answer = match which {
                        1..=4 => answers[usize::from(which) - 1],
                        _ => 0x12,
                    };
                    if stream.write_all(&[answer]).is_err() {
                        return;
                    }
                }
                Event::DrawerPulse {
                    pin,
                    on_ms,
                    real_time,
                } => {
                    // Out of paper, a printer still carries out real-time commands but
                    // holds buffered ones (ESC p) with the receipt it cannot print.
                    if state.paper_out.load(Ordering::SeqCst) && !real_time {
                        state.report("out of paper: a drawer pulse was not carried out".into());
                        continue;
                    }
                    let Ok(mut opened) = state.drawer_openings.lock() else {
                        return;
                    };
                    *opened += 1;
                    let line = format!(
                        "drawer opened: pin {pin}, {on_ms} ms{}\n",
                        if real_time { ", real-time" } else { "" }
                    );
                    let log = out_dir.join("drawer.log");
                    if let Err(e) = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&log)
                        .and_then(|mut f| f.write_all(line.as_bytes()))
                    {
                        state.report(format!("cannot write {}: {e}", log.display()));
                    }
                }
                Event::Receipt(receipt) => {
                    if state.paper_out.load(Ordering::SeqCst) {
                        state.report("out of paper: a receipt was not printed".into());
                        continue;
                    }
                    // Written whole under a new name and then renamed, so a reader never sees
                    // half a receipt, and counted only then.
                    let Ok(mut printed) = state.receipts.lock() else {
                        return;
                    };
                    let n = *printed + 1;
                    let path = out_dir.join(format!("receipt-{n:04}.txt"));
                    let partial = out_dir.join(format!(".receipt-{n:04}.txt.partial"));
                    match std::fs::write(&partial, receipt.text())
                        .and_then(|()| std::fs::rename(&partial, &path))
                    {
                        Ok(()) => *printed = n,
                        Err(e) => {
                            drop(printed);
                            state.report(format!("cannot write {}: {e}", path.display()));
                        }
                    }
                }
            }
        }
    }
    // A receipt left uncut when the connection ends is reported and not printed: the host
    // will send it again whole.
    let _ = decoder.finish();
    for problem in decoder.problems() {
        state.report(problem.clone());
    }
}
