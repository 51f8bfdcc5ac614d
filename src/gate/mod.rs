//! The scan gate: waits for ECR's scan of the pushed digest and judges it by policy.

pub mod severity;
pub mod verdict;
