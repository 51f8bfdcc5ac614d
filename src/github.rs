//! The github part of the pipeline.
