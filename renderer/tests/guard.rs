// One test per guard rule: objects kiln rendered, edited by hand the way people do, must keep
// kiln's invariants. Named `<rule>_accepts_<case>` / `<rule>_rejects_<case>`.

use kiln::chart::Chart;
use kiln::guard::{check, is_guarded};
use kiln::spec::load::{InputFile, parse_documents};
use kiln::{Finding, Kiln};
use serde::Deserialize;
use serde_json::{Value, json};

const SOURCE: &str = "hint: rendered by kiln from MicroServiceDeploy default/ms-sample-v1s0: change that spec (or the chart) in Git and render again";

/// The objects kiln renders for the valid seed, by kind.
fn rendered(kind: &str) -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/seed/ms-sample-v1s0-valid.yaml"
    ))
    .unwrap();
    // The seed renders into `default`, which the chart treats as shared: the namespace-wide
    // objects render only in a namespace kiln owns.
    let text = if matches!(kind, "ResourceQuota" | "LimitRange" | "Namespace") {
        text.replace(
            "metadata:\n  name: ms-sample-v1s0\n",
            "metadata:\n  name: ms-sample-v1s0\n  namespace: shop\n",
        )
    } else {
        text
    };
    let (documents, _) = parse_documents(&InputFile {
        name: "seed.yaml".into(),
        text: text.into(),
    });
    let report = kiln().run(documents);
    let manifest = report.objects.into_iter().find(|m| m.kind == kind).unwrap();
    Value::deserialize(serde_yaml_ng::Deserializer::from_str(&manifest.yaml)).unwrap()
}

fn kiln() -> Kiln {
    Kiln::new(Chart::builtin().unwrap()).unwrap()
}

fn errors(object: &Value, old: Option<&Value>) -> Vec<String> {
    let values = Chart::builtin().unwrap().values;
    check(object, old, &values)
        .iter()
        .map(Finding::message_line)
        .collect()
}

#[test]
fn every_rendered_object_is_guarded_and_passes() {
    for kind in kiln::guard::GUARDED_KINDS {
        let object = rendered(kind);
        assert!(is_guarded(&object), "{kind}");
        assert_eq!(
            errors(&object, Some(&object)),
            Vec::<String>::new(),
            "{kind}"
        );
    }
}

#[test]
fn objects_without_kilns_label_are_not_guarded() {
    let mut object = rendered("Deployment");
    object["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("app.kubernetes.io/managed-by");
    assert!(!is_guarded(&object));
}

#[test]
fn rendered_source_rejects_a_missing_spec_annotation() {
    let mut object = rendered("Service");
    object["metadata"]["annotations"]
        .as_object_mut()
        .unwrap()
        .remove("kiln.dev/spec");
    assert_eq!(
        errors(&object, None),
        [
            "metadata.annotations: carries app.kubernetes.io/managed-by: kiln but no kiln.dev/spec annotation naming its spec; hint: apply what kiln renders, or remove the managed-by label if kiln does not own this object"
        ]
    );
}

#[test]
fn rendered_resources_rejects_removed_requests() {
    let mut object = rendered("Deployment");
    object["spec"]["template"]["spec"]["containers"][0]["resources"] =
        json!({"limits": {"memory": "4Gi"}});
    assert_eq!(
        errors(&object, None),
        [format!(
            "spec.template.spec.containers[0].resources.requests: must set cpu and memory; {SOURCE}"
        )]
    );
}

#[test]
fn rendered_security_rejects_privilege_escalation() {
    let mut object = rendered("Deployment");
    object["spec"]["template"]["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] =
        json!(true);
    assert_eq!(
        errors(&object, None),
        [format!(
            "spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation: must be false (got true); {SOURCE}"
        )]
    );
}

#[test]
fn rendered_security_rejects_a_writable_root_and_kept_capabilities() {
    let mut object = rendered("Deployment");
    let container = &mut object["spec"]["template"]["spec"]["containers"][0]["securityContext"];
    container["readOnlyRootFilesystem"] = json!(false);
    container["capabilities"] = json!({"drop": ["NET_RAW"]});
    assert_eq!(
        errors(&object, None),
        [
            format!(
                "spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem: must be true (got false); {SOURCE}"
            ),
            format!(
                "spec.template.spec.containers[0].securityContext.capabilities.drop: must include ALL; {SOURCE}"
            ),
        ]
    );
}

#[test]
fn rendered_security_rejects_privileged_containers_and_host_namespaces() {
    let mut object = rendered("Deployment");
    object["spec"]["template"]["spec"]["hostNetwork"] = json!(true);
    object["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] =
        json!(true);
    assert_eq!(
        errors(&object, None),
        [
            format!(
                "spec.template.spec: must not share the node's network, PID, IPC or user namespaces; {SOURCE}"
            ),
            format!(
                "spec.template.spec.containers[0].securityContext.privileged: must not be true (got true); {SOURCE}"
            ),
        ]
    );
}

#[test]
fn rendered_security_rejects_a_pod_that_may_run_as_root() {
    let mut object = rendered("Deployment");
    object["spec"]["template"]["spec"]["securityContext"]
        .as_object_mut()
        .unwrap()
        .remove("runAsNonRoot");
    object["spec"]["template"]["spec"]["securityContext"]["seccompProfile"] =
        json!({"type": "Unconfined"});
    assert_eq!(
        errors(&object, None),
        [
            format!("spec.template.spec.securityContext.runAsNonRoot: must be true; {SOURCE}"),
            format!(
                "spec.template.spec.securityContext.seccompProfile.type: must be RuntimeDefault or Localhost (got \"Unconfined\"); {SOURCE}"
            ),
        ]
    );
}

#[test]
fn rendered_security_accepts_what_the_chart_relaxes() {
    let mut values = Chart::builtin().unwrap().values;
    values["containerSecurityContext"]["readOnlyRootFilesystem"] = json!(false);
    let mut object = rendered("Deployment");
    object["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] =
        json!(false);
    assert!(check(&object, None, &values).is_empty());
}

#[test]
fn rendered_token_rejects_mounting_the_api_token() {
    let mut account = rendered("ServiceAccount");
    account["automountServiceAccountToken"] = json!(true);
    assert_eq!(
        errors(&account, None),
        [format!(
            "automountServiceAccountToken: must not be true (got true); {SOURCE}"
        )]
    );
}

#[test]
fn rendered_selector_rejects_a_changed_service_selector() {
    let old = rendered("Service");
    let mut object = old.clone();
    object["spec"]["selector"]["app.kubernetes.io/instance"] = json!("other");
    assert_eq!(errors(&object, Some(&old)).len(), 1);
    assert!(
        errors(&object, Some(&old))[0].starts_with("spec.selector: must not change (got {"),
        "{:?}",
        errors(&object, Some(&old))
    );
    assert_eq!(
        errors(&object, None),
        Vec::<String>::new(),
        "CREATE has nothing to compare with"
    );
}

#[test]
fn rendered_schema_rejects_a_deployment_kubernetes_would_not_read() {
    let mut object = rendered("Deployment");
    object["spec"]["replicas"] = json!("three");
    let errors = errors(&object, None);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("is not a valid Deployment: "),
        "{errors:?}"
    );
}

// The integrity issue's attack: a privileged initContainer, SYS_ADMIN and a hostPath mount of
// `/` on a kiln-managed Deployment were all allowed.

/// A container that breaks nothing but what a test adds to it.
fn compliant_container(name: &str) -> Value {
    json!({
        "name": name, "image": "registry.example.com/tool:1.0",
        "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                            "runAsNonRoot": true, "capabilities": {"drop": ["ALL"]}}
    })
}

#[test]
fn rendered_security_rejects_a_privileged_init_container() {
    let mut object = rendered("Deployment");
    let mut init = compliant_container("setup");
    init["securityContext"]["privileged"] = json!(true);
    object["spec"]["template"]["spec"]["initContainers"] = json!([init]);
    assert_eq!(
        errors(&object, None),
        [format!(
            "spec.template.spec.initContainers[0].securityContext.privileged: must not be true (got true); {SOURCE}"
        )]
    );
}

#[test]
fn rendered_security_rejects_a_weakened_ephemeral_container() {
    let mut object = rendered("Deployment");
    let mut debug = compliant_container("debug");
    debug["securityContext"]["allowPrivilegeEscalation"] = json!(true);
    object["spec"]["template"]["spec"]["ephemeralContainers"] = json!([debug]);
    assert_eq!(
        errors(&object, None),
        [format!(
            "spec.template.spec.ephemeralContainers[0].securityContext.allowPrivilegeEscalation: must be false (got true); {SOURCE}"
        )]
    );
}

#[test]
fn rendered_capabilities_rejects_sys_admin() {
    let mut object = rendered("Deployment");
    object["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] =
        json!(["SYS_ADMIN"]);
    assert_eq!(
        errors(&object, None),
        [format!(
            "spec.template.spec.containers[0].securityContext.capabilities.add: must not add capabilities beyond the chart's (none) (got [\"SYS_ADMIN\"]); {SOURCE}"
        )]
    );
}

#[test]
fn rendered_capabilities_accepts_what_the_chart_adds() {
    let mut object = rendered("Deployment");
    object["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] =
        json!(["NET_BIND_SERVICE"]);
    let mut values = Chart::builtin().unwrap().values;
    values["containerSecurityContext"]["capabilities"]["add"] = json!(["NET_BIND_SERVICE"]);
    assert_eq!(check(&object, None, &values), Vec::<Finding>::new());
}

#[test]
fn rendered_host_rejects_a_host_path_mount_of_the_root() {
    let mut object = rendered("Deployment");
    object["spec"]["template"]["spec"]["volumes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "host", "hostPath": {"path": "/"}}));
    assert_eq!(
        errors(&object, None),
        [format!(
            "spec.template.spec.volumes[2].hostPath: must not mount a path of the node (got \"/\"); {SOURCE}"
        )]
    );
}

#[test]
fn rendered_host_rejects_a_host_port() {
    let mut object = rendered("Deployment");
    object["spec"]["template"]["spec"]["containers"][0]["ports"][0]["hostPort"] = json!(8080);
    assert_eq!(
        errors(&object, None),
        [format!(
            "spec.template.spec.containers[0].ports[0].hostPort: must not open a port on the node (got 8080); {SOURCE}"
        )]
    );
}

#[test]
fn rendered_host_rejects_the_host_pid_namespace() {
    let mut object = rendered("Deployment");
    object["spec"]["template"]["spec"]["hostPID"] = json!(true);
    assert_eq!(
        errors(&object, None),
        [format!(
            "spec.template.spec: must not share the node's network, PID, IPC or user namespaces; {SOURCE}"
        )]
    );
}
