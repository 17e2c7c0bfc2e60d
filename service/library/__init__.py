"""The answer library: what reviewers approved becomes knowledge the next draft can cite.

Public surface: `learn(session, item, user)`, `unlearn(session, item)`.
"""

from service.library.learning import learn, unlearn

__all__ = ["learn", "unlearn"]
