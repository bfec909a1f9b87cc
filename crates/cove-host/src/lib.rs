//! cove-host: the kernel executor (work in progress).
