//! Readings from /proc: CPU ticks, resident memory and the process table.

/// CPU clock ticks (utime + stime) of the proxy, of its children, and of this process.
pub struct Cpu {
    pub proxy: u64,
    pub children: u64,
    pub loader: u64,
}

impl Cpu {
    pub fn sample(proxy: u32, children: &[u32]) -> Cpu {
        Cpu {
            proxy: cpu_ticks(proxy).unwrap_or(0),
            children: children.iter().filter_map(|pid| cpu_ticks(*pid)).sum(),
            loader: cpu_ticks(std::process::id()).unwrap_or(0),
        }
    }
}

/// utime + stime (fields 14 and 15 of /proc/<pid>/stat) of the process itself, every
/// thread included, its children excluded; in clock ticks.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start at field 3.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(utime + stime)
}

/// cutime + cstime (fields 16 and 17 of /proc/<pid>/stat): the CPU time of the children of
/// `pid` it has reaped (waited for); in clock ticks.
pub fn reaped_children_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let cutime: u64 = fields.get(16 - 3)?.parse().ok()?;
    let cstime: u64 = fields.get(17 - 3)?.parse().ok()?;
    Some(cutime + cstime)
}

/// CPU time of every live thread of `pid`, in nanoseconds: the sum of the first field
/// (`sum_exec_runtime`) of `/proc/<pid>/task/*/schedstat`. Far finer than the 10 ms clock
/// ticks of `/proc/<pid>/stat`, but threads that exited are left out (the proxy's threads live
/// as long as it does). `None` where the kernel has no schedstat files.
pub fn cpu_ns(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0;
    let mut seen = false;
    for task in tasks.flatten() {
        // A thread may exit between the listing and the read: it is then left out.
        if let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat"))
            && let Some(ns) = stat
                .split_whitespace()
                .next()
                .and_then(|ns| ns.parse::<u64>().ok())
        {
            total += ns;
            seen = true;
        }
    }
    seen.then_some(total)
}

/// Clock ticks to microseconds.
pub fn ticks_to_us(ticks: u64) -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1);
    ticks as f64 * 1e6 / per_second as f64
}

/// VmRSS of a process, in KiB.
pub fn rss_kib(pid: u32) -> Result<u64, String> {
    status_kib(pid, "VmRSS")
}

/// A KiB field of /proc/<pid>/status (`VmRSS`, `VmHWM`, ...).
pub fn status_kib(pid: u32, field: &str) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|err| format!("/proc/{pid}/status: {err}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .ok_or_else(|| format!("no {field} for {pid}"))
}

/// How many file descriptors a process has open (entries of /proc/<pid>/fd).
pub fn open_fds(pid: u32) -> Result<usize, String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|entries| entries.count())
        .map_err(|err| format!("/proc/{pid}/fd: {err}"))
}

/// Whether `pid` is alive and runs with `marker` among its arguments (so a reused pid is
/// never mistaken for a process the bench started).
pub fn runs_with_arg(pid: u32, marker: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
        cmdline
            .split(|b| *b == 0)
            .any(|arg| arg == marker.as_bytes())
    })
}

/// How many live (not zombie) children `pid` has, from `/proc/<pid>/task/*/children` (far
/// cheaper than a scan of the whole process table); `None` where that file is missing.
pub fn live_children(pid: u32) -> Option<usize> {
    let mut live = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let Ok(list) = std::fs::read_to_string(task.path().join("children")) else {
            continue;
        };
        live += list
            .split_whitespace()
            .filter(|child| {
                std::fs::read_to_string(format!("/proc/{child}/stat")).is_ok_and(|stat| {
                    let state = stat
                        .rsplit_once(')')
                        .and_then(|(_, rest)| rest.trim_start().chars().next());
                    state.is_some_and(|state| state != 'Z')
                })
            })
            .count();
    }
    Some(live)
}

/// The process running `program` (the proxy, or the floor) in the process tree below `root`
/// (itself included), nearest first.
pub fn proxy_pid_below(root: u32, program: &str) -> u32 {
    let table = processes();
    let mut queue = std::collections::VecDeque::from([root]);
    while let Some(pid) = queue.pop_front() {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
        if exe.is_some_and(|exe| exe == std::path::Path::new(program)) {
            return pid;
        }
        queue.extend(table.iter().filter(|p| p.ppid == pid).map(|p| p.pid));
    }
    root
}

pub struct ProcessRow {
    pub pid: u32,
    pub ppid: u32,
    pub state: char,
}

/// The process table, from /proc.
pub fn processes() -> Vec<ProcessRow> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let (_, rest) = stat.rsplit_once(')')?;
            let mut fields = rest.split_whitespace();
            let state = fields.next()?.chars().next()?;
            let ppid = fields.next()?.parse().ok()?;
            Some(ProcessRow { pid, ppid, state })
        })
        .collect()
}
