"""seamless-transformer: checksum-addressed, cached transformations."""
