"""Neural network parts of UniCodec, each buildable from HyperPyYAML."""
