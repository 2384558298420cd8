//! `qrscan serve` as a real process, for what only a process has: signals (SIGTERM's drain,
//! SIGHUP's key reload), its exit, and its log lines. It listens on 127.0.0.1:0 and logs JSON
//! lines; the address comes from its "qrscan listening" line.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running `qrscan serve`; killed when dropped.
pub struct ServeProcess {
    child: Child,
    pub address: SocketAddr,
    logs: Arc<Mutex<Vec<Value>>>,
}

impl ServeProcess {
    /// Starts `qrscan serve --listen 127.0.0.1:0 --log-format json` with `args` and waits until
    /// it listens.
    pub fn start(args: &[&str]) -> ServeProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_qrscan"))
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("qrscan starts");
        let stderr = child.stderr.take().expect("stderr");
        let logs: Arc<Mutex<Vec<Value>>> = Arc::default();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line).unwrap_or(Value::String(line));
                sink.lock().expect("lock").push(value);
            }
        });
        let mut process = ServeProcess {
            child,
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            logs,
        };
        let listening = process.wait_for_log(|l| l["message"] == "qrscan listening");
        process.address = listening["address"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .expect("the listening line names the address");
        process
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the process.
    pub fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // SAFETY: kill(2) on our own child's pid has no memory effects.
        let sent = unsafe { libc::kill(pid, signal) };
        assert_eq!(sent, 0, "kill({pid}, {signal})");
    }

    /// The first log line `matches` accepts, waiting up to 30 s for it.
    pub fn wait_for_log(&self, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(line) = self.logs.lock().expect("lock").iter().find(|l| matches(l)) {
                return line.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no such log line: {:?}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Every log line so far.
    pub fn logs(&self) -> Vec<Value> {
        self.logs.lock().expect("lock").clone()
    }

    /// Waits for the process to exit, for at most `limit`; `None` if it is still running.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
