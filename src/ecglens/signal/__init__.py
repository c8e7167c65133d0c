"""ecglens.signal."""
