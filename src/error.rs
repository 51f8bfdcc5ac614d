//! The one error type every command returns, and the exit codes of the product.
//!
//! Stages keep their own detail in the message and hint; what matters here is the kind, because
//! the kind decides the exit code and whether a retry is worth it.

use std::fmt;

/// Exit codes, the same in every command (DESIGN.md section 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Success = 0,
    BadInput = 1,
    Infrastructure = 2,
    GateFailed = 3,
    BuildFailed = 4,
    Interrupted = 130,
}

impl ExitCode {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// What kind of failure an [`Error`] is; each kind has exactly one exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Usage, pipeline file, git state, a missing Dockerfile: the user must change something.
    Input,
    /// Engine, network, AWS throttling or outage: worth a retry.
    Infrastructure,
    /// The gate said no.
    Gate,
    /// A Dockerfile step failed.
    Build,
    /// Ctrl-C or SIGTERM.
    Interrupted,
}

impl Kind {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Kind::Input => ExitCode::BadInput,
            Kind::Infrastructure => ExitCode::Infrastructure,
            Kind::Gate => ExitCode::GateFailed,
            Kind::Build => ExitCode::BuildFailed,
            Kind::Interrupted => ExitCode::Interrupted,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Input => "input",
            Kind::Infrastructure => "infrastructure",
            Kind::Gate => "gate",
            Kind::Build => "build",
            Kind::Interrupted => "interrupted",
        }
    }
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A failure as a person reads it: what failed, what to do about it, and the cause below.
pub struct Error {
    kind: Kind,
    message: String,
    hint: Option<String>,
    source: Option<Source>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            hint: None,
            source: None,
        }
    }

    pub fn input(message: impl Into<String>) -> Self {
        Self::new(Kind::Input, message)
    }

    pub fn infra(message: impl Into<String>) -> Self {
        Self::new(Kind::Infrastructure, message)
    }

    pub fn gate(message: impl Into<String>) -> Self {
        Self::new(Kind::Gate, message)
    }

    pub fn build(message: impl Into<String>) -> Self {
        Self::new(Kind::Build, message)
    }

    pub fn interrupted() -> Self {
        Self::new(Kind::Interrupted, "interrupted").with_hint("the run was stopped; run it again")
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_source(mut self, source: impl Into<Source>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    pub fn exit_code(&self) -> ExitCode {
        self.kind.exit_code()
    }

    /// The causes below the message, outermost first, each rendered once.
    pub fn causes(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut next: Option<&(dyn std::error::Error + 'static)> =
            self.source.as_deref().map(|s| s as _);
        while let Some(err) = next {
            let text = err.to_string();
            if out.last() != Some(&text) && !self.message.contains(&text) {
                out.push(text);
            }
            next = err.source();
        }
        out
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} error: {}", self.kind.as_str(), self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        for cause in self.causes() {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|s| s as _)
    }
}

/// Adds a message and kind to a foreign error at the place it happens.
pub trait Context<T> {
    fn context(self, kind: Kind, message: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E> Context<T> for std::result::Result<T, E>
where
    E: Into<Source>,
{
    fn context(self, kind: Kind, message: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::new(kind, message()).with_source(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_documented_exit_code() {
        assert_eq!(Error::input("x").exit_code().code(), 1);
        assert_eq!(Error::infra("x").exit_code().code(), 2);
        assert_eq!(Error::gate("x").exit_code().code(), 3);
        assert_eq!(Error::build("x").exit_code().code(), 4);
        assert_eq!(Error::interrupted().exit_code().code(), 130);
    }

    #[test]
    fn causes_skip_text_already_in_the_message() {
        let io = std::io::Error::other("connection refused");
        let err = Error::infra("cannot reach the engine: connection refused").with_source(io);
        assert!(err.causes().is_empty());
        let io = std::io::Error::other("connection refused");
        let err = Error::infra("cannot reach the engine").with_source(io);
        assert_eq!(err.causes(), vec!["connection refused".to_string()]);
    }
}
