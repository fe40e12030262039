//! Unit tests with an in-memory host.
