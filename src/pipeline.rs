//! The pipeline part of the pipeline.
