//! The client against a small in-process HTTP server that plays the parts a basic-auth local
//! registry cannot: a token service, throttling, a failing server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::registry::manifest::OCI_MANIFEST;

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    authorization: Option<String>,
    body: Vec<u8>,
}

/// What the server answers: status, headers, body.
type Answer = (u16, Vec<(&'static str, String)>, Vec<u8>);

struct Server {
    registry: Registry,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// Serves each connection once, answering with `handler`; `Connection: close` keeps the framing
/// trivial.
async fn serve(handler: impl Fn(&Seen, &str) -> Answer + Send + Sync + 'static) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler = Arc::new(handler);
    let log = seen.clone();
    let base = format!("http://{origin}");
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let (handler, log, base) = (handler.clone(), log.clone(), base.clone());
            tokio::spawn(async move {
                let request = read_request(&mut socket).await;
                log.lock().unwrap().push(request.clone());
                let (status, headers, body) = handler(&request, &base);
                let mut head = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
                head.push_str(&format!("Content-Length: {}\r\n", body.len()));
                for (name, value) in headers {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                head.push_str("\r\n");
                let _ = socket.write_all(head.as_bytes()).await;
                if request.method != "HEAD" {
                    let _ = socket.write_all(&body).await;
                }
                let _ = socket.shutdown().await;
            });
        }
    });
    Server {
        registry: Registry::parse(&origin).unwrap(),
        seen,
    }
}

async fn read_request(socket: &mut tokio::net::TcpStream) -> Seen {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = socket.read(&mut chunk).await.unwrap();
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        assert!(n > 0, "connection closed mid-request");
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.lines();
    let mut first = lines.next().unwrap().split(' ');
    let (method, path) = (first.next().unwrap(), first.next().unwrap());
    let header = |name: &str| {
        head.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
    };
    let length: usize = header("content-length").map_or(0, |v| v.parse().unwrap());
    while buf.len() < head_end + length {
        let n = socket.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed mid-body");
        buf.extend_from_slice(&chunk[..n]);
    }
    Seen {
        method: method.to_owned(),
        path: path.to_owned(),
        authorization: header("authorization"),
        body: buf[head_end..head_end + length].to_vec(),
    }
}

fn client(server: &Server) -> HttpManifests {
    let login = RegistryLogin {
        registry: server.registry.clone(),
        username: "AWS".into(),
        password: "secret-password".into(),
    };
    HttpManifests::new(login, "team/app".parse().unwrap())
        .unwrap()
        .with_backoff(Backoff {
            attempts: 3,
            first: Duration::from_millis(1),
            cap: Duration::from_millis(5),
        })
}

const BODY: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000"}}"#;

#[tokio::test]
async fn a_bearer_challenge_is_answered_with_a_token_from_the_realm() {
    let server = serve(|seen, base| {
        if seen.path.starts_with("/token") {
            assert!(
                seen.path
                    .contains("scope=repository%3Ateam%2Fapp%3Apull%2Cpush")
            );
            assert!(seen.path.contains("service=registry.test"));
            return (200, vec![], br#"{"access_token":"tok-1"}"#.to_vec());
        }
        if seen.authorization.as_deref() == Some("Bearer tok-1") {
            let headers = vec![("Content-Type", OCI_MANIFEST.to_owned())];
            return (200, headers, BODY.to_vec());
        }
        let challenge = format!(r#"Bearer realm="{base}/token",service="registry.test""#);
        (401, vec![("WWW-Authenticate", challenge)], vec![])
    })
    .await;
    let manifests = client(&server);
    let digest = Digest::of(BODY);
    let manifest = manifests.get(&digest).await.unwrap();
    assert_eq!(
        (manifest.bytes.as_ref(), manifest.media_type.as_str()),
        (BODY, OCI_MANIFEST)
    );
    manifests.get(&digest).await.unwrap();
    let seen = server.seen.lock().unwrap().clone();
    let token_fetches = seen.iter().filter(|s| s.path.starts_with("/token")).count();
    assert_eq!(
        token_fetches, 1,
        "the token is kept for the next request: {seen:#?}"
    );
    let token_auth = seen[1].authorization.as_deref().unwrap();
    assert!(token_auth.starts_with("Basic "), "the realm gets the login");
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried() {
    let calls = Arc::new(Mutex::new(0));
    let counter = calls.clone();
    let server = serve(move |_, _| {
        let mut n = counter.lock().unwrap();
        *n += 1;
        match *n {
            1 => (429, vec![], vec![]),
            2 => (503, vec![], vec![]),
            _ => (201, vec![], vec![]),
        }
    })
    .await;
    let manifest = Manifest::new(BODY, OCI_MANIFEST);
    let tag: ImageTag = "1.2".parse().unwrap();
    let digest = client(&server).put(&tag, &manifest).await.unwrap();
    assert_eq!(digest, manifest.digest);
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    let put = &seen[2];
    assert_eq!(
        (put.method.as_str(), put.path.as_str()),
        ("PUT", "/v2/team/app/manifests/1.2")
    );
    assert_eq!(put.body, BODY, "the exact bytes are stored");
}

#[tokio::test]
async fn a_server_that_keeps_failing_is_an_infrastructure_error() {
    let server = serve(|_, _| (502, vec![], vec![])).await;
    let tag: ImageTag = "latest".parse().unwrap();
    let err = client(&server).tag_digest(&tag).await.unwrap_err();
    assert_eq!(err.kind(), Kind::Infrastructure);
    assert!(err.message().contains("502"), "{err:?}");
    assert_eq!(server.seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn refused_logins_and_missing_tags_are_not_retried() {
    let server = serve(|seen, _| match seen.path.as_str() {
        "/v2/team/app/manifests/gone" => (404, vec![], vec![]),
        _ => (
            401,
            vec![("WWW-Authenticate", "Basic realm=x".to_owned())],
            vec![],
        ),
    })
    .await;
    let manifests = client(&server);
    let gone: ImageTag = "gone".parse().unwrap();
    assert_eq!(manifests.tag_digest(&gone).await.unwrap(), None);
    let err = manifests
        .tag_digest(&"1.0".parse().unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Input);
    assert!(
        err.message().contains("refused the login of user AWS"),
        "{err:?}"
    );
    assert!(!format!("{err:?}").contains("secret-password"));
    assert_eq!(server.seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_manifest_that_does_not_match_its_digest_is_refused() {
    let server = serve(|_, _| {
        (
            200,
            vec![("Content-Type", OCI_MANIFEST.to_owned())],
            BODY.to_vec(),
        )
    })
    .await;
    let other = Digest::of(b"something else");
    let err = client(&server).get(&other).await.unwrap_err();
    assert!(err.message().contains("whose digest is"), "{err:?}");
}

#[tokio::test]
async fn registry_errors_are_reported_in_the_registry_words() {
    let body = br#"{"errors":[{"code":"TAG_INVALID","message":"tag is immutable"}]}"#;
    let server = serve(move |_, _| (400, vec![], body.to_vec())).await;
    let manifest = Manifest::new(BODY, OCI_MANIFEST);
    let err = client(&server)
        .put(&"1.2".parse().unwrap(), &manifest)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Input);
    assert!(
        err.message()
            .ends_with("400 Bad Request: TAG_INVALID: tag is immutable"),
        "{err:?}"
    );
}
