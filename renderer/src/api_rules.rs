//! What the API server's validation refuses in objects that are well-typed: a probe or hook
//! with no handler or two, a workload whose selector does not select its own pods, port
//! names the server does not accept. kiln checks what it can tell from one object, so a
//! chart mistake fails the render and not the sync. Each problem is `(path, message)`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, LifecycleHandler, PodSpec, PodTemplateSpec, Probe, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub type Problem = (String, String);

/// A workload's selector must select its pod template, and the pods must be valid.
pub fn workload(
    selector: Option<&LabelSelector>,
    template: &PodTemplateSpec,
    at: &str,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    if let Some(selector) = selector
        && !selects(selector, &labels)
    {
        problems.push((
            format!("{at}.selector"),
            "does not select the pod template's labels, so the workload would own no pods"
                .to_owned(),
        ));
    }
    if let Some(spec) = &template.spec {
        problems.extend(pod(spec, &format!("{at}.template.spec")));
    }
    problems
}

/// The label selector semantics of metav1.LabelSelectorAsSelector. An empty selector
/// selects everything, which the API server refuses for workloads: said as not selecting.
pub fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let match_labels = selector.match_labels.as_ref();
    let expressions = selector.match_expressions.as_deref().unwrap_or_default();
    if match_labels.is_none_or(|m| m.is_empty()) && expressions.is_empty() {
        return false;
    }
    let labels_match = match_labels
        .into_iter()
        .flatten()
        .all(|(key, value)| labels.get(key) == Some(value));
    let expressions_match = expressions.iter().all(|expression| {
        let value = labels.get(&expression.key);
        let values = expression.values.as_deref().unwrap_or_default();
        match expression.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    labels_match && expressions_match
}

/// What the API server refuses in a pod spec at `at` (handlers, port names, probe ports).
pub fn pod(spec: &PodSpec, at: &str) -> Vec<Problem> {
    let mut problems = Vec::new();
    let init = spec.init_containers.iter().flatten().enumerate();
    let init = init.map(|(i, c)| (format!("{at}.initContainers[{i}]"), c));
    let main = spec.containers.iter().enumerate();
    let main = main.map(|(i, c)| (format!("{at}.containers[{i}]"), c));
    for (at, container) in init.chain(main) {
        problems.extend(self::container(container, &at));
    }
    problems
}

fn container(container: &Container, at: &str) -> Vec<Problem> {
    let mut problems = Vec::new();
    let port_names: Vec<&str> = container
        .ports
        .iter()
        .flatten()
        .filter_map(|p| p.name.as_deref())
        .collect();
    for (index, name) in container
        .ports
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, p)| Some((i, p.name.as_deref()?)))
    {
        if let Some(problem) = port_name_problem(name) {
            problems.push((format!("{at}.ports[{index}].name"), problem));
        }
    }
    let probes = [
        ("startupProbe", &container.startup_probe),
        ("readinessProbe", &container.readiness_probe),
        ("livenessProbe", &container.liveness_probe),
    ];
    for (field, probe) in probes {
        if let Some(probe) = probe {
            problems.extend(self::probe(probe, &format!("{at}.{field}"), &port_names));
        }
    }
    let lifecycle = container.lifecycle.as_ref();
    let hooks = [
        ("postStart", lifecycle.and_then(|l| l.post_start.as_ref())),
        ("preStop", lifecycle.and_then(|l| l.pre_stop.as_ref())),
    ];
    for (field, hook) in hooks {
        if let Some(hook) = hook {
            problems.extend(self::hook(hook, &format!("{at}.lifecycle.{field}")));
        }
    }
    problems
}

fn probe(probe: &Probe, at: &str, port_names: &[&str]) -> Vec<Problem> {
    let handlers = [
        ("exec", probe.exec.is_some()),
        ("httpGet", probe.http_get.is_some()),
        ("tcpSocket", probe.tcp_socket.is_some()),
        ("grpc", probe.grpc.is_some()),
    ];
    let mut problems: Vec<Problem> = one_handler(&handlers, at).into_iter().collect();
    let ports = [
        ("httpGet", probe.http_get.as_ref().map(|h| &h.port)),
        ("tcpSocket", probe.tcp_socket.as_ref().map(|t| &t.port)),
    ];
    for (field, port) in ports {
        if let Some(IntOrString::String(name)) = port
            && !port_names.contains(&name.as_str())
        {
            problems.push((
                format!("{at}.{field}.port"),
                format!(
                    "names the port \"{name}\", which the container does not have (it has: {})",
                    if port_names.is_empty() {
                        "none".to_owned()
                    } else {
                        port_names.join(", ")
                    }
                ),
            ));
        }
    }
    problems
}

fn hook(hook: &LifecycleHandler, at: &str) -> Option<Problem> {
    let handlers = [
        ("exec", hook.exec.is_some()),
        ("httpGet", hook.http_get.is_some()),
        ("tcpSocket", hook.tcp_socket.is_some()),
        ("sleep", hook.sleep.is_some()),
    ];
    one_handler(&handlers, at)
}

/// A probe or hook has exactly one handler.
fn one_handler(handlers: &[(&str, bool)], at: &str) -> Option<Problem> {
    let set: Vec<&str> = handlers.iter().filter(|h| h.1).map(|h| h.0).collect();
    let names: Vec<&str> = handlers.iter().map(|h| h.0).collect();
    match set.len() {
        1 => None,
        0 => Some((
            at.to_owned(),
            format!("has no handler; give it one of {}", names.join(", ")),
        )),
        _ => Some((
            at.to_owned(),
            format!(
                "has {} handlers ({}); Kubernetes allows exactly one",
                set.len(),
                set.join(", ")
            ),
        )),
    }
}

/// IANA_SVC_NAME, what container port names and named target ports must be: at most 15
/// characters, lowercase letters, digits and '-', at least one letter, no '-' at either end
/// or twice in a row.
fn port_name_problem(name: &str) -> Option<String> {
    let problem = if name.len() > 15 {
        format!("has {} characters; port names have at most 15", name.len())
    } else if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        || !name.chars().any(|c| c.is_ascii_lowercase())
        || name.starts_with('-')
        || name.ends_with('-')
        || name.contains("--")
    {
        "must be lowercase letters, digits and single '-' inside, with at least one letter"
            .to_owned()
    } else {
        return None;
    };
    Some(format!("\"{name}\" {problem}"))
}

/// A Service's ports: named when there are several, and named target ports valid.
pub fn service(spec: &ServiceSpec) -> Vec<Problem> {
    let mut problems = Vec::new();
    let ports = spec.ports.as_deref().unwrap_or_default();
    for (index, port) in ports.iter().enumerate() {
        let at = format!("spec.ports[{index}]");
        if ports.len() > 1 && port.name.as_deref().is_none_or(str::is_empty) {
            problems.push((
                format!("{at}.name"),
                "is required when a Service has more than one port".to_owned(),
            ));
        }
        if let Some(IntOrString::String(name)) = &port.target_port
            && let Some(problem) = port_name_problem(name)
        {
            problems.push((format!("{at}.targetPort"), problem));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::Deployment;
    use serde_json::json;

    fn problems(container: serde_json::Value, selector: serde_json::Value) -> Vec<Problem> {
        let deployment: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "a"},
            "spec": {
                "selector": selector,
                "template": {"metadata": {"labels": {"app": "a", "tier": "web"}},
                             "spec": {"containers": [container]}}
            }
        }))
        .unwrap();
        let spec = deployment.spec.unwrap();
        workload(Some(&spec.selector), &spec.template, "spec")
    }

    fn container(extra: serde_json::Value) -> serde_json::Value {
        let mut base =
            json!({"name": "a", "image": "a:1", "ports": [{"name": "http", "containerPort": 80}]});
        base.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        base
    }

    #[test]
    fn a_valid_workload_has_no_problem() {
        let probe = json!({"httpGet": {"path": "/", "port": "http"}});
        let extra =
            json!({"readinessProbe": probe, "lifecycle": {"preStop": {"sleep": {"seconds": 5}}}});
        assert_eq!(
            problems(container(extra), json!({"matchLabels": {"app": "a"}})),
            []
        );
        let expression = json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]});
        assert_eq!(problems(container(json!({})), expression), []);
    }

    #[test]
    fn a_probe_with_two_handlers_or_none_is_refused() {
        let two =
            json!({"livenessProbe": {"tcpSocket": {"port": 80}, "exec": {"command": ["true"]}}});
        assert_eq!(
            problems(container(two), json!({"matchLabels": {"app": "a"}})),
            [(
                "spec.template.spec.containers[0].livenessProbe".to_owned(),
                "has 2 handlers (exec, tcpSocket); Kubernetes allows exactly one".to_owned()
            )]
        );
        let none = json!({"lifecycle": {"preStop": {}}});
        let found = problems(container(none), json!({"matchLabels": {"app": "a"}}));
        assert_eq!(
            found[0].0,
            "spec.template.spec.containers[0].lifecycle.preStop"
        );
        assert!(found[0].1.starts_with("has no handler"), "{found:?}");
    }

    #[test]
    fn a_selector_that_misses_the_pod_labels_is_refused() {
        for selector in [
            json!({"matchLabels": {"app": "b"}}),
            json!({"matchLabels": {}}),
            json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["web"]}]}),
        ] {
            let found = problems(container(json!({})), selector.clone());
            assert_eq!(found.len(), 1, "{selector}: {found:?}");
            assert_eq!(found[0].0, "spec.selector");
        }
    }

    #[test]
    fn port_names_follow_iana_service_names() {
        let long = json!({"ports": [{"name": "metrics-endpoint", "containerPort": 9090}]});
        let found = problems(container(long), json!({"matchLabels": {"app": "a"}}));
        assert_eq!(
            found,
            [(
                "spec.template.spec.containers[0].ports[0].name".to_owned(),
                "\"metrics-endpoint\" has 16 characters; port names have at most 15".to_owned()
            )]
        );
        for bad in ["HTTP", "8080", "-web", "we--b"] {
            assert!(port_name_problem(bad).is_some(), "{bad}");
        }
        let dangling = json!({"ports": [{"name": "web", "containerPort": 80}],
                              "readinessProbe": {"tcpSocket": {"port": "http"}}});
        let found = problems(container(dangling), json!({"matchLabels": {"app": "a"}}));
        assert_eq!(
            found[0].1,
            "names the port \"http\", which the container does not have (it has: web)"
        );
    }
}
