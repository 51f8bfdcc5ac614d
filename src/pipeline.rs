//! The pipeline of `publish`: the order of the stages, written once here.

/// The stages of `publish`, in the order they run.
pub const STAGES: [Stage; 6] =
    [Stage::Version, Stage::Build, Stage::Auth, Stage::Push, Stage::Gate, Stage::Promote];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Version,
    Build,
    Auth,
    Push,
    Gate,
    Promote,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Version => "version",
            Stage::Build => "build",
            Stage::Auth => "auth",
            Stage::Push => "push",
            Stage::Gate => "gate",
            Stage::Promote => "promote",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Stage::Version => "derive the version and tags from git",
            Stage::Build => "build the image with the Docker engine",
            Stage::Auth => "assume the CI push role and log in to the registry",
            Stage::Push => "push the candidate tag",
            Stage::Gate => "wait for the scan and apply the policy",
            Stage::Promote => "put the release tags on the gated digest",
        }
    }
}
