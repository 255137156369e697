//! Metrics: one registry with typed label sets, rendered in the Prometheus text format.
//! Outcomes are recorded by the request path in `api.rs` from the `Verdict`; nothing else
//! formats metric names. Every label value comes from a fixed set (the kinds kiln knows, the
//! operations, verdicts, reasons and rule ids); a value a request could choose is counted
//! under `other`, so no client can grow the number of series.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub endpoint: &'static str,
    /// A kind kiln knows, or `other`.
    pub kind: String,
    pub operation: &'static str,
    pub verdict: &'static str,
}

/// The label value for anything outside a fixed set.
pub const OTHER: &str = "other";

/// At most this many distinct rule ids are labelled; rule ids come from kiln and the charts,
/// so this is a guard against a bug, not a limit anyone should meet.
const MAX_RULE_LABELS: usize = 256;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    pub endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabels {
    pub rule: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DropLabels {
    /// One of `handshake_failed`, `handshake_timeout`, `header_timeout`, `idle_timeout`.
    pub reason: &'static str,
}

/// Every metric the webhook exports.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<EndpointLabels, Histogram>,
    pub denials: Family<RuleLabels, Counter>,
    pub rejected: Family<ReasonLabels, Counter>,
    pub certificate_expiry: Gauge,
    pub reloads: Counter,
    pub reload_failures: Counter,
    pub connections: Gauge,
    pub connection_limit: Gauge,
    pub connections_dropped: Family<DropLabels, Counter>,
    rules_seen: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("kiln_webhook");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "admission_requests",
            "AdmissionReviews answered, by endpoint, kind, operation and verdict",
            requests.clone(),
        );
        // 50 µs to about 1.6 s.
        let latency = Family::<EndpointLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
        });
        registry.register(
            "admission_duration_seconds",
            "Time to decide an AdmissionReview, body read excluded",
            latency.clone(),
        );
        let denials = Family::<RuleLabels, Counter>::default();
        registry.register(
            "denials",
            "Findings that denied a request, by rule",
            denials.clone(),
        );
        let rejected = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "rejected_requests",
            "Requests answered with 4xx before any decision (malformed, too large, timed out)",
            rejected.clone(),
        );
        let certificate_expiry = Gauge::default();
        registry.register(
            "certificate_expiry_timestamp_seconds",
            "When the serving certificate expires, in seconds since the epoch",
            certificate_expiry.clone(),
        );
        let reloads = Counter::default();
        registry.register(
            "certificate_reloads",
            "New certificate pairs put into service",
            reloads.clone(),
        );
        let reload_failures = Counter::default();
        registry.register(
            "certificate_reload_failures",
            "Changed certificate files that could not be used (the previous pair kept serving)",
            reload_failures.clone(),
        );
        let connections = Gauge::default();
        registry.register(
            "connections",
            "Client connections open now, TLS handshakes included",
            connections.clone(),
        );
        let connection_limit = Gauge::default();
        registry.register(
            "connection_limit",
            "Most connections open at once (--max-connections); further ones wait to be accepted",
            connection_limit.clone(),
        );
        let connections_dropped = Family::<DropLabels, Counter>::default();
        registry.register(
            "connections_dropped",
            "Connections closed by the server because the client failed or was too slow, by reason",
            connections_dropped.clone(),
        );
        Metrics {
            registry,
            connections,
            connection_limit,
            connections_dropped,
            certificate_expiry,
            reloads,
            reload_failures,
            requests,
            latency,
            denials,
            rejected,
            rules_seen: Default::default(),
        }
    }
}

impl Metrics {
    /// The `rule` label of a denial: the rule id, or `other` once `MAX_RULE_LABELS` ids
    /// have been seen.
    pub fn rule_label(&self, rule: &str) -> RuleLabels {
        let mut seen = self
            .rules_seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let known = seen.contains(rule) || {
            let room = seen.len() < MAX_RULE_LABELS;
            if room {
                seen.insert(rule.to_owned());
            }
            room
        };
        RuleLabels {
            rule: if known {
                rule.to_owned()
            } else {
                OTHER.to_owned()
            },
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}
