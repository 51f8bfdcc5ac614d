//! The push part of the pipeline.
