//! The station's own TLS: served over HTTPS with a certificate (the test pair in `tests/tls/`,
//! signed by a throwaway test authority),
//! a client that trusts it gets the login page and a `Secure` session cookie, plain HTTP to
//! the same port gets no answer, a non-loopback address is allowed with TLS and refused
//! without it (and without `--trust-lan`), and a key that does not fit is refused at start.

use formscan::domain::Date;
use formscan_campaign::accounts::{self, Role};
use formscan_campaign::store::SqliteStore;
use formscan_station::tls::TlsFiles;
use formscan_station::{start, StationOptions};
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
mod common;

fn files() -> TlsFiles {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls");
    TlsFiles { cert: dir.join("cert.pem"), key: dir.join("key.pem") }
}

/// A client that trusts the test certificate authority only.
fn client() -> tokio_rustls::TlsConnector {
    let mut roots = RootCertStore::empty();
    let ca = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls/ca.pem");
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    #[allow(deprecated)] // the station's own provider (src/tls.rs)
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    // As a browser does: it offers HTTP/2 and HTTP/1.1; the station takes HTTP/1.1.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_station_speaks_tls_with_its_own_certificate() {
    let dir = std::env::temp_dir().join(format!("formscan-station-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("campaign.db");
    let mut store = SqliteStore::open(&db, Some(Date::new(2026, 9, 1))).unwrap();
    accounts::add_user(&mut store, "keyer1", Role::Keyer, "keyer password 1").unwrap();
    drop(store);

    // Any address: with TLS the station may listen beyond loopback.
    let mut opts = StationOptions::new(db.clone());
    opts.listen = "0.0.0.0:0".parse().unwrap();
    assert!(start(opts.clone()).await.is_err(), "plain HTTP beyond loopback needs --trust-lan");
    opts.tls = Some(files());
    let (addr, _task) = start(opts.clone()).await.unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], addr.port()));

    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = client().connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let page = common::request_on(tls, "localhost", "GET", "/login", &[], "").await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("登录"));

    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = client().connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
    let form = ("Content-Type", "application/x-www-form-urlencoded");
    let r =
        common::request_on(tls, "localhost", "POST", "/login", &[form], "name=keyer1&password=keyer+password+1").await;
    assert_eq!(r.status, 303);
    let cookie = r.header("set-cookie").unwrap();
    assert!(cookie.contains("; Secure") && cookie.contains("HttpOnly"), "{cookie}");

    // Plain HTTP to the TLS port: the handshake fails and the connection closes unanswered.
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    plain.write_all(b"GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut got = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(15), plain.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "the connection was not closed");
    assert!(!String::from_utf8_lossy(&got).contains("登录"), "plain HTTP answered");

    // A key that does not fit the certificate (the certificate file given as the key) is
    // refused before anything binds.
    let mut bad = opts.clone();
    bad.tls = Some(TlsFiles { cert: files().cert, key: files().cert });
    let e = start(bad).await.unwrap_err().to_string();
    assert!(e.contains("TLS"), "{e}");
    let _ = std::fs::remove_dir_all(dir);
}
