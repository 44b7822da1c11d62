//! `peak-rss CMD [ARGS...]`: runs CMD, then prints `peak-rss-kib: N` (its
//! peak RSS in KiB) on stderr and exits with CMD's code.
//!
//! Why a process of its own: Linux counts the memory image a process had
//! before `exec` into its `ru_maxrss`, and a child spawned by the harness
//! starts as a copy (or, with vfork, a borrower) of the harness's memory,
//! sandbox and all. Spawned from this small process instead, the floor is this
//! process's own RSS (the harness reports it, from `peak-rss true`).

use std::ffi::CString;

fn main() {
    let args: Vec<CString> = std::env::args_os()
        .skip(1)
        .map(|a| CString::new(a.into_encoded_bytes()).expect("no NUL in arguments"))
        .collect();
    if args.is_empty() {
        eprintln!("usage: peak-rss CMD [ARGS...]");
        std::process::exit(2);
    }
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    // SAFETY: fork in a single-threaded process; the child only calls
    // async-signal-safe execvp and _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: argv is a NULL-terminated array of valid C strings.
        unsafe {
            libc::execvp(argv[0], argv.as_ptr());
            libc::_exit(127);
        }
    }
    if pid < 0 {
        eprintln!("peak-rss: fork: {}", std::io::Error::last_os_error());
        std::process::exit(2);
    }
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child; status and usage are valid for writes.
    while unsafe { libc::wait4(pid, &mut status, 0, &mut usage) } < 0 {
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            eprintln!("peak-rss: wait4: {}", std::io::Error::last_os_error());
            std::process::exit(2);
        }
    }
    eprintln!("peak-rss-kib: {}", usage.ru_maxrss);
    std::process::exit(if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    });
}
