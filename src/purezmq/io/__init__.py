"""The only code that touches file descriptors."""
