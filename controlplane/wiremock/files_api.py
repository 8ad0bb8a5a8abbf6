"""`/__admin/files`: the body files of the WireMock root (`__files/` of `--mappings`).

`GET /files` lists them (paths relative to `__files/`, sorted, `/` between folders);
`GET`, `PUT` and `DELETE /files/{name}` read, write (atomically, folders created) and
remove one, as WireMock does (`PUT` answers the content as a base64 JSON string, which
is how WireMock writes bytes). A name that resolves outside `__files/` (`../x`, an
absolute path, a symlink out) is refused with a 422, before anything is touched; a
server without a `--mappings` root answers 409. Files are shared by every session, as
the root is.
"""

from __future__ import annotations

import base64
from pathlib import Path

from aiohttp import web

from controlplane.admin.decoding import json_response
from controlplane.atomic import TEMP_SUFFIX, write_atomically
from controlplane.errors import Conflict, ControlplaneError, InvalidInput, NotFound
from controlplane.logs import get_logger
from controlplane.responses import ResponseSpecError
from controlplane.wiremock.admin import Handler, WireMockAdmin

__all__ = ["FilesAdmin"]

_log = get_logger("wiremock")


class FilesAdmin:
    """File handlers over the root's `__files/` (`store.files`)."""

    def __init__(self, admin: WireMockAdmin) -> None:
        self.admin = admin

    def _root(self, request: web.Request) -> Path:
        self.admin.session(request)  # an unknown session is a 404, as everywhere
        files = self.admin.store.files
        if files is None:
            raise Conflict(
                "this server has no files directory; start it with --mappings DIR "
                "(body files live in DIR/__files)"
            )
        return files.root

    def _path(self, request: web.Request) -> Path:
        root = self._root(request)
        name = request.match_info["name"]
        files = self.admin.store.files
        assert files is not None
        try:
            path = files.path_of(name)
        except ResponseSpecError as exc:
            raise InvalidInput(exc.message) from None
        if path == root:
            raise InvalidInput("give a file name under the files directory, not the directory")
        return path

    async def list_files(self, request: web.Request) -> web.Response:
        root = self._root(request)
        found = (
            path.relative_to(root).as_posix()
            for path in root.rglob("*")
            if path.is_file()
            and not path.name.endswith(TEMP_SUFFIX)
            and path.resolve().is_relative_to(root)
        )
        return json_response(sorted(found) if root.is_dir() else [])

    async def get_file(self, request: web.Request) -> web.Response:
        path = self._path(request)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            name = request.match_info["name"]
            raise NotFound(f"no file {name!r} in the files directory") from None
        except OSError as exc:
            raise ControlplaneError(f"cannot read {path}: {exc.strerror or exc}") from None
        return web.Response(body=data, content_type="application/octet-stream")

    async def put_file(self, request: web.Request) -> web.Response:
        path = self._path(request)
        data = await request.read()
        try:
            write_atomically(path, data)
        except OSError as exc:
            raise ControlplaneError(
                f"cannot write {path}: {exc.strerror or exc} (the file is as it was)"
            ) from None
        _log.info("file_written", file=str(path), size=len(data))
        return json_response(base64.b64encode(data).decode("ascii"))

    async def delete_file(self, request: web.Request) -> web.Response:
        path = self._path(request)
        try:
            path.unlink()
        except FileNotFoundError:
            pass  # WireMock answers 200 for a file that is not there
        except OSError as exc:
            raise ControlplaneError(f"cannot remove {path}: {exc.strerror or exc}") from None
        else:
            _log.info("file_removed", file=str(path))
        return web.Response(status=200)

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/files", self.list_files),
            ("GET", "/files/{name:.+}", self.get_file),
            ("PUT", "/files/{name:.+}", self.put_file),
            ("DELETE", "/files/{name:.+}", self.delete_file),
        ]
