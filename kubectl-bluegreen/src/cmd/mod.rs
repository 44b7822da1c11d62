//! One module per subcommand: its arguments, and the call into the library.

pub mod deploy;
pub mod history;
pub mod init;
pub mod rollback;
pub mod scale_down;
pub mod status;
pub mod switch;

pub use switchyard::cli::{Out, duration, progress, timeout};
