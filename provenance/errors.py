"""One exception hierarchy for the whole package.

Library code raises these and never prints or exits; the CLI maps them to exit codes
in one place (``cli.EXIT_CODES``). A bad file inside a batch is not an exception for
the batch: it becomes a result row with its error and is counted in the summary.
"""


class ProvenanceError(Exception):
    """Base class of every error this package raises on purpose."""


class MediaError(ProvenanceError):
    """A file could not be used as media: unreadable, corrupt, truncated, hostile or unsupported."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class ManifestError(ProvenanceError):
    """The manifest as a whole cannot be used (missing file, missing columns)."""


class LedgerError(ProvenanceError):
    """The ledger cannot be opened or used (unreadable, newer schema, bad URL)."""


class NotFoundError(ProvenanceError):
    """An item, work or query the user named is not in the ledger."""
