//! `loadgen URL --duration-ms N --concurrency C [--warmup-ms W] [--header 'K: V']...`
//!
//! A closed-loop client: C threads, each with one keep-alive connection,
//! sends a request, reads the whole response, records the latency measured
//! with `Instant` (monotonic), and sends the next. Prints one JSON object.
//! Written because wrk's latency figures are wrong on these machines and
//! autocannon reports whole milliseconds only.

mod http;
mod stats;

use std::time::{Duration, Instant};

struct Args {
    host: String,
    port: u16,
    path: String,
    duration: Duration,
    warmup: Duration,
    concurrency: usize,
    headers: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("usage: loadgen URL [options]")?;
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (authority, path) = rest
        .split_once('/')
        .map(|(a, p)| (a, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let (host, port) = authority.split_once(':').ok_or("URL needs host:port")?;
    let mut parsed = Args {
        host: host.to_owned(),
        port: port.parse().map_err(|_| "bad port")?,
        path,
        duration: Duration::from_secs(5),
        warmup: Duration::from_millis(500),
        concurrency: 2,
        headers: Vec::new(),
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let ms = || {
            value
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| format!("bad {flag}"))
        };
        match flag.as_str() {
            "--duration-ms" => parsed.duration = ms()?,
            "--warmup-ms" => parsed.warmup = ms()?,
            "--concurrency" => {
                parsed.concurrency = value.parse().map_err(|_| "bad --concurrency")?
            }
            "--header" => parsed.headers.push(value),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(parsed)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let request = http::request_bytes(&args.host, args.port, &args.path, &args.headers);
    let start = Instant::now();
    let measure_from = start + args.warmup;
    let stop_at = measure_from + args.duration;
    let threads: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (host, port, request) = (args.host.clone(), args.port, request.clone());
            std::thread::spawn(move || {
                http::run_connection(&host, port, &request, measure_from, stop_at)
            })
        })
        .collect();
    let mut all = stats::Samples::default();
    for t in threads {
        all.merge(t.join().expect("load thread panicked"));
    }
    println!("{}", all.summary(args.duration, args.concurrency));
}
