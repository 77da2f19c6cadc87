"""For a machine with an NVIDIA GPU: the check, what it needs before it starts, and its targets."""
