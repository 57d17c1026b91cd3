//! Positioned YAML nodes.
