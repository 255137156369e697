// The benchmark's ceiling: the same stack as kiln-webhook (axum, its connection handling,
// rustls with ring, TLS 1.3, HTTP/1.1) answering every POST with a fixed AdmissionReview, no decision made.
// usage: bare --listen ADDR --tls-cert FILE --tls-key FILE

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;

const ANSWER: &str = r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"705ab4f5-6393-11e8-b7cc-42010a800002","allowed":true,"status":{}}}"#;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        let at = args
            .iter()
            .position(|a| a == name)
            .unwrap_or_else(|| panic!("missing {name}"));
        args[at + 1].clone()
    };
    let listen: SocketAddr = flag("--listen").parse().expect("an address");
    let files = kiln_webhook::tls::CertificateFiles {
        cert: flag("--tls-cert").into(),
        key: flag("--tls-key").into(),
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
