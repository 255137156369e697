//! TLS: the only file that knows PEM, rustls and certificate files. It builds the server
//! configuration (TLS 1.2 and 1.3 only, ring, HTTP/1.1) and keeps it current: the files are
//! polled, since Kubernetes Secret volumes swap a `..data` symlink that file events miss, and a
//! new pair is installed only when it loads and its key matches; otherwise the last good pair
//! keeps serving and the failure is logged and counted. Files are read on tokio's blocking
//! pool, opened without blocking and only when they are regular files of bounded size, so a
//! FIFO, a device or a huge file at the path is a counted failure, never a stalled server.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::metrics::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot read a PEM certificate chain: {detail}")]
    Certificate { path: PathBuf, detail: String },
    #[error("{path}: holds no certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path}: cannot read a PEM private key: {detail}")]
    Key { path: PathBuf, detail: String },
    #[error("{path}: is not a regular file (a FIFO, device or folder cannot hold a certificate)")]
    NotRegular { path: PathBuf },
    #[error("{path}: is larger than {MAX_PEM_BYTES} bytes, far more than a certificate or key")]
    TooLarge { path: PathBuf },
    #[error("certificate and key do not make a usable pair: {0}")]
    Pair(rustls::Error),
}

impl TlsError {
    /// A file briefly missing while a Secret volume swaps its `..data` link: try again later.
    fn is_transient(&self) -> bool {
        matches!(self, TlsError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// A certificate chain or key is a few kilobytes; anything beyond this is not one.
pub const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// Reads a regular file of at most `MAX_PEM_BYTES`. The file is opened with O_NONBLOCK, so a
/// FIFO at the path cannot block the open, and its type is checked on the opened handle.
fn read_pem_file(path: &Path) -> Result<Vec<u8>, TlsError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let read_error = |source| TlsError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(read_error)?;
    let metadata = file.metadata().map_err(read_error)?;
    if !metadata.is_file() {
        return Err(TlsError::NotRegular {
            path: path.to_owned(),
        });
    }
    if metadata.len() > MAX_PEM_BYTES {
        return Err(TlsError::TooLarge {
            path: path.to_owned(),
        });
    }
    let mut bytes = Vec::new();
    file.take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(TlsError::TooLarge {
            path: path.to_owned(),
        });
    }
    Ok(bytes)
}

/// Where the serving certificate and its key live.
#[derive(Debug, Clone)]
pub struct CertificateFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A loaded pair: the configuration, the bytes it came from, and when the certificate expires.
pub struct Loaded {
    pub config: Arc<ServerConfig>,
    pub not_after_unix: Option<i64>,
    bytes: (Vec<u8>, Vec<u8>),
}

impl CertificateFiles {
    fn read(&self) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
        Ok((read_pem_file(&self.cert)?, read_pem_file(&self.key)?))
    }

    /// Reads and checks both files now (blocking: call it off the async workers).
    pub fn load(&self) -> Result<Loaded, TlsError> {
        let bytes = self.read()?;
        self.build(bytes)
    }

    /// `read` on tokio's blocking pool.
    async fn read_off_runtime(&self) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
        let files = self.clone();
        match tokio::task::spawn_blocking(move || files.read()).await {
            Ok(result) => result,
            Err(join) => Err(TlsError::Read {
                path: self.cert.clone(),
                source: std::io::Error::other(join.to_string()),
            }),
        }
    }

    fn build(&self, bytes: (Vec<u8>, Vec<u8>)) -> Result<Loaded, TlsError> {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes.0)
            .collect::<Result<_, _>>()
            .map_err(|e| TlsError::Certificate {
                path: self.cert.clone(),
                detail: e.to_string(),
            })?;
        let Some(leaf) = chain.first() else {
            return Err(TlsError::NoCertificate {
                path: self.cert.clone(),
            });
        };
        let not_after_unix = x509_parser::parse_x509_certificate(leaf)
            .ok()
            .map(|(_, certificate)| certificate.validity().not_after.timestamp());
        let key = PrivateKeyDer::from_pem_slice(&bytes.1).map_err(|e| TlsError::Key {
            path: self.key.clone(),
            detail: e.to_string(),
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        // with_single_cert also checks that the key belongs to the certificate.
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(TlsError::Pair)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(TlsError::Pair)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Loaded {
            config: Arc::new(config),
            not_after_unix,
            bytes,
        })
    }
}

/// The configuration new connections are served with; `keep_current` swaps it, and each
/// connection keeps the one it started with.
#[derive(Clone)]
pub struct Current(Arc<RwLock<Arc<ServerConfig>>>);

impl Current {
    pub fn new(config: Arc<ServerConfig>) -> Self {
        Current(Arc::new(RwLock::new(config)))
    }

    pub fn current(&self) -> Arc<ServerConfig> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn replace(&self, config: Arc<ServerConfig>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = config;
    }
}

/// Records what a loaded pair says about itself.
pub fn record(metrics: &Metrics, loaded: &Loaded) {
    if let Some(not_after) = loaded.not_after_unix {
        metrics.certificate_expiry.set(not_after);
    }
}

/// Polls the files every `interval` and swaps in each new, valid pair; runs forever.
pub async fn keep_current(
    files: CertificateFiles,
    served: Current,
    first: Loaded,
    metrics: Arc<Metrics>,
    interval: Duration,
) {
    let mut current = first.bytes;
    let mut last_failed: Option<(Vec<u8>, Vec<u8>)> = None;
    let mut last_read_error: Option<String> = None;
    loop {
        tokio::time::sleep(interval).await;
        let bytes = match files.read_off_runtime().await {
            Ok(bytes) => bytes,
            // Mid-swap or briefly missing: try again at the next tick.
            Err(error) if error.is_transient() => continue,
            Err(error) => {
                // Counted once per distinct problem, not at every tick.
                let text = error.to_string();
                if last_read_error.as_ref() != Some(&text) {
                    metrics.reload_failures.inc();
                    tracing::warn!(error = ?text, "certificate files are unusable; still serving the previous pair");
                    last_read_error = Some(text);
                }
                continue;
            }
        };
        last_read_error = None;
        if bytes == current || last_failed.as_ref() == Some(&bytes) {
            continue;
        }
        match files.build(bytes.clone()) {
            Ok(loaded) => {
                served.replace(loaded.config.clone());
                record(&metrics, &loaded);
                metrics.reloads.inc();
                tracing::info!(cert = %files.cert.display(), not_after = loaded.not_after_unix, "serving a new certificate");
                current = bytes;
                last_failed = None;
            }
            Err(error) => {
                metrics.reload_failures.inc();
                tracing::warn!(%error, "new certificate files are unusable; still serving the previous pair");
                last_failed = Some(bytes);
            }
        }
    }
}
