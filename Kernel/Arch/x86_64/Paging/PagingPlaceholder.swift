// Placeholder; replaced by the paging code.
