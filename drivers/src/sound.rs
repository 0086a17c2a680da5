//! The till's error beep: a short tone on the machine's default audio output, so that a
//! cashier looking at the goods, not the screen, hears a refused scan.
//!
//! Sound plays on a thread of its own ([`Beeper::spawn`]); asking for a beep never blocks.
//! The output is opened at the first beep, through `rodio` (ALSA on Linux). Where the machine
//! has no audio device the till stays silent: the beep is counted and dropped, and opening
//! the output is tried again at most once a minute, so a headset plugged in later is found.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::time::{Duration, Instant};

use rodio::Source;

/// The error tone: 880 Hz for 150 ms, at a fifth of full volume.
const TONE_HZ: f32 = 880.0;
const TONE: Duration = Duration::from_millis(150);
const VOLUME: f32 = 0.2;
/// How long to wait before trying a missing audio device again.
const RETRY: Duration = Duration::from_secs(60);

/// Plays the error beep. Cloning is cheap; every clone feeds the same sound thread.
#[derive(Clone, Debug)]
pub struct Beeper {
    requests: Sender<()>,
    requested: Arc<AtomicUsize>,
    played: Arc<AtomicUsize>,
}

impl Beeper {
    /// Starts the sound thread. Errors: the thread cannot be started.
    pub fn spawn() -> std::io::Result<Beeper> {
        let (requests, received) = channel::<()>();
        let played = Arc::new(AtomicUsize::new(0));
        let counter = played.clone();
        std::thread::Builder::new()
            .name("sound".into())
            .spawn(move || {
                let mut output: Option<rodio::MixerDeviceSink> = None;
                let mut failed_at: Option<Instant> = None;
                for () in received {
                    if output.is_none() && failed_at.is_none_or(|at| at.elapsed() >= RETRY) {
                        let opened = if has_sound_output() {
                            rodio::DeviceSinkBuilder::open_default_sink().map_err(|e| e.to_string())
                        } else {
                            Err("no sound card or sound server".to_string())
                        };
                        match opened {
                            Ok(mut sink) => {
                                sink.log_on_drop(false);
                                output = Some(sink);
                                failed_at = None;
                            }
                            Err(e) => {
                                if failed_at.is_none() {
                                    log::info!("no audio output, the till stays silent: {e}");
                                }
                                failed_at = Some(Instant::now());
                            }
                        }
                    }
                    if let Some(sink) = &output {
                        let tone = rodio::source::SineWave::new(TONE_HZ)
                            .amplify(VOLUME)
                            .take_duration(TONE);
                        sink.mixer().add(tone);
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })?;
        Ok(Beeper {
            requests,
            requested: Arc::new(AtomicUsize::new(0)),
            played,
        })
    }

    /// Asks for the error beep. Never blocks; silent where there is no audio device.
    pub fn error(&self) {
        self.requested.fetch_add(1, Ordering::SeqCst);
        let _ = self.requests.send(());
    }

    /// Beeps asked for so far.
    pub fn requested(&self) -> usize {
        self.requested.load(Ordering::SeqCst)
    }

    /// Beeps that reached an audio device so far.
    pub fn played(&self) -> usize {
        self.played.load(Ordering::SeqCst)
    }
}

/// Whether this machine can play sound: the kernel knows a sound card, or a sound server
/// (PulseAudio, PipeWire) is there. Without either, ALSA can only fail, and it prints its
/// complaints to standard error at every attempt.
fn has_sound_output() -> bool {
    if cfg!(not(target_os = "linux")) {
        return true;
    }
    let cards = std::fs::read_to_string("/proc/asound/cards")
        .is_ok_and(|cards| !cards.contains("no soundcards"));
    let runtime = std::env::var_os("XDG_RUNTIME_DIR").map(std::path::PathBuf::from);
    let server = std::env::var_os("PULSE_SERVER").is_some()
        || runtime.is_some_and(|dir| {
            dir.join("pulse/native").exists() || dir.join("pipewire-0").exists()
        });
    cards || server
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_beep_never_blocks_and_a_machine_without_audio_stays_silent() {
        let beeper = Beeper::spawn().unwrap();
        let start = Instant::now();
        for _ in 0..3 {
            beeper.error();
        }
        assert!(
            start.elapsed() < Duration::from_millis(50),
            "asking blocked"
        );
        assert_eq!(beeper.requested(), 3);
        // Give the thread time to open the output (or find there is none).
        std::thread::sleep(Duration::from_millis(500));
        assert!(beeper.played() <= 3);
    }
}
