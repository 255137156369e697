//! Development and cert-manager-free certificates: a private CA and a serving certificate for
//! the webhook Service's DNS names, generated with rcgen. The CA's PEM, base64-encoded, is the
//! `caBundle` of the webhook configurations.

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

/// PEM files of a fresh CA and a serving certificate signed by it.
pub struct Bundle {
    pub ca_cert: String,
    pub ca_key: String,
    pub cert: String,
    pub key: String,
}

impl Bundle {
    /// The `caBundle` field of a webhook configuration: the CA certificate's PEM in base64.
    pub fn ca_bundle(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.ca_cert)
    }
}

/// The names the API server uses to reach a Service: `svc`, `svc.ns`, `svc.ns.svc`, and the
/// cluster-local name.
pub fn service_dns_names(service: &str, namespace: &str) -> Vec<String> {
    vec![
        service.to_owned(),
        format!("{service}.{namespace}"),
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
    ]
}

/// The current calendar year, near enough for certificate lifetimes.
fn this_year() -> i32 {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    1970 + (seconds / 31_556_952) as i32
}

/// A CA valid until January of ten years from now and a serving certificate for `names`
/// (DNS names or IP addresses) valid until January of two years from now.
pub fn generate(names: &[String]) -> Result<Bundle, rcgen::Error> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "kiln-webhook CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.not_after = rcgen::date_time_ymd(this_year() + 10, 1, 1);
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(names.to_vec())?;
    params.distinguished_name.push(
        DnType::CommonName,
        names.first().map_or("kiln-webhook", String::as_str),
    );
    params.not_after = rcgen::date_time_ymd(this_year() + 2, 1, 1);
    let cert = params.signed_by(&key, &ca)?;
    Ok(Bundle {
        ca_cert: ca.pem(),
        ca_key: ca.key().serialize_pem(),
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}
