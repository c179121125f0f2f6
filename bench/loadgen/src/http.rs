//! Just enough HTTP/1.1 for a keep-alive GET loop: Content-Length and
//! chunked bodies, reconnect on close.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use crate::stats::Samples;

pub fn request_bytes(host: &str, port: u16, path: &str, headers: &[String]) -> Vec<u8> {
    let mut req =
        format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: keep-alive\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    req.into_bytes()
}

/// Reads one response; returns its status.
fn read_response(reader: &mut BufReader<TcpStream>) -> std::io::Result<u16> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let name = name.trim().to_ascii_lowercase();
            if name == "content-length" {
                length = value.trim().parse().unwrap_or(0);
            } else if name == "transfer-encoding" && value.to_ascii_lowercase().contains("chunked")
            {
                chunked = true;
            }
        }
    }
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
        }
    } else {
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
    }
    Ok(status)
}

fn connect(host: &str, port: u16) -> std::io::Result<BufReader<TcpStream>> {
    let stream = TcpStream::connect((host, port))?;
    stream.set_nodelay(true)?;
    Ok(BufReader::new(stream))
}

pub fn run_connection(
    host: &str,
    port: u16,
    request: &[u8],
    measure_from: Instant,
    stop_at: Instant,
) -> Samples {
    let mut samples = Samples::default();
    let mut conn = None;
    while Instant::now() < stop_at {
        let reader = match conn.as_mut() {
            Some(r) => r,
            None => match connect(host, port) {
                Ok(r) => conn.insert(r),
                Err(_) => {
                    samples.error(Instant::now() >= measure_from);
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    continue;
                }
            },
        };
        let sent = Instant::now();
        let result = reader
            .get_mut()
            .write_all(request)
            .and_then(|_| read_response(reader));
        let took = sent.elapsed();
        let counted = sent >= measure_from && Instant::now() <= stop_at;
        match result {
            Ok(status) if (200..400).contains(&status) => {
                if counted {
                    samples.ok(took);
                }
            }
            Ok(_) => samples.error(counted),
            Err(_) => {
                samples.error(counted);
                conn = None;
            }
        }
    }
    samples
}
