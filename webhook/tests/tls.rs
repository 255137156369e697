// End to end over real TLS: the `kiln-certs` binary writes a CA and a serving certificate,
// the `kiln-webhook` binary serves with them, and a client that trusts only that CA sends
// AdmissionReviews. Also: an untrusting client is refused, and SIGTERM drains in-flight work.

mod util;

use std::io::Read as _;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use util::{review, spec_fixture};

struct Webhook {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
    ca: Vec<u8>,
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Generates certificates with `kiln-certs` and starts `kiln-webhook` with them.
fn start() -> Webhook {
    let dir = tempfile::tempdir().unwrap();
    let certs = Command::new(env!("CARGO_BIN_EXE_kiln-certs"))
        .args([
            "--out-dir",
            dir.path().to_str().unwrap(),
            "--name",
            "localhost",
            "--name",
            "127.0.0.1",
        ])
        .output()
        .unwrap();
    assert!(
        certs.status.success(),
        "{}",
        String::from_utf8_lossy(&certs.stderr)
    );
    let ca = std::fs::read(dir.path().join("ca.crt")).unwrap();
    let ca_bundle = String::from_utf8(certs.stdout).unwrap();
    use base64::Engine as _;
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(ca_bundle.trim())
            .unwrap(),
        ca,
        "stdout is the caBundle"
    );
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_kiln-webhook"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--tls-cert")
        .arg(dir.path().join("tls.crt"))
        .arg("--tls-key")
        .arg(dir.path().join("tls.key"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let webhook = Webhook {
        child,
        port,
        _dir: dir,
        ca,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "kiln-webhook did not start listening"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    webhook
}

fn connector(ca_pem: Option<&[u8]>) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = ca_pem {
        for cert in CertificateDer::pem_slice_iter(pem) {
            roots.add(cert.unwrap()).unwrap();
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// One HTTP/1.1 request over a fresh TLS connection; returns status and body.
async fn request(
    webhook: &Webhook,
    method: &str,
    path: &str,
    body: &[u8],
) -> std::io::Result<(u16, String)> {
    let tcp = TcpStream::connect(("127.0.0.1", webhook.port)).await?;
    let mut tls = connector(Some(&webhook.ca))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).await?;
    tls.write_all(body).await?;
    let mut response = Vec::new();
    tls.read_to_end(&mut response)
        .await
        .or_else(|e| if response.is_empty() { Err(e) } else { Ok(0) })?;
    Ok(parse_response(&response))
}

fn parse_response(raw: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

fn review_bytes(fixture: &str) -> Vec<u8> {
    serde_json::to_vec(&review("CREATE", Some(&spec_fixture(fixture)), None, false)).unwrap()
}

#[tokio::test]
async fn seed_fixtures_are_judged_over_tls() {
    let webhook = start();
    let (status, body) = request(
        &webhook,
        "POST",
        "/validate?timeout=5s",
        &review_bytes("seed/ms-sample-v1s0.yaml"),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["response"]["allowed"], false);
    assert!(
        answer["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .starts_with("spec.image: is not a valid OCI image reference")
    );

    let (status, body) = request(
        &webhook,
        "POST",
        "/validate",
        &review_bytes("seed/ms-sample-v1s0-valid.yaml"),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["response"]["allowed"], true);

    let (status, body) = request(&webhook, "GET", "/healthz", b"").await.unwrap();
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (status, _) = request(&webhook, "POST", "/mutate", b"{ not json")
        .await
        .unwrap();
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_ca_is_refused() {
    let webhook = start();
    let tcp = TcpStream::connect(("127.0.0.1", webhook.port))
        .await
        .unwrap();
    let result = connector(None)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await;
    assert!(result.is_err(), "the handshake must fail without the CA");
}

#[tokio::test]
async fn sigterm_finishes_in_flight_requests_then_exits() {
    let mut webhook = start();
    // Start a request and hold back the end of its body.
    let tcp = TcpStream::connect(("127.0.0.1", webhook.port))
        .await
        .unwrap();
    let mut tls = connector(Some(&webhook.ca))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let body = review_bytes("seed/ms-sample-v1s0-valid.yaml");
    let head = format!(
        "POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(&body[..10]).await.unwrap();
    tls.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let status = Command::new("kill")
        .args(["-TERM", &webhook.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", webhook.port)).is_err(),
        "no new connections after SIGTERM"
    );

    tls.write_all(&body[10..]).await.unwrap();
    let mut response = Vec::new();
    let _ = tls.read_to_end(&mut response).await;
    let (code, text) = parse_response(&response);
    assert_eq!(code, 200, "the in-flight request completes: {text}");

    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = webhook.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "kiln-webhook did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    let mut logs = String::new();
    webhook
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(logs.contains("shutting down"), "{logs}");
    assert!(
        logs.contains("uid=705ab4f5-6393-11e8-b7cc-42010a800002"),
        "request logs carry the uid: {logs}"
    );
}
