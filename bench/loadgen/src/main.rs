//! `loadgen URL --duration-ms N --concurrency C [--warmup-ms W] [--header 'K: V']... [--cpu-pid P]`
//!
//! A closed-loop client: C threads, each with one keep-alive connection,
//! sends a request, reads the whole response, records the latency measured
//! with `Instant` (monotonic), and sends the next. Prints one JSON object.
//! With `--cpu-pid`, it also reads that process's CPU time (user + system,
//! all threads) when measuring starts and stops, so the server's CPU per
//! request covers exactly the requests counted.
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
    cpu_pid: Option<u32>,
}

/// CPU seconds a process has used, user and system, all threads
/// (`/proc/PID/stat` fields 14 and 15, in clock ticks).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count from its `)`.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc_sysconf_clk_tck() };
    Some(ticks as f64 / per_second as f64)
}

extern "C" {
    fn sysconf(name: i32) -> i64;
}

/// `sysconf(_SC_CLK_TCK)`; `_SC_CLK_TCK` is 2 on Linux.
unsafe fn libc_sysconf_clk_tck() -> i64 {
    match sysconf(2) {
        n if n > 0 => n,
        _ => 100,
    }
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
        cpu_pid: None,
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
            "--cpu-pid" => parsed.cpu_pid = Some(value.parse().map_err(|_| "bad --cpu-pid")?),
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
    let cpu = args.cpu_pid.map(|pid| {
        std::thread::sleep(measure_from.saturating_duration_since(Instant::now()));
        let before = cpu_seconds(pid);
        std::thread::sleep(stop_at.saturating_duration_since(Instant::now()));
        before.zip(cpu_seconds(pid)).map(|(a, b)| b - a)
    });
    let mut all = stats::Samples::default();
    for t in threads {
        all.merge(t.join().expect("load thread panicked"));
    }
    println!(
        "{}",
        all.summary(args.duration, args.concurrency, cpu.flatten())
    );
}
