// `kiln-certs`: writes a private CA and a serving certificate for the webhook Service, and
// prints the caBundle for the webhook configurations. For clusters without cert-manager and
// for running the webhook locally.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use kiln_webhook::certs;

#[derive(Debug, Parser)]
#[command(
    name = "kiln-certs",
    version,
    about = "Write a CA and a serving certificate for kiln-webhook; print the caBundle"
)]
struct Flags {
    /// Folder for ca.crt, ca.key, tls.crt and tls.key (created if missing).
    #[arg(long, value_name = "DIR")]
    out_dir: PathBuf,
    /// The webhook's Service name.
    #[arg(long, default_value = "kiln-webhook")]
    service: String,
    /// The webhook's namespace.
    #[arg(long, default_value = "kiln-system")]
    namespace: String,
    /// More names or IP addresses for the certificate (e.g. localhost, 127.0.0.1).
    #[arg(long = "name", value_name = "NAME")]
    names: Vec<String>,
}

fn main() -> ExitCode {
    let flags = Flags::parse();
    let mut names = certs::service_dns_names(&flags.service, &flags.namespace);
    names.extend(flags.names.iter().cloned());
    let bundle = match certs::generate(&names) {
        Ok(bundle) => bundle,
        Err(error) => {
            eprintln!("kiln-certs: cannot generate certificates: {error}");
            return ExitCode::from(1);
        }
    };
    let files = [
        ("ca.crt", &bundle.ca_cert, false),
        ("ca.key", &bundle.ca_key, true),
        ("tls.crt", &bundle.cert, false),
        ("tls.key", &bundle.key, true),
    ];
    for (name, contents, secret) in files {
        if let Err(error) = write(&flags.out_dir.join(name), contents, secret) {
            eprintln!(
                "kiln-certs: {}: {error}",
                flags.out_dir.join(name).display()
            );
            return ExitCode::from(2);
        }
    }
    eprintln!(
        "kiln-certs: wrote ca.crt, ca.key, tls.crt, tls.key to {} for {}",
        flags.out_dir.display(),
        names.join(", ")
    );
    println!("{}", bundle.ca_bundle());
    ExitCode::SUCCESS
}

/// Keys are readable by their owner only.
fn write(path: &Path, contents: &str, secret: bool) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mode = if secret { 0o600 } else { 0o644 };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)?;
    std::io::Write::write_all(&mut file, contents.as_bytes())
}
