//! HTTP handlers: bytes in, AdmissionReview out. They only translate between HTTP and
//! `admit`; a body that is not an AdmissionReview gets 400 with the reason, never a 500.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use kube_core::DynamicObject;
use kube_core::admission::{AdmissionReview, Operation};

use crate::AppState;
use crate::admit::{Endpoint, admit};
use crate::metrics::{EndpointLabels, OTHER, ReasonLabels, RequestLabels};

pub async fn validate(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    review(&state, &body, Endpoint::Validate).into_response()
}

pub async fn mutate(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    review(&state, &body, Endpoint::Mutate).into_response()
}

/// An answer to a request, before it becomes an HTTP response (the fuzz targets read it as is).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, self.content_type)],
            self.body,
        )
            .into_response()
    }
}

pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready once the chart compiled and the certificate loaded, which happen before serving.
pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.ready.load(Ordering::Relaxed) {
        "ready\n".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// A 4xx answer with a plain-text reason, counted.
pub fn reject(
    state: &AppState,
    status: StatusCode,
    reason: &'static str,
    detail: String,
) -> Answer {
    state
        .metrics
        .rejected
        .get_or_create(&ReasonLabels { reason })
        .inc();
    // Debug formatting escapes newlines: a client cannot forge a log line.
    tracing::warn!(status = status.as_u16(), reason, detail = ?detail, "request rejected");
    Answer {
        status,
        content_type: "text/plain; charset=utf-8",
        body: format!("{detail}\n").into_bytes(),
    }
}

/// Reads an AdmissionReview body and answers it: the whole request path but HTTP itself.
pub fn review(state: &AppState, body: &[u8], endpoint: Endpoint) -> Answer {
    let started = Instant::now();
    // JSON is UTF-8 (RFC 8259). serde_json checks the strings it decodes but not those it
    // skips, so without this a body with invalid bytes in an unknown field was answered.
    let Ok(body) = std::str::from_utf8(body) else {
        let detail = "not an admission.k8s.io/v1 AdmissionReview: the body is not UTF-8".to_owned();
        return reject(state, StatusCode::BAD_REQUEST, "malformed", detail);
    };
    let admission = match crate::decode::review(body) {
        Ok(admission) => admission,
        Err(detail) => return reject(state, StatusCode::BAD_REQUEST, "malformed", detail),
    };
    let crate::decode::Admission {
        request,
        object,
        old_object,
    } = admission;
    let verdict = admit(&state.kiln, &request, object, old_object.as_ref(), endpoint);
    let labels = RequestLabels {
        endpoint: endpoint.as_str(),
        kind: kind_label(&state.kiln, &request.kind.kind),
        operation: operation_label(&request.operation),
        verdict: verdict.outcome.as_str(),
    };
    state.metrics.requests.get_or_create(&labels).inc();
    for rule in &verdict.denied_by {
        let labels = state.metrics.rule_label(rule);
        state.metrics.denials.get_or_create(&labels).inc();
    }
    // Fields that come from the request are Debug-formatted (quoted and escaped), so a
    // newline in a uid or a kind cannot start a forged log line.
    tracing::info!(
        uid = ?request.uid,
        endpoint = endpoint.as_str(),
        kind = ?request.kind.kind,
        namespace = ?request.namespace.as_deref().unwrap_or(""),
        name = ?request.name,
        operation = labels.operation,
        dry_run = request.dry_run,
        verdict = verdict.outcome.as_str(),
        "admission"
    );
    let body = match encode_review(verdict.response.into_review()) {
        Ok(body) => body,
        // Only a bug in kiln gets here: every field above serialises.
        Err(error) => {
            return Answer {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                content_type: "text/plain; charset=utf-8",
                body: error.to_string().into_bytes(),
            };
        }
    };
    state
        .metrics
        .latency
        .get_or_create(&EndpointLabels {
            endpoint: endpoint.as_str(),
        })
        .observe(started.elapsed().as_secs_f64());
    Answer {
        status: StatusCode::OK,
        content_type: "application/json",
        body,
    }
}

/// The request's kind when kiln knows it (a chart's kind or a built-in kind kiln renders),
/// else `other`: the kind comes from the client, the label set must not.
fn kind_label(kiln: &kiln::Kiln, kind: &str) -> String {
    let known = kiln.charts().any(|chart| chart.renders.kind == kind)
        || kiln::output::order::is_ordered_kind(kind);
    if known { kind } else { OTHER }.to_owned()
}

fn operation_label(operation: &Operation) -> &'static str {
    match operation {
        Operation::Create => "CREATE",
        Operation::Update => "UPDATE",
        Operation::Delete => "DELETE",
        Operation::Connect => "CONNECT",
    }
}

/// Serialises the review with `response.patch` as a base64 string, as the API server expects;
/// kube-core writes it as an array of numbers (kube-rs issue 1781).
fn encode_review(review: AdmissionReview<DynamicObject>) -> Result<Vec<u8>, serde_json::Error> {
    // Without a patch (every /validate answer) the review is written as it is.
    if review.response.as_ref().is_none_or(|r| r.patch.is_none()) {
        return serde_json::to_vec(&review);
    }
    let mut value = serde_json::to_value(review)?;
    if let Some(patch) = value.pointer_mut("/response/patch") {
        let bytes: Vec<u8> = serde_json::from_value(patch.take())?;
        *patch = base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .into();
    }
    serde_json::to_vec(&value)
}
