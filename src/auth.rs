//! The auth part of the pipeline.
