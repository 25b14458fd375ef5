"""losskit's benchmarks: `python -m benchmarks` (speed) and `python -m benchmarks.large_vocab` (memory)."""
