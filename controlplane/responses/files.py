"""Body files: `raw` responses whose bytes come from a file under the files directory.

The files directory is `__files/` of the `--mappings` root (WireMock's layout). A
name is a relative path inside it; one that resolves outside (`../x`, an absolute
path, a symlink pointing out) is refused, so a mapping can never read other files.
Files are read when the response is registered, not per request.
"""

from __future__ import annotations

from pathlib import Path

from controlplane.responses.outcome import ResponseSpecError

__all__ = ["BodyFiles", "check_body_file", "no_files"]


class BodyFiles:
    """The directory body files are read from."""

    __slots__ = ("root",)

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def path_of(self, name: str) -> Path:
        """The file `name` stands for; ResponseSpecError if it escapes the root."""
        if "\x00" in name:  # no file name holds one (and os calls raise ValueError)
            raise ResponseSpecError(
                f"body file {name!r} contains a NUL character, which no file name can hold",
                ".body_file",
            )
        candidate = (self.root / name).resolve()
        if Path(name).is_absolute() or not candidate.is_relative_to(self.root):
            raise ResponseSpecError(
                f"body file {name!r} is outside the files directory {self.root}; "
                "give a path relative to it",
                ".body_file",
            )
        return candidate

    def read(self, name: str) -> bytes:
        path = self.path_of(name)
        try:
            return path.read_bytes()
        except OSError as exc:
            raise self._unreadable(name, exc) from None

    def check(self, name: str) -> None:
        """Raise the ResponseSpecError `read(name)` would, without reading the file."""
        path = self.path_of(name)
        try:
            path.open("rb").close()
        except OSError as exc:
            raise self._unreadable(name, exc) from None

    def _unreadable(self, name: str, exc: OSError) -> ResponseSpecError:
        return ResponseSpecError(
            f"cannot read body file {name!r} in {self.root}: {exc.strerror or exc}",
            ".body_file",
        )


def no_files(name: str) -> bytes:
    raise ResponseSpecError(
        f"body file {name!r} cannot be read: this server has no files directory "
        "(start it with --mappings DIR; body files live in DIR/__files)",
        ".body_file",
    )


def check_body_file(files: BodyFiles | None, name: str) -> None:
    """Raise the ResponseSpecError that registering a response reading `name` would.

    For a dialect to report a bad file at its own field before it hands the response
    to a session, which reads the file when it compiles the response.
    """
    if files is None:
        no_files(name)
    else:
        files.check(name)
