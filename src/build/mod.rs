//! The build stage.
