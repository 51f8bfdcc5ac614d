//! The version stage.
