"""The strace tracer: `strace -f -yy` attached to runc's init, its lines parsed into events."""
