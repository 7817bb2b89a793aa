"""Real servers and factories the tests (and benchmarks) start."""
