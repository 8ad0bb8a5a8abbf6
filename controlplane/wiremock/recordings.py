"""`/__admin/recordings/start|stop|status|snapshot`: WireMock's recorder on the native one.

Start is the native recording (`controlplane.recording`) with the spec's filters
compiled as a request pattern; stop and snapshot group the captured (or journaled)
exchanges the native way and render each recorded request as stub mappings instead of
routes: `url` (path and query as sent), the captured headers (`equalTo`, or
`caseInsensitive`), a body pattern (`requestBodyPattern`, `auto`: `equalToJson` for
JSON, `equalTo` for text, `binaryEqualTo` for bytes), and the answer (`jsonBody`,
`body` or `base64Body`). With `repeatsAsScenarios` (WireMock's default) a request
answered more than once becomes a scenario whose stubs answer in turn; without it,
its first answer is kept. The mappings are added as stubs of the session and, with
`persist` (the default) and a `--mappings` root, saved there.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import web

from controlplane import ids, recording, wire
from controlplane.admin.decoding import decode_body, decode_optional_body, json_response
from controlplane.errors import InvalidInput
from controlplane.journal import JournalEntry
from controlplane.logs import get_logger
from controlplane.matching import CompiledRoute
from controlplane.sessions import SessionState
from controlplane.wiremock import shapes, state
from controlplane.wiremock.admin import WireMockAdmin
from controlplane.wiremock.translate import compile_pattern

__all__ = ["RecordingsAdmin"]

_log = get_logger("wiremock")
_SPEC = "wiremock.record_spec"
_SLUG = re.compile(r"[^A-Za-z0-9]+")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RecordingsAdmin:
    """The recorder endpoints over the dialect's sessions."""

    def __init__(self, admin: WireMockAdmin) -> None:
        self.admin = admin

    async def start(self, request: web.Request) -> web.Response:
        session = self.admin.session(request)
        spec = await decode_body(request, shapes.RecordSpec)
        if spec.targetBaseUrl is None:
            raise InvalidInput(
                "give `targetBaseUrl`: the origin to record from", location="$.targetBaseUrl"
            )
        _refuse_extensions(spec)
        try:
            wire.check_origin_url(spec.targetBaseUrl, "targetBaseUrl")
        except ValueError as exc:
            raise InvalidInput(str(exc), location="$.targetBaseUrl") from None
        started = recording.start(
            session,
            spec.targetBaseUrl,
            accept=_accept(spec, journal=False),
            capture_headers=list(spec.captureHeaders or {}),
            add_routes=False,
        )
        session.extras[_SPEC] = (started, spec)
        return json_response({})

    async def stop(self, request: web.Request) -> web.Response:
        session = self.admin.session(request)
        stopped = recording.stop(session)
        kept = session.extras.pop(_SPEC, None)
        if isinstance(kept, tuple) and kept[0] is stopped:
            spec: shapes.RecordSpec = kept[1]
        else:  # started with the native API
            spec = shapes.RecordSpec(
                captureHeaders={n: shapes.CaptureHeader() for n in stopped.capture_headers}
            )
        mappings = self._record(session, spec, list(stopped.captured))
        return json_response(shapes.RecordedMappings(mappings=mappings))

    async def status(self, request: web.Request) -> web.Response:
        current = self.admin.session(request).recording
        if current is None:
            answer = shapes.RecordingStatus(status="NeverStarted")
        else:
            answer = shapes.RecordingStatus(status="Recording" if current.active else "Stopped")
        return json_response(answer)

    async def snapshot(self, request: web.Request) -> web.Response:
        session = self.admin.session(request)
        spec = await decode_optional_body(request, shapes.RecordSpec)
        _refuse_extensions(spec)
        entries = list(session.journal)
        ids = spec.filters.ids if spec.filters is not None else None
        if ids is not None:
            wanted = set(ids)
            entries = [e for e in entries if session.journal.entry_id(e) in wanted]
        mappings = self._record(session, spec, entries, accept=_accept(spec))
        if spec.outputFormat == "IDS":
            return json_response(shapes.RecordedIds(ids=[m.id or "" for m in mappings]))
        return json_response(shapes.RecordedMappings(mappings=mappings))

    def _record(
        self,
        session: SessionState,
        spec: shapes.RecordSpec,
        entries: list[JournalEntry],
        accept: CompiledRoute | None = None,
    ) -> list[shapes.StubMapping]:
        captured = spec.captureHeaders or {}
        recorded, skipped = recording.recorded_in(session, entries, list(captured), accept)
        taken = {info.name for info in session.describe_scenarios()}
        mappings = [mapping for item in recorded for mapping in _mappings(item, spec, taken)]
        if mappings:
            state.import_mappings(session, mappings)
            if spec.persist and self.admin.root is not None:
                state.save_stubs(session, self.admin.root)
        _log.info(
            "wiremock_recorded",
            session=session.id,
            mappings=len(mappings),
            skipped=[f"{s.method} {s.path}: {s.reason}" for s in skipped],
        )
        return mappings

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("POST", "/recordings/start", self.start),
            ("POST", "/recordings/stop", self.stop),
            ("GET", "/recordings/status", self.status),
            ("POST", "/recordings/snapshot", self.snapshot),
        ]


def _refuse_extensions(spec: shapes.RecordSpec) -> None:
    """Recording `transformers` name WireMock extensions (Java), which cannot run here."""
    for name in ("transformers", "transformerParameters"):
        if getattr(spec, name) is not msgspec.UNSET:
            raise InvalidInput(
                f"`{name}` is not served: recording transformers are WireMock extensions, "
                "Java code running inside WireMock, and controlplane runs no Java",
                location=f"$.{name}",
            )


def _accept(spec: shapes.RecordSpec, *, journal: bool = True) -> CompiledRoute | None:
    """The recording's `filters`, for requests as they arrive or (`journal`) for the
    journal's (a snapshot)."""
    filters = spec.filters
    if filters is None:
        return None
    fields = msgspec.to_builtins(filters)
    for name in ("ids", "allowNonProxied"):
        fields.pop(name, None)
    pattern = msgspec.convert(fields, shapes.RequestPattern)
    if pattern == shapes.RequestPattern():
        return None
    return compile_pattern(pattern, "$.filters", journal=journal)


def _mappings(
    item: recording.Recorded, spec: shapes.RecordSpec, taken: set[str]
) -> list[shapes.StubMapping]:
    """The stub mappings of one recorded request: one, or a scenario of its answers.

    A scenario is named `scenario-{n}-{path}` with the first `n` no scenario of the
    session (`taken`, which this adds to) has.
    """
    answers = item.answers if spec.repeatsAsScenarios else item.answers[:1]
    slug = _SLUG.sub("-", item.path).strip("-").lower() or "root"
    name = _SLUG.sub("_", item.path).strip("_").lower() or "root"
    number = 1
    while f"scenario-{number}-{slug}" in taken:
        number += 1
    scenario = f"scenario-{number}-{slug}"
    mappings = []
    for index, answer in enumerate(answers):
        mapping_id = ids.new_uuid()
        mapping = shapes.StubMapping(
            id=mapping_id,
            uuid=mapping_id,
            name=name,
            request=_request(item, spec),
            response=_response(answer),
            persistent=True if spec.persist else None,
        )
        if len(answers) > 1:
            taken.add(scenario)
            mapping.scenarioName = scenario
            mapping.requiredScenarioState = "Started" if index == 0 else f"{scenario}-{index + 1}"
            if index < len(answers) - 1:
                mapping.newScenarioState = f"{scenario}-{index + 2}"
        mappings.append(mapping)
    return mappings


def _request(item: recording.Recorded, spec: shapes.RecordSpec) -> shapes.RequestPattern:
    captured = spec.captureHeaders or {}
    headers = {
        name: shapes.ContentPattern(
            equalTo=value, caseInsensitive=True if captured[name].caseInsensitive else None
        )
        for name, value in item.headers.items()
        if value is not None
    }
    url = item.path + (f"?{item.query_string}" if item.query_string else "")
    pattern = shapes.RequestPattern(method=item.method, url=url, headers=headers or None)
    if item.body:
        pattern.bodyPatterns = [_body_pattern(item.body, spec.requestBodyPattern)]
    return pattern


def _body_pattern(
    body: bytes, wanted: shapes.RequestBodyPatternSpec | None
) -> shapes.ContentPattern:
    wanted = wanted or shapes.RequestBodyPatternSpec()
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return shapes.ContentPattern(binaryEqualTo=base64.b64encode(body).decode("ascii"))
    if wanted.matcher in ("auto", "equalToJson"):
        try:
            parsed: Any = msgspec.json.decode(body)
        except msgspec.DecodeError:
            parsed = msgspec.UNSET
        if parsed is not msgspec.UNSET:
            return shapes.ContentPattern(
                equalToJson=text,
                ignoreArrayOrder=True
                if wanted.ignoreArrayOrder is None
                else wanted.ignoreArrayOrder,
                ignoreExtraElements=True
                if wanted.ignoreExtraElements is None
                else wanted.ignoreExtraElements,
            )
    return shapes.ContentPattern(equalTo=text, caseInsensitive=wanted.caseInsensitive)


def _response(answer: recording.Answer) -> shapes.ResponseDefinition:
    native = recording.answer_response(answer)
    headers = {n: (v if isinstance(v, str) else list(v)) for n, v in native.headers.items()}
    definition = shapes.ResponseDefinition(status=native.status, headers=headers or None)
    if isinstance(native, wire.JsonResponse):
        definition.jsonBody = native.body
    elif native.body_base64 is not None:
        definition.base64Body = native.body_base64
    else:
        definition.body = native.body
    return definition
