"""A network at initialization: configuration, cost, inputs, forward and backward passes, the result."""
