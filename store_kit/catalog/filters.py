"""Listing: filters, sort keys and keyset pagination over ``images``.

Keyset pagination compares the sort-key tuple of each row with the marker
row's. NULLs sort last in ascending and first in descending order: a nullable
key ``k`` is compared as the pair ``(k IS NULL, k)``, so the marker condition
stays exact with NULLs and no row is skipped or repeated. ``id`` is always the
last key, which makes the order total.
"""

import datetime

import sqlalchemy as sa

from store_kit import exceptions
from store_kit.catalog import models, values as checks
from store_kit.catalog.properties import property_items, tag_values

images = models.images

EQ_COLUMNS = ('id', 'name', 'status', 'visibility', 'owner', 'checksum',
              'os_hash_algo', 'os_hash_value', 'disk_format', 'container_format')
BOOL_COLUMNS = ('os_hidden', 'protected')
NUMERIC_COLUMNS = ('size', 'virtual_size', 'min_disk', 'min_ram')
TIME_COLUMNS = ('created_at', 'updated_at')
SORT_KEYS = EQ_COLUMNS + BOOL_COLUMNS + NUMERIC_COLUMNS + TIME_COLUMNS
#: operators of the time filters, and of the equality filters (as glance's API)
TIME_OPERATORS = {'gt': '__gt__', 'gte': '__ge__', 'lt': '__lt__',
                  'lte': '__le__', 'eq': '__eq__', 'neq': '__ne__'}
EQ_OPERATORS = ('eq', 'in')
OPERATORS = tuple(TIME_OPERATORS) + ('in',)
#: columns of the *_min / *_max filters, with the bounds of their column type
RANGE_COLUMNS = {'size': checks.BIGINT, 'virtual_size': checks.BIGINT,
                 'min_disk': checks.INTEGER, 'min_ram': checks.INTEGER}
#: filters handled by the caller of :func:`filter_clauses`
SPECIAL = ('deleted', 'changes-since', 'properties', 'tags')


def parse_bool(name, value):
    """Accept real booleans, 0/1 and the usual strings."""
    if isinstance(value, bool):
        return value
    text = value.strip().lower() if isinstance(value, str) else (
        str(value) if isinstance(value, int) and value in (0, 1) else None)
    if text in ('true', '1', 'yes', 'on'):
        return True
    if text in ('false', '0', 'no', 'off'):
        return False
    raise exceptions.Invalid('filter %s: %s is not a boolean' % (name, checks.shown(value)))


def parse_time(name, value):
    """An ISO 8601 timestamp (aware ones are converted to naive UTC)."""
    if isinstance(value, datetime.datetime):
        ts = value
    else:
        text = checks.text('filter %s' % name, value)
        try:
            ts = datetime.datetime.fromisoformat(text.strip().replace('Z', '+00:00'))
        except ValueError:
            raise exceptions.InvalidFilterValue('filter %s: %s is not an ISO 8601 time'
                                                % (name, checks.shown(value))) from None
    return checks.timestamp('filter %s' % name, ts)


def parse_int(field, value, low=checks.BIGINT[0], high=checks.BIGINT[1]):
    """An integer (or its decimal string) within ``[low, high]``."""
    if isinstance(value, str) and len(value) <= 40:
        try:
            value = int(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, int):
        raise exceptions.Invalid('%s: %s is not an integer' % (field, checks.shown(value)))
    return checks.integer(field, value, low, high)


def _looks_like_time(text):
    """True if ``text`` as a whole is an ISO 8601 time (it has colons of its own)."""
    try:
        datetime.datetime.fromisoformat(text.strip().replace('Z', '+00:00'))
    except ValueError:
        return False
    return True


def split_operator(name, value, accepted):
    """``(operator, operand)`` of a filter string ``'op:operand'``.

    No colon means ``eq``. As in glance's API, a value that is an ISO 8601
    time as a whole is an ``eq`` operand; any other ``word:`` prefix must be
    an operator ``accepted`` by this filter (InvalidFilterOperator naming the
    filter and the value otherwise: write ``eq:a:b`` for the value ``a:b``).
    """
    head, sep, rest = value.partition(':')
    if not sep:
        return 'eq', value
    if head in accepted:
        return head, rest
    if _looks_like_time(value):
        return 'eq', value
    if head in OPERATORS:
        what = 'operator %s (in %s) is not accepted' % (checks.shown(head), checks.shown(value))
    else:
        what = 'unknown operator %s in %s' % (checks.shown(head), checks.shown(value))
    raise exceptions.InvalidFilterOperator(
        'filter %s: %s (use %s; eq:VALUE for a value with a colon)'
        % (name, what, ', '.join(o + ':' for o in accepted)))


def split_list(name, text):
    """The values of an ``in:`` list, as glance's API splits them.

    Values are separated by commas; a value in double quotes may hold
    commas. A quote preceded by a backslash is an ordinary character, and
    the backslash stays in the value (glance does not unescape). An opening
    quote must start a value, a closing one end it, and every quote must be
    closed; a trailing comma is ignored; an empty list is refused. Each
    refusal is InvalidFilterValue naming the filter and the value.
    """
    def bad(why):
        return exceptions.InvalidFilterValue('filter %s: malformed in: list %s (%s)'
                                             % (name, checks.shown('in:' + text), why))
    if not text:
        raise bad('no value')
    found, i, n = [], 0, len(text)
    while i < n:
        if text[i] == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == '\\' else 1
            if j >= n:
                raise bad('a quotation mark is not closed')
            if j + 1 < n and text[j + 1] != ',':
                raise bad('no comma after a closing quotation mark')
            found.append(text[i + 1:j])
            i = j + 2
            continue
        end = text.find(',', i)
        end = n if end < 0 else end
        item = text[i:end]
        if any(c == '"' and item[k - 1] != '\\' for k, c in enumerate(item) if k):
            raise bad('no comma before an opening quotation mark')
        found.append(item)
        i = end + 1
    return found


def _text(name, value):
    return checks.text('filter %s' % name, value)


def _checksum(name, value):
    return checks.checksum('filter %s' % name, value)


def _column_filter(name, value, parse):
    """Equality or IN: a list is taken as the values; a string may be
    ``eq:VALUE`` or ``in:A,"B,C"`` (see :func:`split_operator`)."""
    col = images.c[name]
    if value is None:
        return col.is_(None)
    if isinstance(value, (list, tuple, set, frozenset)):
        return col.in_([parse(name, v) for v in value])
    if isinstance(value, str):
        op, value = split_operator(name, value, EQ_OPERATORS)
        if op == 'in':
            return col.in_([parse(name, v) for v in split_list(name, value)])
    return col == parse(name, value)


def _time_filter(name, value):
    col = images.c[name]
    clauses = []
    for item in value if isinstance(value, (list, tuple)) else [value]:
        op = 'eq'
        if isinstance(item, str):
            op, item = split_operator(name, item, tuple(TIME_OPERATORS))
        clauses.append(getattr(col, TIME_OPERATORS[op])(parse_time(name, item)))
    return sa.and_(sa.true(), *clauses)


def _range_bound(name, value):
    """The integer bound of a ``*_min``/``*_max`` filter, within its column's range."""
    low, high = RANGE_COLUMNS[name[:-4]]
    try:
        return parse_int('filter %s' % name, value, low, high)
    except exceptions.Invalid as err:
        raise exceptions.InvalidFilterRange(str(err)) from None


def _range_clauses(filters):
    """Clauses of the range filters; InvalidFilterRange if a min is above its max."""
    bounds = {name: _range_bound(name, value) for name, value in filters.items()
              if isinstance(name, str) and name.endswith(('_min', '_max'))
              and name[:-4] in RANGE_COLUMNS}
    clauses = []
    for name, bound in bounds.items():
        col = images.c[name[:-4]]
        if name.endswith('_min'):
            high = bounds.get(name[:-4] + '_max')
            if high is not None and bound > high:
                raise exceptions.InvalidFilterRange(
                    'filter %s %d is above %s_max %d' % (name, bound, name[:-4], high))
            clauses.append(col >= bound)
        else:
            clauses.append(col <= bound)
    return clauses


#: A property or tag filter matching at least this many images is "dense".
DENSE = 1000


def _child_conditions(table, **eq):
    cond = [table.c.deleted == sa.false()]
    return cond + [table.c[k] == v for k, v in eq.items()]


def _child_exists(table, per_row, **eq):
    query = sa.select(sa.literal(1)).where(table.c.image_id == images.c.id,
                                           *_child_conditions(table, **eq))
    if per_row:
        # OFFSET keeps PostgreSQL and MariaDB from turning the test into a
        # semi-join driven from the child table: the images are then read in
        # sort order and the scan stops after `limit` matches.
        query = query.limit(1).offset(0)
    return query.exists()


def child_filters(filters):
    """The (table, conditions) of each property and tag filter (checked ones)."""
    found = []
    for key, val in ((filters or {}).get('properties') or {}).items():
        found.append((models.properties, {'name': key, 'value': val}))
    for tag in (filters or {}).get('tags') or []:
        found.append((models.tags, {'value': tag}))
    return found


def checked(filters):
    """``filters`` with every value checked (Invalid naming it) and property
    and tag filters normalised; :func:`filter_clauses` then builds from it."""
    filters = dict(filters)
    if filters.get('properties') is not None:
        filters['properties'] = property_items(
            checks.mapping('filter properties', filters['properties']), 'filter property')
    if filters.get('tags') is not None:
        filters['tags'] = tag_values(filters['tags'], 'filter tag')
    filter_clauses(filters)
    if 'deleted' in filters:
        deleted_clause(filters)
    return filters


def all_dense(conn, filters):
    """True if every property/tag filter matches many images (bounded counts).

    Then reading images in sort order and testing each is cheapest; with a
    sparse filter, starting from its index is.
    """
    children = child_filters(filters)
    if not children:
        return False
    for table, eq in children:
        # an upper bound (deleted rows counted): index-only, no row visits
        sample = sa.select(sa.literal(1)).where(*[table.c[k] == v for k, v in eq.items()]) \
            .limit(DENSE).subquery()
        if conn.execute(sa.select(sa.func.count()).select_from(sample)).scalar() < DENSE:
            return False
    return True


def filter_clauses(filters, per_row=False):
    """SQL clauses for every filter except visibility and ``deleted``.

    ``per_row``: test property and tag filters row by row (see all_dense).
    """
    clauses = []
    for name, value in (filters or {}).items():
        if not isinstance(name, str):
            raise exceptions.Invalid('unknown filter %s' % (checks.shown(name),))
        if name == 'checksum':
            clauses.append(_column_filter(name, value, _checksum))
        elif name in EQ_COLUMNS:
            clauses.append(_column_filter(name, value, _text))
        elif name in BOOL_COLUMNS:
            clauses.append(_column_filter(name, value, parse_bool))
        elif name in TIME_COLUMNS:
            clauses.append(_time_filter(name, value))
        elif name.endswith(('_min', '_max')) and name[:-4] in RANGE_COLUMNS:
            continue                    # _range_clauses
        elif name == 'changes-since':
            clauses.append(images.c.updated_at >= parse_time(name, value))
        elif name in ('properties', 'tags', 'deleted'):
            continue
        else:
            raise exceptions.Invalid('unknown filter %s' % (checks.shown(name),))
    clauses += _range_clauses(filters or {})
    for table, eq in child_filters(filters):
        clauses.append(_child_exists(table, per_row, **eq))
    return clauses


def deleted_clause(filters):
    """Deleted images are hidden unless ``deleted`` or ``changes-since`` is given."""
    filters = filters or {}
    if 'deleted' in filters:
        if filters['deleted'] is None or filters['deleted'] == 'all':
            return None
        return images.c.deleted == parse_bool('deleted', filters['deleted'])
    if 'changes-since' in filters:
        return None
    return images.c.deleted == sa.false()


def sort_spec(sort_key=None, sort_dir=None):
    """Normalise sort keys and directions; ``id`` ends every order."""
    keys = _names('sort_key', sort_key, exceptions.InvalidSortKey) or ['created_at']
    dirs = _names('sort_dir', sort_dir, exceptions.InvalidSortDir)
    for key in keys:
        if key not in SORT_KEYS:
            raise exceptions.InvalidSortKey(
                'unknown sort key %s (known: %s)' % (checks.shown(key), ', '.join(SORT_KEYS)))
    if not dirs:
        dirs = ['desc'] * len(keys)
    elif len(dirs) == 1:
        dirs = dirs * len(keys)
    elif len(dirs) != len(keys):
        raise exceptions.InvalidSortDir(
            'sort_dir %s does not match sort_key %s' % (', '.join(dirs), ', '.join(keys)))
    for d in dirs:
        if d not in ('asc', 'desc'):
            raise exceptions.InvalidSortDir(
                'unknown sort direction %s (asc or desc)' % (checks.shown(d),))
    spec = list(zip(keys, dirs))
    if 'id' not in keys:
        spec.append(('id', dirs[0]))
    return spec


def _names(what, value, error):
    """A sort_key/sort_dir argument (None, one name or a list) as a list."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise error('%s must be a name or a list of names, not %s' % (what, checks.shown(value)))
    return list(value)


def _components(spec, non_null=()):
    """Expand the spec into (expression, direction, key, is_null_flag) parts.

    Keys in ``non_null`` are known to hold no NULL in the rows concerned.
    """
    parts = []
    for key, direction in spec:
        col = images.c[key]
        if col.nullable and key not in non_null:
            flag = sa.case((col.is_(None), 1), else_=0)
            parts.append((flag, direction, key, True))
        parts.append((col, direction, key, False))
    return parts


def order_by(spec, native_nulls=False, non_null=()):
    """ORDER BY clauses for ``spec`` (NULLs last ascending, first descending).

    ``native_nulls``: the engine already sorts NULLs that way (PostgreSQL),
    so plain column order is used and indexes can serve it.
    """
    return [expr.asc() if d == 'asc' else expr.desc()
            for expr, d, _key, is_flag in _components(spec, non_null)
            if not (native_nulls and is_flag)]


def plan(spec, marker_row=None, native_nulls=False):
    """The listing as queries run in turn: a list of (conditions, order_by).

    One query, unless the leading sort key is nullable on an engine that sorts
    NULLs first (SQLite, MariaDB): then the non-NULL and the NULL rows are two
    queries, each in an order its index can serve, instead of one query that
    must sort every matching row.
    """
    key, direction = spec[0]
    col = images.c[key]
    if native_nulls or not col.nullable:
        conds = [] if marker_row is None else [after_marker(spec, marker_row)]
        return [(conds, order_by(spec, native_nulls))]
    not_null = ([col.isnot(None)], spec, (key,))
    null = ([col.is_(None)], spec[1:], ())
    parts = [not_null, null] if direction == 'asc' else [null, not_null]
    if marker_row is not None:
        parts = parts[parts.index(null if marker_row[key] is None else not_null):]
    queries = []
    for conds, sub_spec, known in parts:
        conds = list(conds)
        if marker_row is not None and not queries:
            conds.append(after_marker(sub_spec, marker_row, known))
        queries.append((conds, order_by(sub_spec, non_null=known)))
    return queries


def after_marker(spec, marker_row, non_null=()):
    """Rows strictly after ``marker_row`` (a mapping of the sort keys)."""
    ors = []
    equal = []
    for expr, direction, key, is_flag in _components(spec, non_null):
        value = marker_row[key]
        if is_flag:
            value = 1 if value is None else 0
            after = expr > value if direction == 'asc' else expr < value
            same = expr == value
        elif value is None:
            after = None                 # nothing sorts after NULL within NULLs
            same = expr.is_(None)
        else:
            after = expr > value if direction == 'asc' else expr < value
            same = expr == value
        if after is not None:
            ors.append(sa.and_(*equal, after))
        equal.append(same)
    if not ors:
        return sa.false()
    clause = sa.or_(*ors)
    first_key, first_dir = spec[0]
    if not images.c[first_key].nullable or first_key in non_null:
        # Redundant bound on the leading key: lets the index range scan
        # start at the marker instead of filtering from the top.
        col, value = images.c[first_key], marker_row[first_key]
        clause = sa.and_(col >= value if first_dir == 'asc' else col <= value, clause)
    return clause
