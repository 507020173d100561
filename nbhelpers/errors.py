"""One exception type for bad input, so notebooks and tests can catch it precisely, and the
one-line form the commands give it and file-system faults."""
import functools
import sys


class InputError(ValueError):
    """Bad input: the message names the file, row or parameter and what was expected."""


#: What to do about the file-system faults a run meets most often.
_OS_HINTS = {
    "ENOSPC": "the disk is full: free some space (or point NBHELPERS_REPORTS at another disk) and "
              "run again",
    "EDQUOT": "the disk quota is used up: free some space and run again",
    "EROFS": "the file system is read-only: point NBHELPERS_REPORTS (or --output-dir) at a "
             "writable folder",
    "EACCES": "no permission to write there: point NBHELPERS_REPORTS (or --output-dir) at a "
              "folder of yours",
    "EPERM": "not permitted: point NBHELPERS_REPORTS (or --output-dir) at a folder of yours",
    "ENOTDIR": "a file stands where a folder is expected",
}


def os_error_line(err: OSError) -> str:
    """A file-system fault in one line: the path, what the system said and what to do."""
    import errno

    name = errno.errorcode.get(err.errno or 0, "")
    where = err.filename if err.filename is not None else "a file"
    hint = _OS_HINTS.get(name)
    return f"{where}: {err.strerror or err}" + (f" ({hint})" if hint else "")


def command_line(main):
    """A command's ``main(argv)``: bad input and file-system faults end it with one line on
    stderr (``error: ...``) and exit status 1 instead of a traceback."""
    @functools.wraps(main)
    def wrapped(argv=None) -> int:
        try:
            return main(argv)
        except InputError as err:
            message = str(err)
        except OSError as err:
            message = os_error_line(err)
        print(f"error: {message}", file=sys.stderr)
        return 1
    return wrapped
