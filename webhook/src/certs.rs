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

/// How long the serving certificate is valid: two years from when it is generated.
pub const SERVING_LIFETIME: time::Duration = time::Duration::days(730);
/// How long the CA is valid: ten years from when it is generated.
pub const CA_LIFETIME: time::Duration = time::Duration::days(3650);
/// Certificates start an hour in the past, so a cluster whose clock lags this machine's a
/// little does not see them as not yet valid.
const CLOCK_SKEW: time::Duration = time::Duration::hours(1);

/// A CA valid for [`CA_LIFETIME`] and a serving certificate for `names` (DNS names or IP
/// addresses) valid for [`SERVING_LIFETIME`], both from now.
pub fn generate(names: &[String]) -> Result<Bundle, rcgen::Error> {
    let now = time::OffsetDateTime::now_utc();
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "kiln-webhook CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.not_before = now - CLOCK_SKEW;
    ca_params.not_after = now + CA_LIFETIME;
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(names.to_vec())?;
    params.distinguished_name.push(
        DnType::CommonName,
        names.first().map_or("kiln-webhook", String::as_str),
    );
    params.not_before = now - CLOCK_SKEW;
    params.not_after = now + SERVING_LIFETIME;
    let cert = params.signed_by(&key, &ca)?;
    Ok(Bundle {
        ca_cert: ca.pem(),
        ca_key: ca.key().serialize_pem(),
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seconds from now until a PEM certificate's notAfter.
    fn seconds_left(pem: &str) -> i64 {
        let der = rustls_pki_types::pem::PemObject::from_pem_slice(pem.as_bytes())
            .map(|c: rustls_pki_types::CertificateDer<'static>| c)
            .unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        cert.validity().not_after.timestamp() - time::OffsetDateTime::now_utc().unix_timestamp()
    }

    #[test]
    fn lifetimes_are_counted_from_now_not_from_new_year() {
        let bundle = generate(&["localhost".to_owned()]).unwrap();
        let day = 86_400;
        let serving = seconds_left(&bundle.cert);
        assert!(
            (729 * day..=730 * day).contains(&serving),
            "serving certificate: {} days left",
            serving / day
        );
        let ca = seconds_left(&bundle.ca_cert);
        assert!(
            (3649 * day..=3650 * day).contains(&ca),
            "CA: {} days left",
            ca / day
        );
    }
}
