"""The pytest cases: benchmarks (test_throughput and friends) and the verification of the chapter's
networks, losses, backprop and optimizers. The harness they use is the blitzbench package."""
