"""The request context: who is asking."""


class RequestContext:
    """Caller identity handed to every catalog call.

    ``owner`` is the project the caller acts for; ``is_admin`` lifts the
    visibility and mutability rules.
    """

    def __init__(self, project_id=None, is_admin=False, user_id=None,
                 roles=None, read_only=False):
        self.project_id = project_id
        self.is_admin = bool(is_admin)
        self.user_id = user_id
        self.roles = list(roles or [])
        self.read_only = read_only

    @property
    def owner(self):
        return self.project_id

    def __repr__(self):
        return 'RequestContext(project_id=%r, is_admin=%r)' % (
            self.project_id, self.is_admin)
