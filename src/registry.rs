//! The registry part of the pipeline.
