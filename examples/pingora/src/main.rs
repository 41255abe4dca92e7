//! The pingora gateway in front of the demo's failing upstreams, on loopback.
//!
//! ```sh
//! cargo run                      # serves on 127.0.0.1:6188
//! cargo run -- 127.0.0.1:8080
//! curl -i http://127.0.0.1:6188/upstream/hang
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;

use gateway_demo::gateway::policy;
use gateway_demo::upstreams::{Scenario, Upstreams};
use pingora_gateway::proxy::{Gateway, server};

fn main() -> ExitCode {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:6188".to_owned());
    match listen.parse::<SocketAddr>() {
        Ok(addr) if addr.ip().is_loopback() => {}
        _ => {
            eprintln!(
                "pingora-gateway: {listen} is not a loopback address; use 127.0.0.1:PORT or [::1]:PORT"
            );
            return ExitCode::FAILURE;
        }
    }
    // The upstreams run on a runtime of their own; pingora runs its own.
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pingora-gateway: {e}");
            return ExitCode::FAILURE;
        }
    };
    let upstreams = match runtime.block_on(Upstreams::start()) {
        Ok(upstreams) => upstreams,
        Err(e) => {
            eprintln!("pingora-gateway: the upstreams could not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let routes: HashMap<String, SocketAddr> = Scenario::ALL
        .into_iter()
        .map(|scenario| {
            (
                format!("/upstream/{}", scenario.name()),
                upstreams.addr(scenario),
            )
        })
        .collect();
    println!("pingora-gateway serving on http://{listen} (Ctrl-C to stop)");
    for scenario in Scenario::ALL {
        println!("  curl -i http://{listen}/upstream/{}", scenario.name());
    }
    server(&listen, Gateway::new(routes, policy())).run_forever()
}
