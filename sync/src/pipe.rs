//! Output to a reader that has gone away, for the command-line tools of both sides.
//!
//! `println!` panics when standard output is a pipe whose reader has exited
//! (`till sales list | head -1`), and the panic prints a backtrace. A command-line tool
//! should instead stop quietly, as Unix tools do when SIGPIPE ends them.

use std::any::Any;
use std::process::ExitCode;

/// The exit status of a command whose reader went away: 128 + SIGPIPE, as a shell reports a
/// tool that SIGPIPE ended.
pub const BROKEN_PIPE_STATUS: u8 = 141;

/// Whether a panic's payload is the standard library's "failed printing to stdout" for a
/// broken pipe.
pub fn is_broken_pipe(payload: &(dyn Any + Send)) -> bool {
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    message.starts_with("failed printing to std") && message.contains("Broken pipe")
}

/// Runs a command-line tool's `main`: a broken pipe on its output ends it quietly with
/// [`BROKEN_PIPE_STATUS`]; any other panic goes on as before.
pub fn run_quietly_on_broken_pipe(main: impl FnOnce() -> ExitCode) -> ExitCode {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !is_broken_pipe(info.payload()) {
            default(info);
        }
    }));
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(main)) {
        Ok(code) => code,
        Err(payload) if is_broken_pipe(payload.as_ref()) => ExitCode::from(BROKEN_PIPE_STATUS),
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_broken_pipe_on_output_counts() {
        let broken: Box<dyn Any + Send> =
            Box::new("failed printing to stdout: Broken pipe (os error 32)".to_string());
        assert!(is_broken_pipe(broken.as_ref()));
        let other: Box<dyn Any + Send> = Box::new("index out of bounds");
        assert!(!is_broken_pipe(other.as_ref()));
        let disk: Box<dyn Any + Send> =
            Box::new("failed printing to stdout: No space left on device".to_string());
        assert!(!is_broken_pipe(disk.as_ref()));
    }
}
