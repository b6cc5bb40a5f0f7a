//! `ProcessCollector`: the standard Prometheus `process_*` metrics of the proxy itself, read
//! from /proc/self at scrape time (resident memory, open fds, CPU seconds, start time).

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Reads /proc/self on every scrape.
#[derive(Debug, Default)]
pub struct ProcessCollector;

/// What one scrape reads from /proc.
struct ProcessSample {
    cpu_seconds: f64,
    resident_bytes: i64,
    virtual_bytes: i64,
    open_fds: i64,
    max_fds: i64,
    start_time_seconds: f64,
}

fn sample() -> Option<ProcessSample> {
    // SAFETY: sysconf has no memory-safety preconditions.
    let (ticks, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK) as f64,
            libc::sysconf(libc::_SC_PAGESIZE) as i64,
        )
    };
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command: field 3 is index 0, so utime (14) is 11, stime 12, starttime (22) 19,
    // vsize (23) 20, rss (24) 21.
    let number = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    let boot_time = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|value| value.trim().parse::<f64>().ok())?;
    let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as i64;
    let max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()?
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(3))
        .and_then(|soft| soft.parse().ok())
        .unwrap_or(-1);
    Some(ProcessSample {
        cpu_seconds: (number(11)? + number(12)?) / ticks,
        resident_bytes: number(21)? as i64 * page,
        virtual_bytes: number(20)? as i64,
        open_fds,
        max_fds,
        start_time_seconds: boot_time + number(19)? / ticks,
    })
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(sample) = sample() else {
            return Ok(());
        };
        let metric = encoder.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(sample.cpu_seconds).encode(metric)?;
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                sample.resident_bytes as f64,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                sample.virtual_bytes as f64,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors",
                sample.open_fds as f64,
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors",
                sample.max_fds as f64,
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds",
                sample.start_time_seconds,
            ),
        ];
        for (name, help, value) in gauges {
            let metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            ConstGauge::new(value).encode(metric)?;
        }
        Ok(())
    }
}
