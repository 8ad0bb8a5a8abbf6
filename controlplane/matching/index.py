"""The route table: finds the winning route for a request without scanning every route.

Routes live in one of four places, by path kind:

- exact paths in a dict, path -> routes sorted by (priority, order);
- templates whose every segment is simple (a static string or a one-segment
  parameter: `/svc{i}/items/{id}`) by *shape*, their number of segments and where
  their parameters sit: a path's static segments at a shape's static places are one
  dict key (`_Shape`), so a path not seen before costs a split (or, when only the last
  segment is a parameter, one `rpartition`) and a dict lookup per shape of its length;
- other templates in a segment trie: static segments are keyed children, a
  one-segment parameter is the wildcard child, and the template's remainder from its
  first custom regex or mixed segment (`v{version}`) is a full-match regex hung off
  the deepest simple node (routes sharing a remainder share one regex);
- `path_regex` routes in a list of regexes, grouped by source, which *is* scanned on
  every lookup: they are rare, and nothing about an arbitrary regex can be indexed.

A lookup gathers the sorted candidate lists whose path matches, merges them by
(priority, order) only when more than one source answered, and takes the first route
whose method, remaining `times` and conditions all hold. Several routes on one exact
path that tell requests apart by a header's exact value (`X-Tenant: acme`) are
narrowed first (`_ByHeader`): the request's value of that header picks, in one dict
lookup, the routes that can still match, in the same (priority, order). The lookup
keeps what it read (the segments under parameters, the tail's or regex's match), so
the winner's path params cost no second match of the path. The table never assumes
that insertion order is `order`: the caller supplies it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator
from itertools import chain
from operator import attrgetter, itemgetter

from controlplane import wire
from controlplane.matching.conditions import required_headers
from controlplane.matching.near_miss import Pool
from controlplane.matching.paths import NO_PARAMS, Match, PathPattern, Regex
from controlplane.matching.route import CompiledRoute
from controlplane.request_view import RequestView

__all__ = ["RouteTable"]

_KEY = attrgetter("key")
_ID = attrgetter("id")
#: With this many routes or fewer, near misses consider every route.
_SMALL_TABLE = 50
#: Lexicographic neighbours of the request path taken on each side for near misses.
_NEIGHBOURS = 10
#: Cap on routes whose path matches that near misses examine (each one costs a diff).
_PATH_POOL = 100
#: Near-miss pools kept, by (method, path), for requests that miss again; any change to
#: the routes drops them all, the oldest goes first when full.
_POOLS = 64
#: (method, path) of misses noted once (`RouteTable.near_misses`), at most.
_MISSED = 256
#: Paths whose index hits a table with tails or regexes keeps, emptied when full, and
#: the longest path kept: at most about 150 kB per table.
_HIT_CACHE = 256
_CACHED_PATH = 256

#: Route-list entries a path's `_ByHeader` may hold, per route on the path: its lists
#: repeat the routes without the header's condition once per value.
_NARROWING_BUDGET = 8

_Routes = list[CompiledRoute]


class _ByHeader:
    """The routes on one path that a request can match, by its value of one header.

    Built from the path's routes (sorted) for the header that the most of them require
    to equal a value: each value maps to the routes requiring it and the routes that do
    not require the header at all, in their (priority, order). A request without the
    header can only match the latter; one with the header repeated is given every route
    (a route requiring `a` matches `X: a, b`). Every candidate still checks all its
    conditions, but a request whose one value picked its list says so
    (`RequestView.known_header`), and each `equals` condition on that value holds
    without looking the header up again. `RouteTable.find` reads these lists itself:
    a call here cost the conditions POST about 1,000 instructions.
    """

    __slots__ = ("all", "by_value", "name", "others")

    def __init__(self, routes: _Routes, name: str, keyed: dict[str, str]) -> None:
        """`keyed`: route id -> the value it requires (one of them, if several)."""
        self.name = name
        self.all = routes
        self.others = [route for route in routes if route.id not in keyed]
        #: value -> its routes, and what the request is then known to carry.
        self.by_value: dict[str, tuple[_Routes, tuple[str, str]]] = {}
        folded = name.lower()
        for value in dict.fromkeys(keyed.values()):
            routes_of = [route for route in routes if keyed.get(route.id, value) == value]
            self.by_value[value] = (routes_of, (folded, value))

    @classmethod
    def build(cls, routes: _Routes) -> _ByHeader | None:
        """The narrowing for a path's routes, or None when no header would narrow them
        (fewer than two routes require one) or its lists would outgrow the budget."""
        counts: dict[str, int] = {}
        names: dict[str, str] = {}
        required: list[dict[str, str]] = []
        for route in routes:
            values: dict[str, str] = {}
            for name, value in required_headers(route.conditions):
                if name.isascii():  # folded as multidict folds it: ASCII only
                    key = name.lower()
                    names.setdefault(key, name)
                    values.setdefault(key, value)
            for key in values:
                counts[key] = counts.get(key, 0) + 1
            required.append(values)
        if not counts:
            return None
        best = max(counts, key=counts.__getitem__)  # the first of the most required
        if counts[best] < 2:
            return None
        keyed = {
            route.id: values[best]
            for route, values in zip(routes, required, strict=True)
            if best in values
        }
        others = len(routes) - len(keyed)
        if len(set(keyed.values())) * others > _NARROWING_BUDGET * len(routes):
            return None
        return cls(routes, names[best], keyed)


class _Group:
    """Routes sharing one compiled regex (a template remainder or a path_regex)."""

    __slots__ = ("regex", "routes", "source")

    def __init__(self, pattern: PathPattern) -> None:
        regex = pattern.regex if pattern.kind == "regex" else pattern.tail
        source = pattern.source if pattern.kind == "regex" else pattern.tail_source
        assert regex is not None and source is not None
        self.regex: Regex = regex
        self.source: str = source
        self.routes: _Routes = []


class _Shape:
    """The simple templates (every segment a static string or a one-segment parameter)
    with `size` segments and parameters at the same places, by their static segments;
    but for those whose only parameter is the last segment (`RouteTable._last`).

    A path of `size` segments has a template's static segments where they are exactly
    when its key here is the template's: the segments at the static places, and the
    text before the first '/' (which must be empty), picked by one `itemgetter`. Its
    segments at the parameters' places are then the params, when none is empty (a
    parameter is one non-empty segment).
    """

    __slots__ = ("one", "pick_key", "pick_wild", "routes", "size")

    def __init__(self, size: int, wild_at: tuple[int, ...]) -> None:
        self.size = size
        #: One parameter: `pick_wild` gives a string, not a tuple.
        self.one = len(wild_at) == 1
        static_at = (i for i in range(1, size + 1) if i not in wild_at)
        #: Split path -> the key (a string when every segment is a parameter).
        self.pick_key = itemgetter(0, *static_at)
        #: Split path -> its segments at the parameters' places.
        self.pick_wild = itemgetter(*wild_at)
        #: Key -> the routes with those static segments, sorted.
        self.routes: dict[object, _Routes] = {}

    def key(self, prefix: tuple[str | None, ...]) -> object:
        """The key of the template with this prefix (of this shape)."""
        return self.pick_key(["", *prefix])


def _rank(route: CompiledRoute) -> int:
    """`route.key`, (priority, order), as one int in the same order (any priority; an
    order is a count of routes, far below 2**63 either way), for near misses to
    compare."""
    priority, order = route.key
    return (priority << 64) + order


def _conditional(route: CompiledRoute) -> bool:
    """Whether near misses must read `route`'s conditions or `times` (not a plain route)."""
    return route.conditions is not None or route.spec.times is not None


def _shape_of(prefix: tuple[str | None, ...]) -> tuple[int, tuple[int, ...]]:
    """The shape of a simple template's prefix: its size and parameters' places."""
    return len(prefix), tuple(i for i, segment in enumerate(prefix, 1) if segment is None)


def _last_key(prefix: tuple[str | None, ...]) -> str | None:
    """A simple template whose only parameter is its last segment: its path before the
    last '/' (`/svc1/items/{id}` -> `/svc1/items`, `/{id}` -> ``); else None."""
    if prefix[-1] is not None or None in prefix[:-1]:
        return None
    return "".join(f"/{segment}" for segment in prefix[:-1])


class _Node:
    """A trie node of the templates with a tail. Most nodes hold one kind of thing (a
    static child, the wildcard child or tails), so the others start as shared empty
    containers that are never written: a node gets its own on its first entry of that
    kind (fewer objects for the garbage collector to walk)."""

    __slots__ = ("static", "tails", "wild")

    def __init__(self) -> None:
        self.static: dict[str, _Node] = _NO_STATIC
        self.wild: _Node | None = None
        #: Tail regex source -> its group.
        self.tails: dict[str, _Group] = _NO_TAILS

    def static_child(self, segment: str) -> _Node:
        """The child under static `segment`, created when missing."""
        if self.static is _NO_STATIC:
            self.static = {}
        child = self.static.get(segment)
        if child is None:
            child = self.static[segment] = _Node()
        return child

    def own_tails(self) -> dict[str, _Group]:
        """The node's tail groups, its own (created on first use)."""
        if self.tails is _NO_TAILS:
            self.tails = {}
        return self.tails

    def empty(self) -> bool:
        return not (self.static or self.wild or self.tails)


#: The shared empty containers of `_Node` (never written).
_NO_STATIC: dict[str, _Node] = {}
_NO_TAILS: dict[str, _Group] = {}


#: One place the index found the path: its routes (sorted), the path segments where the
#: trie went through a parameter, in order, and the match of a tail or path_regex (None
#: elsewhere): what `PathPattern.params` reads a route's params from.
_Hit = tuple[_Routes, tuple[str, ...], Match | None]


def _first_key(hit: tuple[CompiledRoute, object, object]) -> tuple[int, int]:
    return hit[0].key


def _walk(root: _Node, path: str, out: list[_Hit]) -> None:
    """Add a hit for every tail in the trie that matches `path` (which starts with '/').

    Iterative: the walk follows one branch while it has one way on, and keeps the
    others (a segment that is both a static child and a parameter) on a stack. A node
    with tails matches them against the rest of the path in place, from the '/' before
    segment `i`, without slicing the path.
    """
    segments = path.split("/")
    end = len(segments)
    node, i = root, 1
    wild: tuple[str, ...] = ()
    stack: list[tuple[_Node, int, tuple[str, ...]]] = []
    while True:
        if node.tails:
            pos = sum(map(len, segments[:i])) + i - 1
            for tail in node.tails.values():
                found = tail.regex.fullmatch(path, pos)
                if found is not None:
                    out.append((tail.routes, wild, found))
        if i < end:
            segment = segments[i]
            i += 1
            child = node.static.get(segment)
            any_segment = node.wild
            if segment and any_segment is not None:
                if child is None:
                    node = any_segment
                    wild += (segment,)
                    continue
                stack.append((any_segment, i, (*wild, segment)))
            if child is not None:
                node = child
                continue
        if not stack:
            return
        node, i, wild = stack.pop()


class RouteTable:
    """The routes of one session, indexed by path."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Remove every route."""
        self._by_id: dict[str, CompiledRoute] = {}
        self._exact: dict[str, _Routes] = {}
        #: Simple templates whose only parameter is the last segment, by the path
        #: before it (`/svc1/items`): a path's `rpartition('/')` finds them.
        self._last: dict[str, _Routes] = {}
        #: Other simple templates: size -> its shapes, in the order first added;
        #: shape -> the shape.
        self._shapes: dict[int, list[_Shape]] = {}
        self._shape: dict[tuple[int, tuple[int, ...]], _Shape] = {}
        #: Templates with a tail, in the trie.
        self._root = _Node()
        self._templates = 0
        self._tailed = 0
        #: path_regex source -> its group; scanned on every lookup.
        self._regexes: dict[str, _Group] = {}
        #: Every route's path source, sorted, and in the same order (equal sources by
        #: route id) the routes, their path skeletons and their methods: near misses
        #: bisect the sources for lexicographic neighbours and slice the others.
        self._sources: list[str] = []
        self._by_source: _Routes = []
        self._skeletons: list[str] = []
        self._methods: list[str | None] = []
        self._keys: list[int] = []
        #: Routes by method (None: any), and how many have conditions or `times`: what
        #: a pool of neighbours needs to know of them, known here, not per request.
        self._method_counts: dict[str | None, int] = {}
        self._conditional = 0
        self._pools: dict[tuple[str, str], Pool] = {}
        #: (method, path) of misses seen once, whose pool was not kept: a path that
        #: misses once costs no pool kept and none evicted (emptied when full).
        self._missed: dict[tuple[str, str], None] = {}
        #: Path -> its hits, for tables with tails or regexes (whose lookups are a trie
        #: walk and regex matches); any change to the routes empties it, and so does
        #: filling it.
        self._hit_cache: dict[str, list[_Hit]] = {}
        #: Exact path with several routes -> its narrowing (None: no header narrows
        #: them, every route is a candidate), made when the path is first requested; a
        #: change to its routes drops it.
        self._narrowing: dict[str, _ByHeader | None] = {}

    # ------------------------------------------------------------------ mutation

    def add(self, route: CompiledRoute) -> None:
        """Add a route; ValueError if its id is taken (use `replace`)."""
        if route.id in self._by_id:
            raise ValueError(f"route {route.id!r} already exists")
        self._by_id[route.id] = route
        self._place(route)

    def remove(self, route_id: str) -> CompiledRoute:
        """Remove and return a route; KeyError if unknown."""
        route = self._by_id.pop(route_id)
        self._unplace(route)
        return route

    def replace(self, route: CompiledRoute) -> None:
        """Swap in a route with an existing id, keeping its place in iteration order."""
        old = self._by_id[route.id]
        self._unplace(old)
        self._by_id[route.id] = route
        self._place(route)

    def _place(self, route: CompiledRoute) -> None:
        self._pools.clear()
        self._hit_cache.clear()
        self._narrowing.pop(route.pattern.source, None)
        bucket = self._bucket(route.pattern)
        insort(bucket, route, key=_KEY)
        source = route.pattern.source
        at = self._source_place(source, route.id)
        self._sources.insert(at, source)
        self._by_source.insert(at, route)
        self._skeletons.insert(at, route.pattern.skeleton)
        self._methods.insert(at, route.method)
        self._keys.insert(at, _rank(route))
        counts = self._method_counts
        counts[route.method] = counts.get(route.method, 0) + 1
        self._conditional += _conditional(route)
        if route.pattern.kind == "template":
            self._templates += 1
            self._tailed += route.pattern.tail_source is not None

    def _unplace(self, route: CompiledRoute) -> None:
        self._pools.clear()
        self._hit_cache.clear()
        self._narrowing.pop(route.pattern.source, None)
        pattern = route.pattern
        bucket = self._bucket(pattern)
        bucket.remove(route)
        if pattern.kind == "template":
            self._templates -= 1
            self._tailed -= pattern.tail_source is not None
        at = self._source_place(pattern.source, route.id)
        del self._sources[at]
        del self._by_source[at]
        del self._skeletons[at]
        del self._methods[at]
        del self._keys[at]
        counts = self._method_counts
        counts[route.method] -= 1
        if not counts[route.method]:
            del counts[route.method]
        self._conditional -= _conditional(route)
        if bucket:
            return
        if pattern.kind == "exact":
            del self._exact[pattern.source]
        elif pattern.kind == "regex":
            del self._regexes[pattern.source]
        elif pattern.tail_source is None:
            self._drop_simple(pattern)
        else:
            self._prune(pattern)

    def _source_place(self, source: str, route_id: str) -> int:
        """Where (source, route_id) sits, or would, in `_sources` and `_by_source`."""
        sources = self._sources
        low = bisect_left(sources, source)
        high = bisect_right(sources, source, low)
        return bisect_left(self._by_source, route_id, low, high, key=_ID)

    def _bucket(self, pattern: PathPattern) -> _Routes:
        """The sorted list that holds routes with this pattern, created when missing."""
        if pattern.kind == "exact":
            return self._exact.setdefault(pattern.source, [])
        if pattern.kind == "regex":
            return self._group(self._regexes, pattern).routes
        if pattern.tail_source is None:
            last = _last_key(pattern.prefix)
            if last is not None:
                return self._last.setdefault(last, [])
            shape_id = _shape_of(pattern.prefix)
            shape = self._shape.get(shape_id)
            if shape is None:
                shape = self._shape[shape_id] = _Shape(*shape_id)
                self._shapes.setdefault(shape.size, []).append(shape)
            return shape.routes.setdefault(shape.key(pattern.prefix), [])
        node = self._root
        for segment in pattern.prefix:
            if segment is None:
                if node.wild is None:
                    node.wild = _Node()
                node = node.wild
            else:
                node = node.static_child(segment)
        return self._group(node.own_tails(), pattern).routes

    @staticmethod
    def _group(groups: dict[str, _Group], pattern: PathPattern) -> _Group:
        source = pattern.source if pattern.kind == "regex" else pattern.tail_source
        assert source is not None
        group = groups.get(source)
        if group is None:
            group = groups[source] = _Group(pattern)
        return group

    def _drop_simple(self, pattern: PathPattern) -> None:
        """Drop a simple template's emptied routes list, and its shape when emptied."""
        last = _last_key(pattern.prefix)
        if last is not None:
            del self._last[last]
            return
        shape_id = _shape_of(pattern.prefix)
        shape = self._shape[shape_id]
        del shape.routes[shape.key(pattern.prefix)]
        if not shape.routes:
            del self._shape[shape_id]
            same_size = self._shapes[shape.size]
            same_size.remove(shape)
            if not same_size:
                del self._shapes[shape.size]

    def _prune(self, pattern: PathPattern) -> None:
        """Drop an emptied tail group and the trie nodes left without tails."""
        trail: list[tuple[_Node, str | None]] = []
        node = self._root
        for segment in pattern.prefix:
            trail.append((node, segment))
            child = node.wild if segment is None else node.static[segment]
            assert child is not None
            node = child
        assert pattern.tail_source is not None  # a simple template is in no trie
        del node.tails[pattern.tail_source]
        for parent, segment in reversed(trail):
            if not node.empty():
                break
            if segment is None:
                parent.wild = None
            else:
                del parent.static[segment]
            node = parent

    # ------------------------------------------------------------------ reading

    def get(self, route_id: str) -> CompiledRoute | None:
        """The route with this id, or None."""
        return self._by_id.get(route_id)

    def __iter__(self) -> Iterator[CompiledRoute]:
        """Routes in insertion order (a replaced route keeps its place)."""
        # A snapshot, so a caller may remove routes while iterating.
        return iter(list(self._by_id.values()))

    def __len__(self) -> int:
        return len(self._by_id)

    def _hits(self, path: str) -> list[_Hit]:
        """One hit per index entry whose pattern matches `path`."""
        out: list[_Hit] = []
        exact = self._exact.get(path)
        if exact is not None:
            out.append((exact, (), None))
        if self._last:
            head, slash, segment = path.rpartition("/")
            routes = self._last.get(head)
            if routes is not None and segment and slash:
                out.append((routes, (segment,), None))
        if self._shapes:
            segments = path.split("/")
            for shape in self._shapes.get(len(segments) - 1, ()):
                routes = shape.routes.get(shape.pick_key(segments))
                if routes is not None:
                    wild = shape.pick_wild(segments)
                    if shape.one:
                        if wild:
                            out.append((routes, (wild,), None))
                    elif "" not in wild:
                        out.append((routes, wild, None))
        if self._tailed and path.startswith("/"):
            _walk(self._root, path, out)
        if self._regexes:
            for group in self._regexes.values():
                found = group.regex.fullmatch(path)
                if found is not None:
                    out.append((group.routes, (), found))
        return out

    def find(self, view: RequestView) -> tuple[CompiledRoute, dict[str, str]] | None:
        """The winning route and its path params, or None; does not touch `remaining`.

        The index has matched the path: each candidate is asked only the rest
        (`CompiledRoute.accepts`), and the winner's params come from what the index
        read (`PathPattern.params`), not from matching the path again. What the index
        read for a path in a table with tails or regexes is kept for the next request to
        it (up to `_HIT_CACHE` paths, until a route changes): a trie walk costs five
        times a dict lookup. Simple templates are not kept: their shapes' lookups cost
        less than keeping them would (`benchmarks/README.md`).
        """
        if not self._templates and not self._regexes:
            # The common all-exact table: one dict lookup.
            candidates = self._exact.get(view.path)
            if candidates is not None:
                if len(candidates) > 1:
                    try:
                        narrow = self._narrowing[view.path]
                    except KeyError:  # the first request since the path's routes changed
                        narrow = self._narrowing[view.path] = _ByHeader.build(candidates)
                    if narrow is not None:
                        # `_ByHeader`'s pick, inlined: no call on the hot path.
                        values = view.headers.getall(narrow.name, ())
                        if len(values) == 1:
                            picked = narrow.by_value.get(values[0])
                            if picked is None:
                                candidates = narrow.others
                            else:
                                candidates, view.known_header = picked
                        else:
                            candidates = narrow.all if values else narrow.others
                for route in candidates:
                    if route.accepts(view):
                        return route, NO_PARAMS
            return None
        path = view.path
        if not (self._shapes or self._tailed or self._regexes):
            # Exact paths and templates whose only parameter is the last segment: two
            # dict lookups (`_hits`'s first two), cheaper than keeping what they found.
            head, slash, segment = path.rpartition("/")
            routes = self._last.get(head) if segment and slash else None
            exact = self._exact.get(path) if self._exact else None
            if exact is None:
                if routes is not None:
                    for route in routes:
                        if route.accepts(view):
                            # Its one parameter is the last segment: `params`, inlined.
                            name = route.pattern.one_name
                            assert name is not None
                            return route, {name: segment}
                return None
            if routes is None:
                for route in exact:
                    if route.accepts(view):
                        return route, NO_PARAMS
                return None
            hits = self._hits(path)
        else:
            kept = self._hit_cache.get(path)
            if kept is None:
                kept = self._hits(path)
                if len(path) <= _CACHED_PATH:
                    if len(self._hit_cache) >= _HIT_CACHE:
                        self._hit_cache.clear()
                    self._hit_cache[path] = kept
            hits = kept
        if len(hits) == 1:
            routes, wild, found = hits[0]
            for route in routes:
                if route.accepts(view):
                    return route, route.pattern.params(wild, found)
            return None
        merged = sorted(
            ((route, wild, found) for routes, wild, found in hits for route in routes),
            key=_first_key,
        )
        for route, wild, found in merged:
            if route.accepts(view):
                return route, route.pattern.params(wild, found)
        return None

    def near_misses(self, view: RequestView, limit: int = 3) -> list[wire.NearMiss]:
        """The routes closest to matching `view`, closest first, at most `limit`.

        Examines a small pool, never every route of a large table: routes whose path
        matches (those with the request's method first, at most 100), the routes whose
        path sources sort next to the request path, and every route of a table of 50
        or fewer. A method and path that miss a second time keep their pool, with what
        it knows of the path, for the misses after (the last 64, until the routes
        change); one that misses once is only noted, so a new path each request keeps
        and evicts no pool.
        """
        signature = (view.method, view.path)
        pool = self._pools.get(signature)
        if pool is None:
            pool = self._pool(view, self._hits(view.path))
            missed = self._missed
            if signature in missed:
                if len(self._pools) >= _POOLS:
                    del self._pools[next(iter(self._pools))]
                self._pools[signature] = pool
            else:
                if len(missed) >= _MISSED:
                    missed.clear()
                missed[signature] = None
        return pool.rank(view, limit)

    def _near(self, path: str) -> tuple[int, int]:
        """Where the routes whose sources sort next to `path` start and stop."""
        at = bisect_left(self._sources, path)
        return max(0, at - _NEIGHBOURS), at + _NEIGHBOURS

    def _pool(self, view: RequestView, hits: list[_Hit]) -> Pool:
        large = len(self._by_id) > _SMALL_TABLE
        if large and not hits:  # the neighbours alone, each route once
            start, stop = self._near(view.path)
            columns = (self._by_source, self._skeletons, self._methods, self._keys)
            kinds, plain = self._method_counts, not self._conditional
            return Pool.neighbours(view.method, view.path, columns, start, stop, kinds, plain)
        matching = {route.id for routes, _, _ in hits for route in routes}
        if not large:
            return Pool(view.method, view.path, self._by_id.values(), matching)
        neighbours = self._by_source[slice(*self._near(view.path))]
        pool: dict[str, CompiledRoute] = {}
        same_method: _Routes = []
        other_method: _Routes = []
        for routes, _, _ in hits:
            for route in routes:
                same = route.method is None or route.method == view.method
                (same_method if same else other_method).append(route)
        for route in chain(same_method, other_method):
            if len(pool) >= _PATH_POOL:
                break
            pool[route.id] = route
        for route in neighbours:
            pool[route.id] = route
        return Pool(view.method, view.path, pool.values(), matching)
