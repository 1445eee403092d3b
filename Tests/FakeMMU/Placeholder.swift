// Placeholder; replaced by the fake MMU.
