//! `ExecPlan`: everything a child needs between `clone` and `execve`, prepared (allocated) in
//! the parent, so the child itself allocates nothing: NUL-terminated argument and environment
//! arrays, the paths to try (the `PATH` search of `execvp`, done ahead), and the argument array
//! for running a script without `#!` through `/bin/sh`.
//!
//! The pointer arrays point into `CString`s owned by the plan. A `CString` keeps its bytes on
//! the heap, so moving the plan (or its `Vec`s) leaves every pointer valid; nothing is pushed
//! to a `Vec<CString>` after its pointers were taken.

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::ptr;

use libc::c_char;

use crate::config::CommandSpec;

/// The shell that runs an executable file the kernel refuses with `ENOEXEC` (a script without
/// `#!`), as `execvp` does.
const SHELL: &std::ffi::CStr = c"/bin/sh";

/// `confstr(_CS_PATH)` of glibc and musl: the search path when `PATH` is unset.
const DEFAULT_PATH: &[u8] = b"/bin:/usr/bin";

/// The prepared `execve` arguments of one spawn.
pub(super) struct ExecPlan {
    /// The command's arguments, the program as given first (as `std::process` does).
    _args: Vec<CString>,
    /// `argv`: pointers into `_args`, then NULL.
    argv: Vec<*const c_char>,
    /// The environment as `KEY=value` strings, snapshot at spawn time.
    _env: Vec<CString>,
    /// `envp`: pointers into `_env`, then NULL.
    envp: Vec<*const c_char>,
    /// Paths to `execve`, in order; one when the program names a path (has a `/`).
    _candidates: Vec<CString>,
    /// Pointers into `_candidates` (no NULL: its length is passed along).
    candidates: Vec<*const c_char>,
    /// `/bin/sh`, a slot the child fills with the script's path, the arguments after the
    /// program's name, then NULL.
    script_argv: Vec<*const c_char>,
}

impl ExecPlan {
    /// Prepares the spawn of `spec` with the proxy's current environment.
    pub(super) fn new(spec: &CommandSpec) -> io::Result<ExecPlan> {
        let program = spec.program.as_os_str();
        let mut args = Vec::with_capacity(spec.args.len() + 1);
        args.push(c_string(program.as_bytes().to_vec())?);
        for arg in &spec.args {
            args.push(c_string(arg.clone().into_bytes())?);
        }
        let argv = null_terminated(&args);
        let env = std::env::vars_os()
            .map(|(key, value)| {
                let mut entry = key.into_vec();
                entry.push(b'=');
                entry.extend_from_slice(value.as_bytes());
                c_string(entry)
            })
            .collect::<io::Result<Vec<_>>>()?;
        let envp = null_terminated(&env);
        let path = std::env::var_os("PATH");
        let candidates = candidate_paths(program, path.as_deref())?;
        let candidate_pointers = candidates.iter().map(|path| path.as_ptr()).collect();
        let mut script_argv = Vec::with_capacity(args.len() + 2);
        script_argv.push(SHELL.as_ptr());
        script_argv.push(ptr::null());
        script_argv.extend(argv[1..].iter().copied());
        Ok(ExecPlan {
            _args: args,
            argv,
            _env: env,
            envp,
            _candidates: candidates,
            candidates: candidate_pointers,
            script_argv,
        })
    }

    /// The raw view the child reads. Valid while `self` is neither dropped nor modified; the
    /// child writes only slot 1 of `script_argv`, through the pointer handed out here.
    pub(super) fn raw(&mut self) -> RawPlan {
        RawPlan {
            argv: self.argv.as_ptr(),
            envp: self.envp.as_ptr(),
            candidates: self.candidates.as_ptr(),
            candidate_count: self.candidates.len(),
            shell: SHELL.as_ptr(),
            script_argv: self.script_argv.as_mut_ptr(),
        }
    }
}

/// Plain pointers into an [`ExecPlan`], for the child, which must not touch Rust collections.
#[derive(Clone, Copy)]
pub(super) struct RawPlan {
    pub(super) argv: *const *const c_char,
    pub(super) envp: *const *const c_char,
    pub(super) candidates: *const *const c_char,
    pub(super) candidate_count: usize,
    pub(super) shell: *const c_char,
    /// Slot 1 is the script's path, written by the child before it runs the shell.
    pub(super) script_argv: *mut *const c_char,
}

/// The paths `execvp` would try for `program`, in order: `program` itself if it contains a
/// `/`, else each directory of `path` (or [`DEFAULT_PATH`]) joined with it, an empty
/// directory meaning the current one. An empty program has no candidate (`ENOENT`).
fn candidate_paths(program: &OsStr, path: Option<&OsStr>) -> io::Result<Vec<CString>> {
    let name = program.as_bytes();
    if name.is_empty() {
        return Ok(Vec::new());
    }
    if name.contains(&b'/') {
        return Ok(vec![c_string(name.to_vec())?]);
    }
    let path = path.map_or(DEFAULT_PATH, OsStr::as_bytes);
    path.split(|&byte| byte == b':')
        .map(|dir| {
            let mut joined = Vec::with_capacity(dir.len() + 1 + name.len());
            joined.extend_from_slice(dir);
            if !dir.is_empty() {
                joined.push(b'/');
            }
            joined.extend_from_slice(name);
            c_string(joined)
        })
        .collect()
}

/// Pointers to each string of `strings`, then NULL.
fn null_terminated(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|string| string.as_ptr())
        .chain(std::iter::once(ptr::null()))
        .collect()
}

/// A C string, or `InvalidInput` if `bytes` holds a NUL (which no argument can carry).
fn c_string(bytes: Vec<u8>) -> io::Result<CString> {
    CString::new(bytes).map_err(|err| {
        let shown = OsString::from_vec(err.into_vec());
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{shown:?} contains a NUL byte"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;
    use std::path::PathBuf;

    fn shown(paths: &[CString]) -> Vec<&str> {
        paths.iter().map(|path| path.to_str().unwrap()).collect()
    }

    #[test]
    fn a_name_is_searched_in_each_directory_of_path_in_order() {
        let found =
            candidate_paths(OsStr::new("node"), Some(OsStr::new("/a/bin::/usr/bin"))).unwrap();
        assert_eq!(shown(&found), ["/a/bin/node", "node", "/usr/bin/node"]);
    }

    #[test]
    fn a_path_is_tried_as_is_and_an_unset_path_uses_the_default() {
        let found = candidate_paths(OsStr::new("./x/server"), Some(OsStr::new("/bin"))).unwrap();
        assert_eq!(shown(&found), ["./x/server"]);
        let found = candidate_paths(OsStr::new("sh"), None).unwrap();
        assert_eq!(shown(&found), ["/bin/sh", "/usr/bin/sh"]);
        assert!(candidate_paths(OsStr::new(""), None).unwrap().is_empty());
    }

    #[test]
    fn the_arrays_end_with_null_and_the_script_argv_keeps_a_slot() {
        let spec = CommandSpec {
            program: PathBuf::from("/bin/echo"),
            args: vec!["a".into(), "b c".into()],
        };
        let mut plan = ExecPlan::new(&spec).unwrap();
        let raw = plan.raw();
        // SAFETY: the plan is alive and unmodified; every array ends with NULL as built above.
        unsafe {
            let read = |array: *const *const c_char, index: usize| {
                let item = *array.add(index);
                (!item.is_null()).then(|| CStr::from_ptr(item).to_str().unwrap().to_string())
            };
            assert_eq!(
                (0..4).map(|i| read(raw.argv, i)).collect::<Vec<_>>(),
                [
                    Some("/bin/echo".into()),
                    Some("a".into()),
                    Some("b c".into()),
                    None
                ]
            );
            assert_eq!(
                (0..5).map(|i| read(raw.script_argv, i)).collect::<Vec<_>>(),
                [
                    Some("/bin/sh".into()),
                    None,
                    Some("a".into()),
                    Some("b c".into()),
                    None
                ]
            );
            assert_eq!(raw.candidate_count, 1);
            assert_eq!(read(raw.candidates, 0), Some("/bin/echo".into()));
        }
    }

    #[test]
    fn an_argument_with_a_nul_byte_is_refused() {
        let spec = CommandSpec {
            program: PathBuf::from("sh"),
            args: vec!["a\0b".into()],
        };
        let err = ExecPlan::new(&spec).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(err.to_string(), "\"a\\0b\" contains a NUL byte");
    }
}
