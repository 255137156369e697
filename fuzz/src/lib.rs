//! The properties each fuzz target checks, one function per target. A function panics when a
//! property fails; libFuzzer reports that panic as a crash. The same functions run over the
//! seeds and every kept crash in the stable test suite (`webhook/tests/fuzz_corpus.rs`), which
//! includes this file by path, so a fixed crash stays fixed.

use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use kiln::Kiln;
use kiln::output::yaml::to_yaml;
use kiln::quantity::Quantity;
use kiln::spec::load::InputFile;
use serde_json::Value;

/// The built-in charts, compiled once per process.
fn kiln() -> &'static Kiln {
    static KILN: OnceLock<Kiln> = OnceLock::new();
    KILN.get_or_init(|| Kiln::load(&[], &[]).expect("the built-in charts compile"))
}

/// Bytes in as a spec file: findings or objects out, never a panic. Every finding about the
/// file names it, and objects of a clean run write as YAML.
pub fn spec_loader(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = InputFile {
        name: Arc::from("fuzz.yaml"),
        text: Arc::from(text),
    };
    let report = kiln().run_files(&[file]);
    for finding in &report.findings {
        if let Some(location) = &finding.location {
            assert_eq!(&*location.file, "fuzz.yaml", "{finding:?}");
            assert!(location.line >= 1 && location.column >= 1, "{finding:?}");
        }
    }
    if !report.has_errors() {
        let _ = kiln::output::to_yaml_stream(&report.objects);
    }
}

/// Bytes in as an AdmissionReview body, on both endpoints: never a 500 (nor a panic), and a
/// 200 is an AdmissionReview answering the request's uid. The fast decode, wherever it reads
/// a body, reads exactly what the checked decode reads.
pub fn admission_review(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Some(fast) = kiln_webhook::decode::fast(text)
    {
        let checked = kiln_webhook::decode::checked(text).unwrap_or_else(|error| {
            panic!("the fast decode read a body the checked one refuses: {error}")
        });
        assert_eq!(decoded(&fast), decoded(&checked), "{text}");
    }
    static STATE: OnceLock<kiln_webhook::AppState> = OnceLock::new();
    let state = STATE.get_or_init(|| kiln_webhook::AppState {
        kiln: Kiln::load(&[], &[]).expect("the built-in charts compile"),
        metrics: Default::default(),
        ready: true.into(),
        request_timeout: Duration::from_secs(4),
    });
    for endpoint in [
        kiln_webhook::admit::Endpoint::Validate,
        kiln_webhook::admit::Endpoint::Mutate,
    ] {
        let answer = kiln_webhook::review(state, data, endpoint);
        let (status, body) = (
            answer.status.as_u16(),
            String::from_utf8_lossy(&answer.body),
        );
        assert!(
            status == 200 || (400..500).contains(&status),
            "{endpoint:?} answered {status}: {body}"
        );
        if status == 200 {
            let answer: Value = serde_json::from_str(&body).expect("a 200 is JSON");
            assert_eq!(answer["kind"], "AdmissionReview", "{body}");
            let asked: Value = serde_json::from_slice(data).expect("a 200 answers JSON");
            assert_eq!(answer["response"]["uid"], asked["request"]["uid"], "{body}");
        }
    }
}

/// A decoded review, comparable.
fn decoded(
    admission: &kiln_webhook::decode::Admission,
) -> (Value, Option<Option<Value>>, Option<Value>) {
    (
        serde_json::to_value(&admission.request).expect("a decoded request writes as JSON"),
        admission
            .object
            .as_ref()
            .map(|object| object.as_ref().ok().cloned()),
        admission.old_object.clone(),
    )
}

/// Kubernetes quantities: parsing never panics, and the CPU and memory spellings kiln writes
/// read back as at least the quantity and less than one unit of their rounding above it.
pub fn quantity(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(quantity) = Quantity::from_str(text) else {
        return;
    };
    if quantity.is_negative() {
        return;
    }
    let milli = Quantity::from_str("1m").unwrap();
    let byte = Quantity::from_str("1").unwrap();
    for (written, unit) in [
        (quantity.format_cpu(), milli),
        (quantity.format_bytes(), byte),
    ] {
        let back = Quantity::from_str(&written).unwrap_or_else(|_| {
            panic!("{text:?} was written as {written:?}, which does not parse")
        });
        assert!(
            back >= quantity,
            "{text:?} was written as {written:?}, which is less"
        );
        if let Some(ceiling) = quantity.checked_add(unit) {
            assert!(
                back < ceiling,
                "{text:?} was written as {written:?}, a unit or more above"
            );
        }
    }
}

/// OCI image references: parsing never panics, and an accepted reference is exactly its parts.
pub fn image_reference(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(reference) = kiln::formats::image::parse_image_reference(text) else {
        return;
    };
    let mut joined = reference.repository.to_owned();
    if let Some(tag) = reference.tag {
        joined = format!("{joined}:{tag}");
    }
    if let Some(digest) = reference.digest {
        joined = format!("{joined}@{digest}");
    }
    assert_eq!(joined, text, "{reference:?}");
    assert!(!reference.repository.is_empty(), "{text:?}");
}

/// kiln's YAML writer: every value it writes reads back as itself, with a YAML 1.2 reader
/// (serde_yaml_ng) and with kiln's own read-back of rendered text. The bytes are tried as a
/// string value, as a key, and as JSON when they are JSON, each inside a mapping, as the
/// writer is used for Kubernetes objects.
pub fn yaml_writer(data: &[u8]) {
    let text = String::from_utf8_lossy(data).into_owned();
    let mut values = vec![serde_json::json!({
        "value": text.clone(),
        text.clone(): [text.clone(), {"key": text.clone()}],
    })];
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        values.push(serde_json::json!({ "value": value }));
    }
    for value in values {
        let written = to_yaml(&value);
        let read: Value = serde_yaml_ng::from_str(&written)
            .unwrap_or_else(|error| panic!("{value:?} was written as {written:?}: {error}"));
        assert!(
            same(&read, &value),
            "{value:?} was written as {written:?}, read as {read:?}"
        );
        let documents = kiln::render::fast_yaml::parse_documents(&written);
        if let Some(documents) = documents {
            assert!(
                documents.len() == 1 && same(&documents[0], &value),
                "{value:?} was written as {written:?}, read back by kiln as {documents:?}"
            );
        }
    }
}

/// Equal as data: numbers compare by value (1.0 and 1 are the same number in YAML).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || (x.as_f64().is_some() && x.as_f64() == y.as_f64())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}
