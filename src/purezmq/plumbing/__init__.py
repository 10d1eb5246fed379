"""The only objects shared between threads: pipes and wakers."""
