//! Moving receipt bytes to a printer, over TCP port 9100, a USB printer-class device
//! (`/dev/usb/lp0`), a serial port or a file, and asking it for its real-time status.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

/// `DLE EOT n`: real-time status request `n`.
pub fn status_request(n: u8) -> [u8; 3] {
    [0x10, 0x04, n]
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrinterAddress {
    /// A network printer, `host:port` (port 9100 by convention).
    Tcp(String),
    /// A USB printer-class device such as `/dev/usb/lp0`.
    UsbDevice(PathBuf),
    Serial {
        path: String,
        baud: u32,
    },
    /// A file the bytes are appended to; it cannot report status.
    File(PathBuf),
}

impl PrinterAddress {
    /// Parses `tcp:HOST:PORT`, `usb:PATH`, `serial:PATH` (at `baud`) or `file:PATH`.
    pub fn parse(address: &str, baud: u32) -> Result<PrinterAddress, String> {
        let (kind, rest) = address
            .split_once(':')
            .ok_or("use tcp:HOST:PORT, usb:PATH, serial:PATH or file:PATH")?;
        if rest.is_empty() {
            return Err("the part after the colon is empty".into());
        }
        match kind {
            "tcp"
                if rest
                    .rsplit_once(':')
                    .is_some_and(|(_, port)| port.parse::<u16>().is_ok()) =>
            {
                Ok(PrinterAddress::Tcp(rest.to_string()))
            }
            "tcp" => Err("a TCP printer needs HOST:PORT, usually port 9100".into()),
            "usb" => Ok(PrinterAddress::UsbDevice(rest.into())),
            "serial" => Ok(PrinterAddress::Serial {
                path: rest.into(),
                baud,
            }),
            "file" => Ok(PrinterAddress::File(rest.into())),
            other => Err(format!("unknown kind {other:?}")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrintError {
    #[error("printer unreachable: {0}")]
    Unreachable(String),
    #[error("printer did not answer in time")]
    Timeout,
    #[error("printer is out of paper")]
    PaperOut,
    #[error("printer cover is open")]
    CoverOpen,
    #[error("printer is offline")]
    Offline,
    #[error("printer reports an error (cutter jam?)")]
    PrinterError,
    #[error("printer connection failed mid-receipt: {0}")]
    Interrupted(String),
}

/// What `DLE EOT 1` to `4` report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PrinterStatus {
    pub offline: bool,
    pub cover_open: bool,
    pub paper_out: bool,
    pub paper_near_end: bool,
    /// A cutter jam or another error that needs the printer's attention.
    pub error: bool,
}

impl PrinterStatus {
    /// Reads the four status bytes, in the order 1, 2, 3, 4.
    pub fn from_bytes([printer, offline_cause, error_cause, paper]: [u8; 4]) -> PrinterStatus {
        PrinterStatus {
            offline: printer & 0x08 != 0,
            cover_open: offline_cause & 0x04 != 0,
            paper_out: offline_cause & 0x20 != 0 || paper & 0x60 != 0,
            paper_near_end: paper & 0x0C != 0,
            error: offline_cause & 0x40 != 0 || error_cause & 0x68 != 0,
        }
    }

    /// The status bytes (for requests 1, 2, 3, 4) a printer in this state sends, for the
    /// virtual printer.
    pub fn to_bytes(&self) -> [u8; 4] {
        // Bits 1 and 4 are always set in real-time status bytes.
        let fixed = 0x12;
        let bit = |on: bool, mask: u8| if on { mask } else { 0 };
        let stopped = self.offline || self.cover_open || self.paper_out || self.error;
        [
            fixed | bit(stopped, 0x08),
            fixed | bit(self.cover_open, 0x04) | bit(self.paper_out, 0x20) | bit(self.error, 0x40),
            fixed | bit(self.error, 0x08),
            fixed | bit(self.paper_near_end, 0x0C) | bit(self.paper_out, 0x60),
        ]
    }

    /// The error that stops printing, if any.
    pub fn blocking_error(&self) -> Option<PrintError> {
        if self.paper_out {
            Some(PrintError::PaperOut)
        } else if self.cover_open {
            Some(PrintError::CoverOpen)
        } else if self.error {
            Some(PrintError::PrinterError)
        } else if self.offline {
            Some(PrintError::Offline)
        } else {
            None
        }
    }
}

/// A printer at an address, with timeouts; every call opens its own connection, so a printer
/// that was switched off and on again just works on the next job.
#[derive(Clone, Debug)]
pub struct Printer {
    pub address: PrinterAddress,
    pub timeout: Duration,
}

trait Port: Read + Write {}
impl<T: Read + Write> Port for T {}

impl Printer {
    pub fn new(address: PrinterAddress) -> Printer {
        Printer {
            address,
            timeout: Duration::from_secs(3),
        }
    }

    fn open(&self) -> Result<Box<dyn Port>, PrintError> {
        let unreachable = |e: std::io::Error| PrintError::Unreachable(e.to_string());
        match &self.address {
            PrinterAddress::Tcp(host) => {
                let addr: SocketAddr = host
                    .to_socket_addrs()
                    .map_err(unreachable)?
                    .next()
                    .ok_or_else(|| PrintError::Unreachable(format!("{host}: no address")))?;
                let stream =
                    TcpStream::connect_timeout(&addr, self.timeout).map_err(unreachable)?;
                stream
                    .set_read_timeout(Some(self.timeout))
                    .map_err(unreachable)?;
                stream
                    .set_write_timeout(Some(self.timeout))
                    .map_err(unreachable)?;
                stream.set_nodelay(true).map_err(unreachable)?;
                Ok(Box::new(stream))
            }
            PrinterAddress::UsbDevice(path) => Ok(Box::new(
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(path)
                    .map_err(unreachable)?,
            )),
            PrinterAddress::Serial { path, baud } => Ok(Box::new(
                serialport::new(path, *baud)
                    .timeout(self.timeout)
                    .open_native()
                    .map_err(|e| PrintError::Unreachable(e.to_string()))?,
            )),
            PrinterAddress::File(path) => Ok(Box::new(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(unreachable)?,
            )),
        }
    }

    /// Whether this transport can read the printer's answers.
    pub fn reads_back(&self) -> bool {
        !matches!(self.address, PrinterAddress::File(_))
    }

    /// Asks the printer for its real-time status. None on transports that cannot read back.
    pub fn status(&self) -> Result<Option<PrinterStatus>, PrintError> {
        if !self.reads_back() {
            return Ok(None);
        }
        let mut port = self.open()?;
        query_status(&mut port).map(Some)
    }

    /// Sends one receipt. Where the transport reads back, the printer's status is checked
    /// first, so a receipt is never sent into a printer that is out of paper.
    pub fn print(&self, bytes: &[u8]) -> Result<(), PrintError> {
        let mut port = self.open()?;
        if self.reads_back()
            && let Some(error) = query_status(&mut port)?.blocking_error()
        {
            return Err(error);
        }
        let interrupted = |e: std::io::Error| PrintError::Interrupted(e.to_string());
        port.write_all(bytes).map_err(interrupted)?;
        port.flush().map_err(interrupted)?;
        if self.reads_back() {
            // A printer handles bytes in order, so an answer to a status query sent after the
            // receipt proves it received all of it. A connection that dropped mid-receipt
            // fails here, and the whole receipt is sent again later.
            query_status(&mut port).map_err(|e| PrintError::Interrupted(e.to_string()))?;
        }
        Ok(())
    }
}

/// How the cash drawer was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrawerPulse {
    /// `ESC p`, with the printer ready.
    Buffered,
    /// The real-time `DLE DC4 1`, because the printer reported it could not print (out of
    /// paper, cover open): the drawer opens even so.
    RealTime,
}

impl Printer {
    /// Opens the cash drawer wired to this printer, on its own and at once, whatever the state
    /// of the paper: a cashier must be able to give change while a receipt waits.
    ///
    /// A printer that answers status gets `ESC p` when it is ready and the real-time
    /// `DLE DC4 1` when it says it cannot print; one that cannot answer (a file, a USB
    /// device that does not read back) gets `ESC p`. Errors: the printer cannot be reached,
    /// or the connection failed while sending.
    pub fn open_drawer(&self) -> Result<DrawerPulse, PrintError> {
        let mut port = self.open()?;
        let ready = if self.reads_back() {
            query_status(&mut port)?.blocking_error().is_none()
        } else {
            true
        };
        let (bytes, pulse) = if ready {
            (&crate::escpos::DRAWER_PULSE, DrawerPulse::Buffered)
        } else {
            (
                &crate::escpos::REAL_TIME_DRAWER_PULSE,
                DrawerPulse::RealTime,
            )
        };
        let interrupted = |e: std::io::Error| PrintError::Interrupted(e.to_string());
        port.write_all(bytes).map_err(interrupted)?;
        port.flush().map_err(interrupted)?;
        Ok(pulse)
    }
}

impl PrintError {
    /// Whether paper may have come out before the error: bytes had started to go to the
    /// printer. Every other error happened before anything was sent.
    pub fn may_have_printed(&self) -> bool {
        matches!(self, PrintError::Interrupted(_))
    }
}

fn query_status(port: &mut Box<dyn Port>) -> Result<PrinterStatus, PrintError> {
    let mut answers = [0u8; 4];
    for (answer, n) in answers.iter_mut().zip([1, 2, 3, 4]) {
        port.write_all(&status_request(n))
            .map_err(|e| PrintError::Unreachable(e.to_string()))?;
        port.flush()
            .map_err(|e| PrintError::Unreachable(e.to_string()))?;
        let mut byte = [0u8; 1];
        match port.read(&mut byte) {
            Ok(1) => *answer = byte[0],
            Ok(_) => return Err(PrintError::Unreachable("connection closed".into())),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(PrintError::Timeout);
            }
            Err(e) => return Err(PrintError::Unreachable(e.to_string())),
        }
    }
    Ok(PrinterStatus::from_bytes(answers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_bytes_round_trip() {
        for status in [
            PrinterStatus::default(),
            PrinterStatus {
                paper_out: true,
                ..Default::default()
            },
            PrinterStatus {
                cover_open: true,
                ..Default::default()
            },
            PrinterStatus {
                paper_near_end: true,
                ..Default::default()
            },
            PrinterStatus {
                error: true,
                ..Default::default()
            },
        ] {
            let back = PrinterStatus::from_bytes(status.to_bytes());
            assert_eq!(back.paper_out, status.paper_out);
            assert_eq!(back.cover_open, status.cover_open);
            assert_eq!(back.paper_near_end, status.paper_near_end);
            assert_eq!(back.error, status.error);
        }
        assert_eq!(PrinterStatus::from_bytes([0x12; 4]).blocking_error(), None);
        let paper_out = [0x1A, 0x32, 0x12, 0x72];
        assert_eq!(
            PrinterStatus::from_bytes(paper_out).blocking_error(),
            Some(PrintError::PaperOut)
        );
        let cover_open = [0x1A, 0x16, 0x12, 0x12];
        assert_eq!(
            PrinterStatus::from_bytes(cover_open).blocking_error(),
            Some(PrintError::CoverOpen)
        );
    }
}
