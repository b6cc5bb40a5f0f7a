//! The process table, read from /proc: the proxy's children and whether a process group still
//! has a live member, to prove no process is left behind (by pid and group, never by name).

/// Pids of the direct children of `pid`.
pub fn children_of(pid: u32) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|p| p.ppid == pid && p.state != 'Z')
        .map(|p| p.pid)
        .collect()
}

/// Whether a non-zombie process of group `pgid` exists.
pub fn group_alive(pgid: u32) -> bool {
    processes().iter().any(|p| p.pgrp == pgid && p.state != 'Z')
}

/// One row of the process table.
#[derive(Debug, Clone)]
pub struct ProcessRow {
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// Process group id.
    pub pgrp: u32,
    /// State letter (`Z` for zombies).
    pub state: char,
}

/// The process table, read from /proc.
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
            let fields: Vec<&str> = rest.split_whitespace().collect();
            Some(ProcessRow {
                pid,
                state: fields.first()?.chars().next()?,
                ppid: fields.get(1)?.parse().ok()?,
                pgrp: fields.get(2)?.parse().ok()?,
            })
        })
        .collect()
}
