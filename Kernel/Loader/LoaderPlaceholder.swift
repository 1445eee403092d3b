// Placeholder; replaced by the loader code.
