//! `ChildStack`: the stack a cloned child runs on until `execve`, mapped once and reused.
//!
//! Reuse is safe because `CLONE_VFORK` returns only once the child has left the stack for
//! good (its `execve` replaced its memory, or it exited), and only the spawner thread spawns.
//! The lowest page is a guard (no access), so an overflow faults instead of writing into
//! whatever the proxy has mapped below.

use std::io;
use std::ptr;

use libc::c_void;

/// Bytes usable by the child. Its deepest call chain is `execve` or `sigaction` inside libc
/// under two small frames (glibc's own `posix_spawn` runs the same steps on 32 KiB plus the
/// arguments, which the plan here prepares on the heap instead).
const USABLE: usize = 64 * 1024;

/// A private anonymous mapping with a guard page at its low end.
pub(in crate::process) struct ChildStack {
    base: *mut c_void,
    length: usize,
}

// SAFETY: the mapping is owned by this value alone; moving it to another thread moves the
// only handle to it.
unsafe impl Send for ChildStack {}

impl ChildStack {
    /// Maps the stack.
    pub(in crate::process) fn new() -> io::Result<ChildStack> {
        // SAFETY: sysconf only reads a system constant.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
            .ok()
            .filter(|&page| page > 0)
            .unwrap_or(4096);
        let length = USABLE + page;
        // SAFETY: a new private anonymous mapping; it overlaps nothing of ours.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                length,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = ChildStack { base, length };
        // SAFETY: the first page lies inside the mapping just created.
        if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// The initial stack pointer: the high end (stacks grow down on every Linux target Rust
    /// supports), 16-byte aligned as every ABI wants at a call.
    pub(in crate::process) fn top(&mut self) -> *mut c_void {
        // SAFETY: one past the end of the mapping, which is what clone expects.
        let end = unsafe { self.base.cast::<u8>().add(self.length) };
        end.wrapping_sub(end as usize % 16).cast()
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping this value owns; no child runs on it any more.
        unsafe {
            libc::munmap(self.base, self.length);
        }
    }
}
