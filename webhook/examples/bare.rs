// The benchmark's ceiling: the same stack as kiln-webhook (axum, its connection handling,
// rustls with ring, TLS 1.3, HTTP/1.1) answering every POST with a fixed AdmissionReview, no decision made.
// usage: bare --listen ADDR --tls-cert FILE --tls-key FILE

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use clap::Parser;

/// The bare endpoint's flags, named as kiln-webhook's.
#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long)]
    listen: SocketAddr,
    /// The serving certificate (PEM).
    #[arg(long)]
    tls_cert: std::path::PathBuf,
    /// Its private key (PEM).
    #[arg(long)]
    tls_key: std::path::PathBuf,
}

const ANSWER: &str = r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"705ab4f5-6393-11e8-b7cc-42010a800002","allowed":true,"status":{}}}"#;

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let listen = args.listen;
    let files = kiln_webhook::tls::CertificateFiles {
        cert: args.tls_cert,
        key: args.tls_key,
    };
    let loaded = files.load().expect("a usable certificate pair");
    // Reads the body like the webhook does, then answers without looking at it.
    let app = Router::new().route(
        "/validate",
        post(|_body: Bytes| async { ([("content-type", "application/json")], ANSWER) }),
    );
    let listener = tokio::net::TcpListener::bind(listen).await.expect("binds");
    kiln_webhook::server::serve(
        listener,
        kiln_webhook::tls::Current::new(loaded.config),
        app,
        kiln_webhook::server::ConnectionLimits::DEFAULT,
        Default::default(),
        std::future::pending(),
        std::time::Duration::ZERO,
    )
    .await;
}
