"""Optional modules that plug into the kernel through the registry; the kernel never imports them."""
