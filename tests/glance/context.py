"""A keystone-free request context for the glance under test.

The project and roles come from ``X-Project-Id`` and ``X-Roles`` (default:
project ``admin`` with the admin role), so a test can act as another
project; nothing is authenticated.  Loaded by glance's paste pipeline.
"""

import glance.context
from glance.api.middleware import context as context_mw


class HeaderContext(context_mw.BaseContextMiddleware):
    """Build glance's RequestContext from two plain headers."""

    def process_request(self, req):
        project = req.headers.get('X-Project-Id') or 'admin'
        roles = [r.strip() for r in
                 (req.headers.get('X-Roles') or 'admin,member,reader').split(',')
                 if r.strip()]
        req.context = glance.context.RequestContext(
            user_id='user-%s' % project, project_id=project, roles=roles,
            is_admin='admin' in roles)
