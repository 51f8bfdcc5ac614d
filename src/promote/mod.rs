//! The promote stage.
