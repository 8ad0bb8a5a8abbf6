"""Body files: `raw` responses whose bytes come from a file under the files directory.

The files directory is `__files/` of the `--mappings` root (WireMock's layout). A
name is a relative path inside it; one that resolves outside (`../x`, an absolute
path, a symlink pointing out) is refused, so a mapping can never read other files.
Files are read when the response is registered, not per request.
"""

from __future__ import annotations

from pathlib import Path

from controlplane.responses.outcome import ResponseSpecError

__all__ = ["BodyFiles", "no_files"]


class BodyFiles:
    """The directory body files are read from."""

    __slots__ = ("root",)

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def path_of(self, name: str) -> Path:
        """The file `name` stands for; ResponseSpecError if it escapes the root."""
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
            raise ResponseSpecError(
                f"cannot read body file {name!r} in {self.root}: {exc.strerror or exc}",
                ".body_file",
            ) from None


def no_files(name: str) -> bytes:
    raise ResponseSpecError(
        f"body file {name!r} cannot be read: this server has no files directory "
        "(start it with --mappings DIR; body files live in DIR/__files)",
        ".body_file",
    )
