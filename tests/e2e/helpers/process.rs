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
    /// The `--admin-listen` address, when one was asked for.
    pub admin_address: Option<SocketAddr>,
    logs: Arc<Mutex<Vec<Value>>>,
}

impl ServeProcess {
    /// Starts `qrscan serve --listen 127.0.0.1:0 --log-format json` with `args` and waits until
    /// it listens.
    pub fn start(args: &[&str]) -> ServeProcess {
        let mut process = ServeProcess::spawn(args);
        process.wait_listening();
        process
    }

    /// Starts `qrscan serve` as `start` does, without waiting: `address` is not known until
    /// `wait_listening`.
    pub fn spawn(args: &[&str]) -> ServeProcess {
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
        ServeProcess {
            child,
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin_address: None,
            logs,
        }
    }

    /// Waits until the process runs a second thread (its async runtime's): the first sign, seen
    /// from outside, that it runs its own code, `main` and more, not the kernel's `exec` or the
    /// dynamic loader, before which no program can do anything about a signal. Returns early if
    /// the process ends.
    pub fn wait_until_threaded(&mut self) {
        let tasks = format!("/proc/{}/task", self.child.id());
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline && self.child.try_wait().expect("try_wait").is_none() {
            if std::fs::read_dir(&tasks).map_or(0, Iterator::count) > 1 {
                return;
            }
            std::thread::sleep(Duration::from_micros(50));
        }
    }

    /// Waits until the process listens, and reads its addresses from its log.
    pub fn wait_listening(&mut self) {
        let listening = self.wait_for_log(|l| l["message"] == "qrscan listening");
        self.address = logged_address(&listening);
        // Logged before the main listener's line, when there is one.
        self.admin_address = self
            .logs()
            .iter()
            .find(|l| l["message"] == "qrscan admin listening")
            .map(logged_address);
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

/// The address a "... listening" log line names.
fn logged_address(line: &Value) -> SocketAddr {
    line["address"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .expect("the listening line names the address")
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
