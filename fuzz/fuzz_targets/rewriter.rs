//! Rewrite rules through the real config loader and routing table: any rule that validates
//! compiles, and resolving any path with it never panics; a routed target starts with `/`.
#![no_main]

use fcgate::routing::{Decision, RouteTable};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let kind = ["equal", "wildcard", "regex"][data[0] as usize % 3];
    let rest = String::from_utf8_lossy(&data[1..]);
    let mut parts = rest.splitn(3, '\u{0}');
    let (Some(pattern), Some(replacement), Some(path)) = (parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let toml = format!(
        r#"
[[function]]
account = "1"
service = "s"
name = "f"
upstreams = ["builtin:echo"]
[[domain]]
name = "example.com"
account = "1"
[[domain.route]]
path = "/*"
service = "s"
function = "f"
[[domain.route.rewrite]]
kind = "{kind}"
match = {}
replacement = {}
"#,
        q(pattern),
        q(replacement)
    );
    let Ok(config) = fcgate::config::parse_with(&toml, std::path::Path::new("fuzz.toml"), fcgate::config::offline_resolver) else {
        return;
    };
    let table = RouteTable::compile(&config).expect("a validated config compiles");
    let mut target = Vec::from(&b"/"[..]);
    target.extend_from_slice(path.as_bytes());
    let headers: [(&str, &[u8]); 0] = [];
    if let Decision::Routed(r) = table.resolve(b"GET", Some(b"example.com"), &target, &headers[..]) {
        assert!(r.target.starts_with(b"/"), "{:?}", String::from_utf8_lossy(&r.target));
    }
});
