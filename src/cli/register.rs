//! `till register`: registers this terminal with HQ, using a one-time code.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;

use super::open;

#[derive(Args, Debug)]
pub struct RegisterArgs {
    /// HQ's address, e.g. https://hq.example.com or http://127.0.0.1:8080.
    #[arg(long)]
    hq: String,
    #[arg(long)]
    code: String,
    /// The chain's CA certificate (PEM), if HQ's TLS certificate is from a private CA.
    #[arg(long)]
    ca: Option<PathBuf>,
}

pub fn exec(data_dir: &Path, args: RegisterArgs) -> Result<ExitCode> {
    register(data_dir, &args.hq, &args.code, args.ca.as_deref())
}

fn register(data_dir: &Path, hq: &str, code: &str, ca: Option<&Path>) -> Result<ExitCode> {
    let (config, store) = open(data_dir)?;
    let ca_pem = ca
        .map(|path| std::fs::read(path).with_context(|| format!("cannot read {}", path.display())))
        .transpose()?;
    // Stored as an absolute path, since later syncs may run from anywhere.
    let ca = ca.map(std::path::absolute).transpose()?;
    // This till's own random value, made once and kept: with it, and only with it, the same
    // code may be used again if HQ's answer is lost (until the till first uses its token).
    let device = match store.setting("hq_device")? {
        Some(device) => device,
        None => {
            let device = format!(
                "{}{}",
                uuid::Uuid::now_v7().simple(),
                uuid::Uuid::now_v7().simple()
            );
            store.set_setting("hq_device", &device)?;
            device
        }
    };
    let request = till_sync::api::RegisterRequest {
        code: code.trim().to_string(),
        device: Some(device),
        store: Some(config.store_id.clone()),
        terminal: Some(config.terminal_id.clone()),
    };
    let registered = till_sync::client::register_as(
        hq,
        &request,
        std::time::Duration::from_secs(30),
        ca_pem.as_deref(),
    )
    .with_context(|| format!("registering with {hq}"))?;
    if registered.store != config.store_id || registered.terminal != config.terminal_id {
        bail!(
            "that code is for terminal {}/{}, but this is terminal {}/{}",
            registered.store,
            registered.terminal,
            config.store_id,
            config.terminal_id
        );
    }
    till::sync::save_registration(data_dir, &store, hq, ca.as_deref(), &registered)?;
    println!(
        "registered terminal {}/{} with {hq}",
        registered.store, registered.terminal
    );
    if let Some(url) = &registered.public_url {
        println!("claim and join QR codes point to {url}");
    } else if config.member.public_url == till::config::MemberSection::default().public_url {
        println!(
            "note: [member] public_url is still {}: the claim QR codes on receipts and the join \
             code on the customer display point there; set it to HQ's public address",
            config.member.public_url
        );
    }
    Ok(ExitCode::SUCCESS)
}
