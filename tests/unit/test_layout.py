"""The package's layering (DESIGN, "Layout"): no import cycles, no upward imports.

Every import in a module counts, at its top or inside a function.
``from package import submodule`` is an edge to the submodule only.
"""

import ast
import os

import store_kit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(store_kit.__file__)))
#: the modules everything else builds on
FOUNDATION = {'exceptions', 'context', 'config', 'ops_config', 'location', 'driver',
              'resolver', 'leases'}
#: the operations and the image service, over the catalog and the registry
OPERATIONS = {'images', 'scrubber', 'backfill', 'check', 'copy', 'demo',
              'compat', 'registry'}


def _modules():
    found = {}
    for folder, _, files in os.walk(os.path.join(ROOT, 'store_kit')):
        for name in files:
            if name.endswith('.py'):
                path = os.path.join(folder, name)
                dotted = os.path.relpath(path, ROOT)[:-3].replace(os.sep, '.')
                found[dotted[:-len('.__init__')] if dotted.endswith('.__init__')
                      else dotted] = path
    return found


def _imports(modules):
    graph = {}
    for dotted, path in modules.items():
        package = dotted if path.endswith('__init__.py') else dotted.rpartition('.')[0]
        targets = set()
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ''
                if node.level:
                    parts = package.split('.')[:len(package.split('.')) - node.level + 1]
                    base = '.'.join(parts + ([base] if base else []))
                subs = ['%s.%s' % (base, alias.name) for alias in node.names]
                names = subs if all(s in modules for s in subs) else [base] + subs
            else:
                continue
            for name in names:
                while name and name not in modules:
                    name = name.rpartition('.')[0]
                if name and name != dotted:
                    targets.add(name)
        graph[dotted] = targets
    return graph


GRAPH = _imports(_modules())


def _part(dotted):
    """'catalog' for store_kit.catalog.api, 'images' for store_kit.images."""
    parts = dotted.split('.')
    return parts[1] if len(parts) > 1 else ''


def _cycles(graph):
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def _edges(source_rule, target_rule):
    return sorted('%s -> %s' % (src, dst) for src, targets in GRAPH.items()
                  for dst in targets if source_rule(src) and target_rule(dst))


def test_the_graph_sees_the_package():
    assert len(GRAPH) > 40
    assert 'store_kit.catalog.rows' in GRAPH['store_kit.images']
    assert any(_part(d) == 'glance' for d in GRAPH['store_kit.cli.glance'])


def test_there_is_no_import_cycle():
    assert _cycles(GRAPH) == []


def test_only_the_cli_and_the_glance_bridge_import_the_glance_bridge():
    assert _edges(lambda s: _part(s) not in ('glance', 'cli'),
                  lambda d: _part(d) == 'glance') == []


def test_nothing_outside_the_cli_imports_it():
    assert _edges(lambda s: _part(s) != 'cli', lambda d: _part(d) == 'cli') == []


def test_the_catalog_imports_no_operation():
    assert _edges(lambda s: _part(s) == 'catalog',
                  lambda d: _part(d) in OPERATIONS | {'drivers'}) == []


def test_drivers_import_only_the_foundation():
    assert _edges(lambda s: _part(s) == 'drivers',
                  lambda d: _part(d) not in FOUNDATION | {'drivers'}) == []


def test_the_foundation_imports_only_the_foundation():
    assert _edges(lambda s: _part(s) in FOUNDATION,
                  lambda d: d != 'store_kit' and _part(d) not in FOUNDATION) == []
