//! Engines behind [`crate::node::ControlPlaneConsensus`].
//!
//! * [`single_node::SingleNodeControlPlane`]: the seed's degenerate engine,
//!   one member that is its own quorum, kept in memory. It exists so the
//!   boundary is exercised end to end (Rust, C, Python) with the same catalog
//!   rules the replicated engine applies.

pub mod single_node;

pub use single_node::SingleNodeControlPlane;
