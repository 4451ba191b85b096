"""The JSON API's schemas, one module per resource; OpenAPI is published from the same declarations.

Importing the package installs marshmallow's error messages in Chinese (`base`) before any schema is used.
"""

from portal.api.schemas import base as base
