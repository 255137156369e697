// The seed's operator kinds at admission, through the built-in charts: the Redis Enterprise
// cluster kiln only guards (its operator keeps running it) and the etcd cluster kiln renders.
// The webhook denies with the CLI's messages and fills the charts' defaults as a JSON patch.

mod util;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use kiln::Kiln;
use kiln_webhook::{AppState, metrics::Metrics, router};
use serde_json::{Value, json};
use util::{apply_patch, patch_of, post_review, review, spec_fixture};

fn app() -> axum::Router {
    router(
        Arc::new(AppState {
            kiln: Kiln::load(&[], &[]).unwrap(),
            metrics: Arc::new(Metrics::default()),
            ready: AtomicBool::new(true),
            request_timeout: Duration::from_secs(5),
        }),
        1 << 20,
    )
}

/// A CREATE of `object` through the router; the review's response.
async fn post(app: &axum::Router, path: &str, object: &Value) -> Value {
    post_review(app, path, &review("CREATE", Some(object), None, false)).await
}

/// Applies what /mutate returns, and checks a second /mutate has nothing more to add.
async fn mutated(app: &axum::Router, mut object: Value) -> Value {
    let response = post(app, "/mutate", &object).await;
    assert_eq!(response["allowed"], true, "{response}");
    if let Some(patch) = patch_of(&response) {
        apply_patch(&mut object, &patch);
    }
    let again = post(app, "/mutate", &object).await;
    assert!(again.get("patch").is_none_or(Value::is_null), "{again}");
    object
}

#[tokio::test]
async fn the_seed_redis_cluster_is_denied_with_every_problem_and_its_hint() {
    let app = app();
    let seed = spec_fixture("render/err-redis-seed.yaml");
    let denied = post(&app, "/validate", &seed).await;
    assert_eq!(denied["allowed"], false);
    let message = denied["status"]["message"].as_str().unwrap();
    for expected in [
        "spec.persistentSpec.enabled: must be true or false, not a string (got \"true\"); hint: write true without quotes",
        "spec.redisEnterpriseNodeResources.limits.memory: is not a Kubernetes quantity",
        "spec.redisEnterpriseNodeResources.requests.memory: is not a Kubernetes quantity",
        "hint: write 4Gi",
    ] {
        assert!(message.contains(expected), "{expected}: {message}");
    }
}

#[tokio::test]
async fn a_repaired_redis_cluster_is_admitted_with_its_defaults_and_a_warning() {
    let app = app();
    let repaired = spec_fixture("render/redis-fixed.yaml");
    let allowed = post(&app, "/validate", &repaired).await;
    assert_eq!(allowed["allowed"], true, "{allowed}");
    assert!(
        allowed["warnings"]
            .to_string()
            .contains("spec.uiServiceType: exposes the cluster's admin UI outside the cluster"),
        "{allowed}"
    );
    // Nothing written but the name: the schema's defaults are what the operator gets.
    let bare = json!({"apiVersion": "app.redislabs.com/v1alpha1", "kind": "RedisEnterpriseCluster",
                      "metadata": {"name": "cache", "namespace": "team"},
                      "spec": {"persistentSpec": {"storageClassName": "fast"}}});
    let defaulted = mutated(&app, bare).await;
    assert_eq!(defaulted["spec"]["nodes"], 3);
    assert_eq!(defaulted["spec"]["uiServiceType"], "ClusterIP");
    assert_eq!(defaulted["spec"]["persistentSpec"]["enabled"], false);
    // In a production namespace, persistence is required.
    let mut production = defaulted.clone();
    production["metadata"]["namespace"] = json!("prod");
    let denied = post(&app, "/validate", &production).await;
    assert_eq!(denied["allowed"], false);
    assert_eq!(
        denied["status"]["message"],
        "spec.persistentSpec: must enable persistence in a production namespace; hint: set persistentSpec.enabled: true (and a storageClassName); without it a restarted node comes back empty"
    );
}

#[tokio::test]
async fn an_etcd_cluster_gets_its_derived_defaults_and_impossible_combinations_are_denied() {
    let app = app();
    let seed = spec_fixture("render/etcd-seed.yaml");
    let defaulted = mutated(&app, seed).await;
    assert_eq!(defaulted["spec"]["storage"]["size"], "8Gi");
    let allowed = post(&app, "/validate", &defaulted).await;
    assert_eq!(allowed["allowed"], true, "{allowed}");

    let mut pinned = defaulted.clone();
    pinned["spec"]["nodeNames"] = json!(["db1", "db2"]);
    pinned["spec"]["backup"] =
        json!({"schedule": "@daily", "endpoint": "https://minio:9000", "bucket": "etcd"});
    let denied = post(&app, "/validate", &pinned).await;
    assert_eq!(denied["allowed"], false);
    let message = denied["status"]["message"].as_str().unwrap();
    for expected in [
        "spec.nodeNames: names fewer machines than members; each member needs a machine of its own",
        "spec.backup.credentialsSecret: is required",
    ] {
        assert!(message.contains(expected), "{expected}: {message}");
    }
}
