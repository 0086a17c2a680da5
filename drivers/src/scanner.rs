//! Serial barcode scanners: framing, prefix and suffix stripping, garbage and over-long input
//! discarded with a reason, and reconnection with back-off when the device goes away. Scans
//! arrive as [`ScannerEvent`]s on a channel, off the UI thread.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::Duration;

use serialport::{DataBits, Parity, SerialPort, StopBits};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Framing {
    /// Codes end with carriage return, most scanners' default.
    #[default]
    Cr,
    Lf,
    CrLf,
}

impl Framing {
    fn terminator(&self) -> &'static [u8] {
        match self {
            Framing::Cr => b"\r",
            Framing::Lf => b"\n",
            Framing::CrLf => b"\r\n",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScannerConfig {
    /// A name for messages, e.g. "handheld".
    pub name: String,
    /// The device path, e.g. `/dev/ttyACM0` or a `/dev/serial/by-id/…` link.
    pub port: String,
    pub baud: u32,
    pub data_bits: u8,
    /// `none`, `odd` or `even`.
    pub parity: String,
    pub stop_bits: u8,
    pub framing: Framing,
    /// Stripped from the start of each code when present, e.g. an AIM identifier.
    pub prefix: String,
    pub suffix: String,
    /// Longer input is discarded as a stuck scanner or line noise.
    pub max_len: usize,
}

impl ScannerConfig {
    pub fn new(name: &str, port: &str) -> ScannerConfig {
        ScannerConfig {
            name: name.into(),
            port: port.into(),
            baud: 9600,
            data_bits: 8,
            parity: "none".into(),
            stop_bits: 1,
            framing: Framing::Cr,
            prefix: String::new(),
            suffix: String::new(),
            max_len: 256,
        }
    }

    fn open(&self) -> serialport::Result<serialport::TTYPort> {
        let data_bits = if self.data_bits == 7 {
            DataBits::Seven
        } else {
            DataBits::Eight
        };
        let parity = match self.parity.as_str() {
            "odd" => Parity::Odd,
            "even" => Parity::Even,
            _ => Parity::None,
        };
        let stop_bits = if self.stop_bits == 2 {
            StopBits::Two
        } else {
            StopBits::One
        };
        serialport::new(&self.port, self.baud)
            .data_bits(data_bits)
            .parity(parity)
            .stop_bits(stop_bits)
            .timeout(Duration::from_millis(100))
            .open_native()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScannerEvent {
    Connected {
        scanner: String,
    },
    Scan {
        scanner: String,
        code: String,
    },
    /// Input that was not a code, and why it was dropped.
    Discarded {
        scanner: String,
        reason: String,
    },
    /// The device went away; the scanner keeps trying to reopen it.
    Disconnected {
        scanner: String,
        reason: String,
    },
}

/// Splits a scanner's byte stream into codes. Pure, so every framing rule is unit-tested.
#[derive(Debug)]
pub struct FrameDecoder {
    terminator: &'static [u8],
    prefix: Vec<u8>,
    suffix: Vec<u8>,
    max_len: usize,
    buf: Vec<u8>,
    /// Inside an over-long line: drop everything up to the next terminator.
    overflowed: usize,
}

impl FrameDecoder {
    pub fn new(config: &ScannerConfig) -> FrameDecoder {
        FrameDecoder {
            terminator: config.framing.terminator(),
            prefix: config.prefix.as_bytes().to_vec(),
            suffix: config.suffix.as_bytes().to_vec(),
            max_len: config.max_len.max(1),
            buf: Vec::new(),
            overflowed: 0,
        }
    }

    /// Feeds bytes as they arrive; returns each complete code, or the reason it was dropped.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Result<String, String>> {
        let mut out = Vec::new();
        for &byte in bytes {
            self.buf.push(byte);
            if self.buf.ends_with(self.terminator) {
                let frame_len = self.buf.len() - self.terminator.len();
                let frame: Vec<u8> = self.buf.drain(..).take(frame_len).collect();
                if self.overflowed > 0 {
                    out.push(Err(format!(
                        "over-long input discarded ({} bytes, at most {})",
                        self.overflowed + frame.len(),
                        self.max_len
                    )));
                    self.overflowed = 0;
                } else if let Some(result) = self.frame(frame) {
                    out.push(result);
                }
            } else if self.buf.len() > self.max_len + self.terminator.len() {
                // Keep only a possible start of the terminator.
                let keep = self.terminator.len() - 1;
                self.overflowed += self.buf.len() - keep;
                self.buf.drain(..self.buf.len() - keep);
            }
        }
        out
    }

    fn frame(&self, frame: Vec<u8>) -> Option<Result<String, String>> {
        // Line noise before a code (NULs, a stray LF from CRLF framing) is not a scan.
        let start = frame
            .iter()
            .position(|b| b.is_ascii_graphic() || *b == b' ')?;
        let mut code = &frame[start..];
        if let Some(bad) = code.iter().find(|b| !(b.is_ascii_graphic() || **b == b' ')) {
            return Some(Err(format!(
                "garbage byte 0x{bad:02X} inside a scan; discarded"
            )));
        }
        code = code.strip_prefix(self.prefix.as_slice()).unwrap_or(code);
        code = code.strip_suffix(self.suffix.as_slice()).unwrap_or(code);
        let code = String::from_utf8_lossy(code).trim().to_string();
        (!code.is_empty()).then_some(Ok(code))
    }
}

/// The machine's serial ports, each with a description: `("/dev/ttyACM0", "USB 05e0:1200 Symbol Bar Code Scanner")`.
pub fn list_ports() -> serialport::Result<Vec<(String, String)>> {
    Ok(serialport::available_ports()?
        .into_iter()
        .map(|port| {
            let kind = match port.port_type {
                serialport::SerialPortType::UsbPort(usb) => {
                    format!(
                        "USB {:04x}:{:04x} {}",
                        usb.vid,
                        usb.pid,
                        usb.product.unwrap_or_default()
                    )
                }
                serialport::SerialPortType::PciPort => "PCI".into(),
                serialport::SerialPortType::BluetoothPort => "Bluetooth".into(),
                serialport::SerialPortType::Unknown => "serial".into(),
            };
            (port.port_name, kind.trim().to_string())
        })
        .collect())
}

/// A running scanner thread. Dropping the handle stops it.
#[derive(Debug)]
pub struct ScannerHandle {
    stop: Arc<AtomicBool>,
}

impl Drop for ScannerHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Reads `config`'s port on its own thread, sending events to `events`, reopening the port
/// with back-off (0.2 s doubling to 5 s) whenever it fails. Any number can run at once.
pub fn spawn(
    config: ScannerConfig,
    events: Sender<ScannerEvent>,
) -> std::io::Result<ScannerHandle> {
    let stop = Arc::new(AtomicBool::new(false));
    let running = stop.clone();
    std::thread::Builder::new()
        .name(format!("scanner-{}", config.name))
        .spawn(move || run(&config, &events, &running))?;
    Ok(ScannerHandle { stop })
}

fn run(config: &ScannerConfig, events: &Sender<ScannerEvent>, stop: &AtomicBool) {
    let name = || config.name.clone();
    let mut delay = Duration::from_millis(200);
    let mut reported_down = false;
    while !stop.load(Ordering::SeqCst) {
        let mut port = match config.open() {
            Ok(port) => port,
            Err(e) => {
                if !reported_down {
                    log::warn!("scanner {}: cannot open {}: {e}", config.name, config.port);
                    let reason = format!("cannot open {}: {e}", config.port);
                    if events
                        .send(ScannerEvent::Disconnected {
                            scanner: name(),
                            reason,
                        })
                        .is_err()
                    {
                        return;
                    }
                    reported_down = true;
                }
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        delay = Duration::from_millis(200);
        if events
            .send(ScannerEvent::Connected { scanner: name() })
            .is_err()
        {
            return;
        }
        let mut decoder = FrameDecoder::new(config);
        let mut buf = [0u8; 512];
        let reason = loop {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            match port.read(&mut buf) {
                Ok(0) => break "the device closed".to_string(),
                Ok(n) => {
                    for result in decoder.push(&buf[..n]) {
                        let event = match result {
                            Ok(code) => ScannerEvent::Scan {
                                scanner: name(),
                                code,
                            },
                            Err(reason) => {
                                log::warn!("scanner {}: {reason}", config.name);
                                ScannerEvent::Discarded {
                                    scanner: name(),
                                    reason,
                                }
                            }
                        };
                        if events.send(event).is_err() {
                            return;
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    // A healthy port that has gone quiet; also the moment to notice a
                    // vanished device node.
                    if !std::path::Path::new(&config.port).exists() {
                        break format!("{} disappeared", config.port);
                    }
                }
                Err(e) => break e.to_string(),
            }
        };
        drop(port.clear(serialport::ClearBuffer::All));
        log::warn!("scanner {}: disconnected: {reason}", config.name);
        reported_down = true;
        if events
            .send(ScannerEvent::Disconnected {
                scanner: name(),
                reason,
            })
            .is_err()
        {
            return;
        }
        std::thread::sleep(delay);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(framing: Framing, prefix: &str, chunks: &[&[u8]], expected: &[Result<&str, &str>]) {
        let mut config = ScannerConfig::new("t", "/dev/null");
        config.framing = framing;
        config.prefix = prefix.into();
        config.max_len = 20;
        let mut decoder = FrameDecoder::new(&config);
        let got: Vec<Result<String, String>> =
            chunks.iter().flat_map(|c| decoder.push(c)).collect();
        let got: Vec<Result<&str, &str>> = got
            .iter()
            .map(|r| r.as_ref().map(String::as_str).map_err(String::as_str))
            .collect();
        assert_eq!(got, expected, "{framing:?} {chunks:?}");
    }

    #[test]
    fn frames_codes_and_explains_what_it_drops() {
        use Framing::*;
        check(Cr, "", &[b"4006381333931\r"], &[Ok("4006381333931")]);
        check(
            Lf,
            "",
            &[b"4006381333931\n73513537\n"],
            &[Ok("4006381333931"), Ok("73513537")],
        );
        check(CrLf, "", &[b"4006381333931\r\n"], &[Ok("4006381333931")]);
        // A code split across reads, and a CRLF split between its two bytes.
        check(
            CrLf,
            "",
            &[b"400638", b"1333931\r", b"\n"],
            &[Ok("4006381333931")],
        );
        // CRLF from a scanner configured for CR: the stray LF is line noise, not a scan.
        check(
            Cr,
            "",
            &[b"4006381333931\r\n73513537\r"],
            &[Ok("4006381333931"), Ok("73513537")],
        );
        check(Cr, "]E0", &[b"]E04006381333931\r"], &[Ok("4006381333931")]);
        check(
            Cr,
            "",
            &[b"\x00\x00\xff4006381333931\r"],
            &[Ok("4006381333931")],
        );
        check(
            Cr,
            "",
            &[b"4006\x00381333931\r"],
            &[Err("garbage byte 0x00 inside a scan; discarded")],
        );
        check(
            Cr,
            "",
            &[b"1234567890", b"1234567890123\r73513537\r"],
            &[
                Err("over-long input discarded (23 bytes, at most 20)"),
                Ok("73513537"),
            ],
        );
        check(Cr, "", &[b"\r\r"], &[]);
    }
}
