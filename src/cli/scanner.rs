//! `till devices virtual-scanner`: a pty that scans codes from a file or standard input.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use till_drivers::scanner::Framing;
use till_drivers::virtual_scanner::VirtualScanner;

pub fn virtual_scanner(codes: Option<PathBuf>, baud: u32) -> Result<ExitCode> {
    let mut scanner = VirtualScanner::new(baud).context("cannot create a pseudo-terminal")?;
    println!(
        "virtual scanner at {} ({baud} baud, CR framing)",
        scanner.path.display()
    );
    println!(
        "point a till at it with: [[scanners]] port = \"{}\"",
        scanner.path.display()
    );
    let codes = match codes {
        Some(path) => {
            let file = std::fs::File::open(&path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            read_codes(BufReader::new(file))?
        }
        None => {
            println!("type or paste codes, one per line; Ctrl-D to unplug");
            let mut codes = Vec::new();
            for code in read_codes(std::io::stdin().lock())? {
                scanner.scan(&code, Framing::Cr)?;
                println!("scanned {code}");
                codes.push(code);
            }
            return Ok(ExitCode::SUCCESS);
        }
    };
    // Give the till a moment to open the port, then scan at a cashier's pace.
    std::thread::sleep(Duration::from_secs(1));
    for code in codes {
        scanner.scan(&code, Framing::Cr)?;
        println!("scanned {code}");
        std::thread::sleep(Duration::from_millis(300));
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads codes, one per line, skipping blank lines.
fn read_codes(input: impl BufRead) -> Result<Vec<String>> {
    let mut codes = Vec::new();
    for line in input.lines() {
        let line = line?;
        if !line.trim().is_empty() {
            codes.push(line.trim().to_string());
        }
    }
    Ok(codes)
}
