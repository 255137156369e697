// One test per validation rule, named `<rule>_accepts_<case>` / `<rule>_rejects_<case>`.
// Each builds a spec from a valid base with one change and checks the exact message, the
// same text the webhook returns (no file position).

use kiln::chart::Chart;
use kiln::spec::load::{Document, InputFile, parse_documents};
use kiln::{Finding, Kiln};
use serde_json::{Value, json};

fn kiln() -> Kiln {
    Kiln::with_charts(Chart::builtins().unwrap()).unwrap()
}

fn base() -> Value {
    json!({
        "apiVersion": "custom.ops/v1",
        "kind": "MicroServiceDeploy",
        "metadata": {"name": "shop-v1s0", "namespace": "team-a"},
        "spec": {
            "msName": "shop",
            "version": "1.0",
            "image": "registry.example.com/team-a/shop:1.0.0",
            "resourceRequirements": {"limits": {"cpu": "1", "memory": "512Mi"}}
        }
    })
}

/// The base spec with `spec.<field>` set (or removed when `value` is null).
fn spec_with(field: &str, value: Value) -> Value {
    let mut document = base();
    let spec = document["spec"].as_object_mut().unwrap();
    if value.is_null() {
        spec.remove(field);
    } else {
        spec.insert(field.to_owned(), value);
    }
    document
}

fn findings(document: Value) -> Vec<Finding> {
    let kiln = kiln();
    let document = Document::from_value("test", document);
    kiln.run(vec![document]).findings
}

fn errors(document: Value) -> Vec<String> {
    findings(document)
        .iter()
        .filter(|f| f.is_error())
        .map(Finding::message_line)
        .collect()
}

fn warnings(document: Value) -> Vec<String> {
    findings(document)
        .iter()
        .filter(|f| !f.is_error())
        .map(Finding::message_line)
        .collect()
}

fn rule_ids(document: Value) -> Vec<String> {
    findings(document)
        .iter()
        .filter(|f| f.is_error())
        .map(|f| f.rule.to_string())
        .collect()
}

#[test]
fn the_base_spec_is_valid() {
    assert_eq!(errors(base()), Vec::<String>::new());
    assert_eq!(warnings(base()), Vec::<String>::new());
}

// required

#[test]
fn required_rejects_a_missing_ms_name() {
    assert_eq!(
        errors(spec_with("msName", Value::Null)),
        ["spec.msName: is required"]
    );
}

#[test]
fn required_rejects_a_missing_image() {
    assert_eq!(
        errors(spec_with("image", Value::Null)),
        ["spec.image: is required"]
    );
}

#[test]
fn required_rejects_a_missing_name() {
    let mut document = base();
    document["metadata"].as_object_mut().unwrap().remove("name");
    assert_eq!(errors(document), ["metadata.name: is required"]);
}

#[test]
fn required_rejects_a_missing_spec() {
    let mut document = base();
    document.as_object_mut().unwrap().remove("spec");
    assert!(errors(document).contains(&"spec: is required".to_owned()));
}

// dns-name

#[test]
fn dns_name_rejects_uppercase_ms_name_with_a_fix() {
    assert_eq!(
        errors(spec_with("msName", json!("Shop_Front"))),
        [
            "spec.msName: must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters (got \"Shop_Front\"); hint: write \"shop-front\""
        ]
    );
}

#[test]
fn dns_name_rejects_a_derived_full_name_over_63_characters() {
    let long = "a".repeat(60);
    assert_eq!(
        errors(spec_with("msName", json!(long))),
        [format!(
            "spec.fullName: derived from spec.msName and spec.version as \"{long}-v1s0\", which has 65 characters; names of Services are at most 63; hint: shorten spec.msName or set spec.fullName"
        )]
    );
}

#[test]
fn dns_name_rejects_a_written_full_name_over_63_characters() {
    let long = "b".repeat(64);
    assert_eq!(
        errors(spec_with("fullName", json!(long))),
        [format!(
            "spec.fullName: must be at most 63 characters (it has 64) (got \"{long}\")"
        )]
    );
}

#[test]
fn dns_name_accepts_a_63_character_full_name() {
    assert_eq!(
        errors(spec_with("fullName", json!("c".repeat(63)))),
        Vec::<String>::new()
    );
}

#[test]
fn dns_name_rejects_a_bad_namespace() {
    let mut document = base();
    document["metadata"]["namespace"] = json!("Team A");
    assert_eq!(rule_ids(document), ["dns-name"],);
}

#[test]
fn dns_name_rejects_a_path_that_is_not_a_label() {
    assert_eq!(
        errors(spec_with("path", json!("/v1"))),
        [
            "spec.path: must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters (got \"/v1\"); hint: write \"v1\""
        ]
    );
}

// version-format

#[test]
fn version_format_rejects_a_version_names_cannot_be_derived_from() {
    assert_eq!(
        errors(spec_with("version", json!("latest"))),
        [
            "spec.version: must be MAJOR.MINOR or MAJOR.MINOR.PATCH to derive spec.fullName and spec.path (got \"latest\")"
        ]
    );
}

#[test]
fn version_format_rejects_an_unquoted_number() {
    assert_eq!(
        errors(spec_with("version", json!(1.1))),
        [
            "spec.version: must be a quoted string (got 1.1); hint: write \"1.1\"; unquoted, YAML reads 1.10 as the number 1.1"
        ]
    );
}

#[test]
fn version_format_accepts_any_label_value_when_nothing_is_derived() {
    let mut document = spec_with("version", json!("2024-06-nightly"));
    document["spec"]["fullName"] = json!("shop-nightly");
    document["spec"]["path"] = json!("v1");
    document["metadata"]["name"] = json!("shop-nightly");
    assert_eq!(errors(document), Vec::<String>::new());
}

#[test]
fn version_format_rejects_a_missing_version_when_names_are_derived() {
    assert_eq!(
        errors(spec_with("version", Value::Null)),
        [
            "spec.version: is required to derive spec.fullName and spec.path; hint: write version: \"1.0\", or set the derived fields yourself"
        ]
    );
}

// image-reference and image-unpinned

#[test]
fn image_reference_rejects_the_seed_placeholder() {
    assert_eq!(
        errors(spec_with("image", json!("just a image url"))),
        [
            "spec.image: is not a valid OCI image reference: must not contain spaces (got \"just a image url\"); hint: write [registry/]repository:tag or repository@sha256:<digest>, e.g. registry.example.com/team/app:1.2.3"
        ]
    );
}

#[test]
fn image_reference_rejects_a_short_digest() {
    assert_eq!(
        rule_ids(spec_with("image", json!("shop@sha256:abcd"))),
        ["image-reference"]
    );
}

#[test]
fn image_reference_accepts_a_digest() {
    let image = format!("registry.example.com/shop@sha256:{}", "ab".repeat(32));
    assert_eq!(
        errors(spec_with("image", json!(image))),
        Vec::<String>::new()
    );
}

#[test]
fn image_unpinned_warns_about_latest() {
    assert_eq!(
        warnings(spec_with("image", json!("shop:latest"))),
        [
            "spec.image: is not pinned: without a version tag or digest, a restart may run different code (got \"shop:latest\")"
        ]
    );
}

// replicas-range

#[test]
fn replicas_range_rejects_negative_replicas() {
    assert_eq!(
        errors(spec_with("replicas", json!(-1))),
        ["spec.replicas: must be at least 0 (got -1)"]
    );
}

#[test]
fn replicas_range_rejects_more_than_the_maximum() {
    assert_eq!(
        errors(spec_with("replicas", json!(1001))),
        ["spec.replicas: must be at most 1000 (got 1001)"]
    );
}

#[test]
fn replicas_range_accepts_zero() {
    assert_eq!(
        errors(spec_with("replicas", json!(0))),
        Vec::<String>::new()
    );
}

// autoscaling-range

#[test]
fn autoscaling_range_rejects_zero_replicas_with_autoscaling() {
    let mut document = spec_with("autoscaling", json!(true));
    document["spec"]["replicas"] = json!(0);
    assert_eq!(
        errors(document),
        [
            "spec.replicas: must be at least 1 when autoscaling is on, since it is the autoscaler's minimum (got 0); hint: use idle: true to scale to zero"
        ]
    );
}

#[test]
fn autoscaling_range_rejects_max_below_min() {
    assert_eq!(
        errors(spec_with(
            "autoscaling",
            json!({"minReplicas": 4, "maxReplicas": 2})
        )),
        ["spec.autoscaling.maxReplicas: must be at least minReplicas (4) (got 2)"]
    );
}

#[test]
fn autoscaling_range_rejects_a_target_over_100_percent() {
    assert_eq!(
        errors(spec_with(
            "autoscaling",
            json!({"targetCPUUtilizationPercentage": 150})
        )),
        ["spec.autoscaling.targetCPUUtilizationPercentage: must be at most 100 (got 150)"]
    );
}

#[test]
fn autoscaling_range_accepts_idle_with_autoscaling() {
    let mut document = spec_with("autoscaling", json!(true));
    document["spec"]["idle"] = json!(true);
    document["spec"]["replicas"] = json!(0);
    assert_eq!(errors(document), Vec::<String>::new());
}

// quantity

#[test]
fn quantity_rejects_a_space_with_the_fix() {
    let document = spec_with(
        "resourceRequirements",
        json!({"limits": {"memory": "4 Gi"}}),
    );
    assert_eq!(
        errors(document),
        [
            "spec.resourceRequirements.limits.memory: is not a Kubernetes quantity (a number with an optional suffix: m, k, M, G, Ki, Mi, Gi, ...) (got \"4 Gi\"); hint: write 4Gi"
        ]
    );
}

#[test]
fn quantity_rejects_negative_values() {
    let document = spec_with(
        "resourceRequirements",
        json!({"requests": {"cpu": "-1"}, "limits": {"memory": "1Gi"}}),
    );
    assert_eq!(
        errors(document),
        ["spec.resourceRequirements.requests.cpu: must not be negative (got \"-1\")"]
    );
}

#[test]
fn quantity_accepts_plain_numbers() {
    let document = spec_with(
        "resourceRequirements",
        json!({"limits": {"cpu": 2, "memory": "1Gi"}}),
    );
    assert_eq!(errors(document), Vec::<String>::new());
}

// requests-within-limits

#[test]
fn requests_within_limits_rejects_a_request_above_its_limit() {
    let document = spec_with(
        "resourceRequirements",
        json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1500m", "memory": "1Gi"}}),
    );
    assert_eq!(
        errors(document),
        ["spec.resourceRequirements.requests.cpu: must not exceed limits.cpu (1) (got \"1500m\")"]
    );
}

#[test]
fn requests_within_limits_accepts_equal_values_in_other_units() {
    let document = spec_with(
        "resourceRequirements",
        json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1024Mi"}}),
    );
    assert_eq!(errors(document), Vec::<String>::new());
}

// unknown-field and field-type

#[test]
fn unknown_field_rejects_a_typo_by_name() {
    assert_eq!(
        errors(spec_with("replica", json!(3))),
        ["spec.replica: unknown field; hint: did you mean `replicas`?"]
    );
}

#[test]
fn unknown_field_rejects_unknown_metadata() {
    let mut document = base();
    document["metadata"]["lables"] = json!({"a": "b"});
    assert_eq!(
        errors(document),
        ["metadata.lables: unknown field; hint: did you mean `labels`?"]
    );
}

#[test]
fn unknown_field_rejects_unknown_resource_names() {
    let document = spec_with(
        "resourceRequirements",
        json!({"limits": {"memory": "1Gi", "gpu": 1}}),
    );
    assert_eq!(
        errors(document),
        ["spec.resourceRequirements.limits.gpu: unknown field; hint: did you mean `cpu`?"]
    );
}

#[test]
fn field_type_rejects_a_string_for_a_boolean() {
    assert_eq!(
        errors(spec_with("needAuth", json!("yes"))),
        ["spec.needAuth: must be true or false (got \"yes\")"]
    );
}

#[test]
fn field_type_rejects_a_string_for_replicas() {
    assert_eq!(
        errors(spec_with("replicas", json!("3"))),
        [
            "spec.replicas: must be an integer, not a string (got \"3\"); hint: write 3 without quotes"
        ]
    );
}

// unknown-kind

#[test]
fn unknown_kind_lists_the_known_kinds() {
    let mut document = base();
    document["apiVersion"] = json!("custom.ops/v2");
    assert_eq!(
        errors(document),
        [
            "kind: kiln has no chart for custom.ops/v2 MicroServiceDeploy; it renders: custom.ops/v1 MicroServiceDeploy, app.example.com/v1 AppService, etcd.database.coreos.com/v1beta2 EtcdCluster, app.redislabs.com/v1alpha1 RedisEnterpriseCluster"
        ]
    );
}

// duplicate-object

#[test]
fn duplicate_object_rejects_two_specs_with_one_full_name() {
    let file = |name: &str, text: &str| InputFile {
        name: name.into(),
        text: text.into(),
    };
    let spec = "apiVersion: custom.ops/v1\nkind: MicroServiceDeploy\nmetadata: {name: a-v1s0}\nspec: {msName: a, version: \"1.0\", image: \"a:1\"}\n";
    let kiln = kiln();
    let mut documents = parse_documents(&file("first.yaml", spec)).0;
    documents.extend(parse_documents(&file("second.yaml", spec)).0);
    let report = kiln.run(documents);
    let errors: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.is_error())
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("second.yaml:4:1: MicroServiceDeploy/a-v1s0: spec.fullName: renders the same objects as MicroServiceDeploy/a-v1s0 at first.yaml:1:1: "), "{}", errors[0]);
}

#[test]
fn duplicate_object_accepts_one_name_in_two_namespaces() {
    let mut other = base();
    other["metadata"]["namespace"] = json!("team-b");
    let documents = [
        Document::from_value("a", base()),
        Document::from_value("b", other),
    ];
    assert!(!kiln().run(documents.into()).has_errors());
}

// config-size and config-secret

#[test]
fn config_size_rejects_config_over_a_configmap() {
    let big = "x".repeat(1024 * 1024);
    assert_eq!(rule_ids(spec_with("config", json!(big))), ["config-size"]);
}

#[test]
fn config_secret_warns_about_passwords() {
    assert_eq!(
        warnings(spec_with("config", json!("password=88888888"))),
        [
            "spec.config: key \"password\" looks like a secret, and ConfigMaps are not encrypted; hint: use spec.secretEnv"
        ]
    );
}

// memory-limit

#[test]
fn memory_limit_warns_when_missing() {
    let document = spec_with("resourceRequirements", json!({"limits": {"cpu": "1"}}));
    assert_eq!(
        warnings(document),
        [
            "spec.resourceRequirements.limits.memory: is not set: the container may use all of its node's memory"
        ]
    );
}

// yaml-syntax

#[test]
fn yaml_syntax_rejects_alias_bombs_without_expanding_them() {
    let mut text = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
    for (previous, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
        .iter()
        .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
    {
        text.push_str(&format!(
            "{name}: &{name} [{}]\n",
            vec![format!("*{previous}"); 10].join(",")
        ));
    }
    let (documents, findings) = parse_documents(&InputFile {
        name: "bomb.yaml".into(),
        text: text.into(),
    });
    assert!(documents.is_empty());
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].rule, "yaml-syntax");
    assert!(
        findings[0].message.contains("repetition limit exceeded"),
        "{}",
        findings[0].message
    );
}

// defaults, as the webhook's mutation will use them

#[test]
fn defaults_fill_only_absent_fields_and_are_stable() {
    let kiln = kiln();
    let mut document = base();
    document["spec"]["replicas"] = json!("three"); // wrong type: left for validation to report
    let defaulted = kiln.with_defaults(&document).unwrap();
    assert_eq!(defaulted["spec"]["fullName"], "shop-v1s0");
    assert_eq!(defaulted["spec"]["path"], "v1");
    assert_eq!(defaulted["spec"]["replicas"], "three");
    assert_eq!(defaulted["spec"]["autoscaling"], false);
    assert_eq!(
        defaulted["spec"]["resourceRequirements"]["requests"],
        json!({"cpu": "100m", "memory": "128Mi"})
    );
    assert_eq!(
        defaulted["spec"]["resourceRequirements"]["limits"],
        document["spec"]["resourceRequirements"]["limits"]
    );
    assert_eq!(
        kiln.with_defaults(&defaulted).unwrap(),
        defaulted,
        "defaulting twice changes nothing more"
    );
}

#[test]
fn defaults_ignore_kinds_kiln_does_not_render() {
    let mut document = base();
    document["kind"] = json!("Deployment");
    document["apiVersion"] = json!("apps/v1");
    assert_eq!(kiln().with_defaults(&document), None);
}

#[test]
fn autoscaling_range_reports_out_of_range_replicas_once() {
    let mut document = spec_with("autoscaling", json!({"targetCPUUtilizationPercentage": 0}));
    document["spec"]["replicas"] = json!(-1);
    assert_eq!(
        errors(document),
        [
            "spec.autoscaling.targetCPUUtilizationPercentage: must be at least 1 (got 0)",
            "spec.replicas: must be at least 0 (got -1)",
        ]
    );
}

// the `manifests` model (charts/webhook): a name and a mapping spec

#[test]
fn manifests_model_rejects_a_spec_that_is_not_a_mapping() {
    let webhook = Chart::from_dir(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../charts/webhook"
    )))
    .unwrap();
    let kiln = Kiln::with_charts(vec![webhook]).unwrap();
    let document = json!({"apiVersion": "custom.ops/v1", "kind": "KilnWebhook", "metadata": {"name": "w"}, "spec": "image: x"});
    let errors: Vec<String> = kiln
        .run(vec![Document::from_value("w", document)])
        .findings
        .iter()
        .map(Finding::message_line)
        .collect();
    assert_eq!(errors, ["spec: must be a mapping (got \"image: x\")"]);
}
