//! A mock Duo Auth API service for tests and the demo.
fn main() {}
