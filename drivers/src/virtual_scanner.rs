//! A virtual serial scanner: a real pseudo-terminal pair. The till opens the slave side like
//! any serial port; codes written to the master side arrive as a scanner would send them.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use serialport::{SerialPort, TTYPort};

use crate::scanner::Framing;

#[derive(Debug)]
pub struct VirtualScanner {
    master: TTYPort,
    /// Held open so that writes before the till opens the port are kept, not refused.
    _slave: TTYPort,
    /// The device path the till should open, e.g. `/dev/pts/3`.
    pub path: PathBuf,
    pub baud: u32,
}

impl VirtualScanner {
    pub fn new(baud: u32) -> serialport::Result<VirtualScanner> {
        let (master, slave) = TTYPort::pair()?;
        let path = slave.name().map(PathBuf::from).unwrap_or_default();
        Ok(VirtualScanner {
            master,
            _slave: slave,
            path,
            baud,
        })
    }

    /// Sends one code with its terminator, paced like a real scanner: ten bits a byte at
    /// `baud`, so 13 digits take about 15 ms at 9600 baud.
    pub fn scan(&mut self, code: &str, framing: Framing) -> std::io::Result<()> {
        let mut bytes = code.as_bytes().to_vec();
        bytes.extend_from_slice(match framing {
            Framing::Cr => b"\r",
            Framing::Lf => b"\n",
            Framing::CrLf => b"\r\n",
        });
        self.write_raw(&bytes)?;
        let micros = bytes.len() as u64 * 10 * 1_000_000 / u64::from(self.baud.max(300));
        std::thread::sleep(Duration::from_micros(micros));
        Ok(())
    }

    /// Sends bytes as they are, for noise and split codes.
    pub fn write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.master.write_all(bytes)?;
        self.master.flush()
    }
}
