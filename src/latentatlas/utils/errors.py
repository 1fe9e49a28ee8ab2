"""Exception types. Every error a user can trigger with bad input derives from LatentAtlasError
and says which file / argument is wrong and what to do about it."""


class LatentAtlasError(Exception):
    """Base class of all latentatlas errors."""


class DataError(LatentAtlasError, ValueError):
    """A data file or array is missing, truncated, malformed or inconsistent."""


class ShapeError(LatentAtlasError, ValueError):
    """An array or tensor has the wrong shape, dtype or value range."""


class CheckpointError(LatentAtlasError, ValueError):
    """A model / checkpoint file is corrupt, of an unknown format, or refused as unsafe."""


class OptionError(LatentAtlasError, ValueError):
    """The options of a job are incomplete or inconsistent (the CLI reports a usage error)."""


class OutputExistsError(LatentAtlasError, FileExistsError):
    """An output exists and is not the run being resumed (``--overwrite`` replaces it)."""


class ResourceError(LatentAtlasError, MemoryError):
    """A job would need more memory or disk than there is (refused before allocating)."""
