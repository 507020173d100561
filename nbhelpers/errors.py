"""One exception type for bad input, so notebooks and tests can catch it precisely."""


class InputError(ValueError):
    """Bad input: the message names the file, row or parameter and what was expected."""
