//! The floor of the end-to-end bench: copies N bytes from one socket to
//! another with plain reads and writes, in its own process.
//!
//! ```text
//! e2e-relay --from HOST:PORT --to HOST:PORT --bytes N
//! ```

use std::process::ExitCode;

use benches::e2e::parse_args;
use benches::e2e::relay::relay;

fn main() -> ExitCode {
    let args = parse_args(std::env::args().skip(1));
    let total = args.get("bytes").and_then(|v| v.parse::<u64>().ok());
    let (Some(from), Some(to), Some(total)) = (args.get("from"), args.get("to"), total) else {
        eprintln!("usage: e2e-relay --from HOST:PORT --to HOST:PORT --bytes N");
        return ExitCode::from(2);
    };
    match relay(from, to, total) {
        Ok(n) if n == total => ExitCode::SUCCESS,
        Ok(n) => {
            eprintln!("e2e-relay: input ended after {n} of {total} bytes");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("e2e-relay: {e}");
            ExitCode::FAILURE
        }
    }
}
