"""textback's command line: thin click commands over `gateway`."""
