//! Process figures from /proc: resident memory, per-thread CPU time; and
//! percentiles.

use std::fs;

/// This process's resident set size in KiB (`VmRSS` in /proc/self/status).
pub(crate) fn rss_kib() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The calling thread's id (from the /proc/thread-self link).
pub(crate) fn current_tid() -> Option<u64> {
    let link = fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// CPU time of one thread in nanoseconds, from `se.sum_exec_runtime`
/// (milliseconds with six decimals) in /proc/self/task/TID/sched.
fn thread_cpu_ns(tid: u64) -> Option<u64> {
    let sched = fs::read_to_string(format!("/proc/self/task/{tid}/sched")).ok()?;
    let value = sched
        .lines()
        .find(|line| line.starts_with("se.sum_exec_runtime"))?
        .split(':')
        .nth(1)?
        .trim();
    let (ms, frac) = value.split_once('.').unwrap_or((value, "0"));
    let ms: u64 = ms.parse().ok()?;
    let frac = format!("{frac:0<6}");
    let ns: u64 = frac.get(..6)?.parse().ok()?;
    Some(ms * 1_000_000 + ns)
}

/// CPU time in nanoseconds of every thread of this process but `client`,
/// and of `client`: the servers' and the client's shares.
pub(crate) fn cpu_split(client: Option<u64>) -> (u64, u64) {
    let mut servers = 0;
    let mut own = 0;
    if let Ok(tasks) = fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let Some(tid) = task
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            let cpu = thread_cpu_ns(tid).unwrap_or(0);
            if Some(tid) == client {
                own += cpu;
            } else {
                servers += cpu;
            }
        }
    }
    (servers, own)
}

/// Machine-wide and own CPU time, in clock ticks, to tell how busy the
/// machine was with other work during a measurement.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MachineSample {
    busy: u64,
    total: u64,
    own: u64,
}

impl MachineSample {
    pub(crate) fn now() -> Self {
        let stat = fs::read_to_string("/proc/stat").unwrap_or_default();
        let fields: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal
        let get = |i: usize| fields.get(i).copied().unwrap_or(0);
        let idle = get(3) + get(4);
        let total: u64 = fields.iter().take(8).sum();
        let own = fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|s| {
                let rest = s.rsplit_once(')')?.1.to_owned();
                // Fields from 3 (the state letter) on; utime and stime are
                // fields 14 and 15. Every field is kept, so that positions hold
                // (tpgid may be -1).
                let f: Vec<&str> = rest.split_whitespace().collect();
                let utime: u64 = f.get(11)?.parse().ok()?;
                let stime: u64 = f.get(12)?.parse().ok()?;
                Some(utime + stime)
            })
            .unwrap_or(0);
        Self {
            busy: total - idle,
            total,
            own,
        }
    }

    /// Since `earlier`: the share of all CPUs' time used by other processes,
    /// and by this one, in percent of one CPU.
    pub(crate) fn since(&self, earlier: &Self, cpus: usize) -> (f64, f64) {
        let total = self.total.saturating_sub(earlier.total).max(1) as f64;
        let busy = self.busy.saturating_sub(earlier.busy) as f64;
        let own = self.own.saturating_sub(earlier.own) as f64;
        let per_cpu = total / cpus.max(1) as f64;
        (
            ((busy - own).max(0.0)) / per_cpu * 100.0,
            own / per_cpu * 100.0,
        )
    }
}

/// The number of CPUs this process may run on.
pub(crate) fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The 1-minute load average.
pub(crate) fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default()
}

/// The `p` quantile (0..=1) of sorted nanoseconds, nearest rank.
pub(crate) fn quantile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of `values` (mean of the middle two for an even count).
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// `n` with thousands separators.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
