//! A CA of the sandbox's own and a server certificate for 127.0.0.1 and
//! localhost signed by it, so clients verify TLS as against a real cluster.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// The CA (PEM, for kubeconfigs) and the server's TLS configuration.
pub struct Tls {
    pub ca_pem: String,
    pub server_config: Arc<rustls::ServerConfig>,
    material: Option<Material>,
}

pub fn generate() -> Result<Tls> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "kube-sandbox-ca");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::CrlSign,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)
        .context("generating the sandbox CA")?;

    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec![
        "localhost".to_string(),
        "kubernetes.default.svc".to_string(),
    ])?;
    params
        .subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    params
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params
        .signed_by(&key, &ca)
        .context("signing the sandbox server certificate")?;

    build(Material {
        ca_pem: ca.pem(),
        ca_der: ca.der().to_vec(),
        cert_der: cert.der().to_vec(),
        key_der: key.serialize_der(),
    })
}

/// What a sandbox's TLS is made of, as kept in a `--tls-dir`.
struct Material {
    ca_pem: String,
    ca_der: Vec<u8>,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
}

const FILES: [&str; 4] = ["ca.pem", "ca.der", "server.der", "server-key.der"];

/// The CA and serving certificate kept in `dir`, or new ones written there
/// (the key mode 0600): a sandbox restarted with the same directory (and port)
/// is trusted by the kubeconfigs written for the one before.
pub fn load_or_generate(dir: &std::path::Path) -> Result<Tls> {
    let path = |f: &str| dir.join(f);
    if FILES.iter().all(|f| path(f).exists()) {
        let read = |f: &str| {
            std::fs::read(path(f)).with_context(|| format!("reading {}", path(f).display()))
        };
        return build(Material {
            ca_pem: String::from_utf8(read("ca.pem")?).context("ca.pem is not text")?,
            ca_der: read("ca.der")?,
            cert_der: read("server.der")?,
            key_der: read("server-key.der")?,
        });
    }
    let tls = generate()?;
    let m = tls.material.as_ref().expect("generated material is kept");
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (f, bytes) in FILES.iter().zip([
        m.ca_pem.as_bytes(),
        &m.ca_der[..],
        &m.cert_der[..],
        &m.key_der[..],
    ]) {
        crate::kubeconfig::write_bytes(&path(f), bytes)?;
    }
    Ok(tls)
}

fn build(m: Material) -> Result<Tls> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![m.cert_der.clone().into(), m.ca_der.clone().into()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(m.key_der.clone())),
        )
        .context("building the TLS configuration")?;
    // kubectl speaks HTTP/2 when offered, as against a real API server.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Tls {
        ca_pem: m.ca_pem.clone(),
        server_config: Arc::new(config),
        material: Some(m),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tls_dir_keeps_the_ca_across_restarts() {
        let dir = std::env::temp_dir().join(format!("sandbox-tls-{}", std::process::id()));
        let first = load_or_generate(&dir).unwrap();
        let again = load_or_generate(&dir).unwrap();
        assert_eq!(first.ca_pem, again.ca_pem);
        assert_ne!(generate().unwrap().ca_pem, first.ca_pem);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("server-key.der"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
