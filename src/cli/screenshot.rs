//! `till screenshot`: renders every screen, in both languages, at 800x480 and 1024x768, to PNG
//! files.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct ScreenshotArgs {
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

pub fn exec(args: ScreenshotArgs) -> Result<ExitCode> {
    let written = till::ui::screenshot::render_all(&args.out)?;
    println!(
        "wrote {} screenshots to {}",
        written.len(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
